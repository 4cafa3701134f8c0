"""static_defense: boundaries and behaviour."""
from tests.builders import actions, alerts, policy, run, sec


def test_static_drop_rule():
    pol = policy("static_defense:\n  - {name: bad, source: 203.0.113.0/24, action: drop}")
    out = run([sec(ip="203.0.113.50", outcome="request")], pol)
    assert alerts(out, "static_defense") and actions(out, "block_ip")[0].duration_s is None
    assert not alerts(run([sec(ip="198.51.100.50", outcome="request")], pol), "static_defense")
