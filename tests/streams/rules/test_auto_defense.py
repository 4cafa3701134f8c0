"""auto_defense: boundaries and behaviour."""
import pytest
from tests.builders import alerts, policy, run, sec


@pytest.mark.parametrize("n,fires", [(40, False), (41, True)])
def test_auto_defense_sip_udp_40_per_2s(n, fires):
    out = run([sec(t=i * 0.04, outcome="request", protocol="udp", action="options") for i in range(n)])
    assert bool(alerts(out, "auto_defense")) is fires

@pytest.mark.parametrize("n,fires", [(10, False), (11, True)])
def test_auto_defense_ssh_10_per_60s(n, fires):
    out = run([sec(t=i * 5, service="ssh", protocol="tcp", outcome="request") for i in range(n)])
    assert bool(alerts(out, "auto_defense")) is fires

def test_custom_auto_defense_rule():
    pol = policy("auto_defense:\n  - {name: linkus, service: app, packets: 3, seconds: 10}")
    assert alerts(run([sec(t=i, service="app", outcome="request") for i in range(4)], pol), "auto_defense")
    assert not alerts(run([sec(t=i, service="app", outcome="request") for i in range(3)], pol), "auto_defense")
