"""user_agent_restriction: boundaries and behaviour."""
from tests.builders import actions, alerts, policy, reg, run


def test_user_agent_restriction():
    pol = policy("extensions:\n  '1001': {user_agents: [Yealink, Grandstream]}")
    assert not alerts(run([reg(ua="yealink SIP-T54W")], pol), "user_agent_restriction")
    out = run([reg(ua="Zoiper rv2.10", ip="203.0.113.9")], pol)
    assert alerts(out, "user_agent_restriction") and actions(out, "block_ip")[0].target == "203.0.113.9"
    assert not alerts(run([reg(ua="Zoiper", account="1002")], pol), "user_agent_restriction")
