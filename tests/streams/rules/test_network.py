"""auto_defense, static_defense, country_ip, global_blocklist, scanner_user_agent."""
import pytest
from tests.builders import actions, alerts, policy, run, sec


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


def test_static_drop_rule():
    pol = policy("static_defense:\n  - {name: bad, source: 203.0.113.0/24, action: drop}")
    out = run([sec(ip="203.0.113.50", outcome="request")], pol)
    assert alerts(out, "static_defense") and actions(out, "block_ip")[0].duration_s is None
    assert not alerts(run([sec(ip="198.51.100.50", outcome="request")], pol), "static_defense")


def test_country_ip_off_until_enabled():
    assert not alerts(run([sec(ip="8.8.8.8", outcome="request")]), "country_ip")


def test_country_ip():
    pol = policy("allowed_country_ips: [GB]")
    out = run([sec(ip="8.8.8.8", outcome="request")], pol)  # US
    assert alerts(out, "country_ip")[0].evidence["country"] == "US"
    assert not alerts(run([sec(ip="10.1.2.3", outcome="request")], pol), "country_ip")


def test_global_blocklist_shares_a_block_across_tenants():
    evs = [sec(t=i, action="register", account="1001", outcome="failure", tenant="acme") for i in range(10)]
    evs.append(sec(t=20, outcome="request", tenant="globex"))
    evs.append(sec(t=21, outcome="request", tenant="globex"))
    out = run(evs)
    g = alerts(out, "global_blocklist")
    assert len(g) == 1 and g[0].tenant == "globex" and g[0].evidence["blocked_by"] == ["acme"]
    assert [a.tenant for a in actions(out, "block_ip")] == ["acme", "globex"]


def test_global_blocklist_quiet_after_block_expires():
    evs = [sec(t=i, action="register", account="1001", outcome="failure", tenant="acme") for i in range(10)]
    evs.append(sec(t=1000, outcome="request", tenant="globex"))
    assert not alerts(run(evs), "global_blocklist")


@pytest.mark.parametrize("ua,fires", [("friendly-scanner", True), ("sipvicious 0.3", True), ("SIPCLI/v1.8", True),
                                      ("Yealink SIP-T46S 66.86.0.15", False), (None, False)])
def test_scanner_user_agent(ua, fires):
    out = run([sec(outcome="request", user_agent=ua)] if ua else [sec(outcome="request")])
    assert bool(alerts(out, "scanner_user_agent")) is fires
