"""user_agent_restriction, registration_ip_restriction, remote_registration, concurrent_registrations."""
import pytest
from tests.builders import actions, alerts, policy, run, sec


def reg(t=0, ip="10.0.0.20", account="1001", ua="Yealink SIP-T46S", contact=None, outcome="success"):
    ev = sec(t=t, ip=ip, action="register", account=account, outcome=outcome, user_agent=ua)
    if contact:
        ev["contact"] = contact
    return ev


def test_user_agent_restriction():
    pol = policy("extensions:\n  '1001': {user_agents: [Yealink, Grandstream]}")
    assert not alerts(run([reg(ua="yealink SIP-T54W")], pol), "user_agent_restriction")
    out = run([reg(ua="Zoiper rv2.10", ip="203.0.113.9")], pol)
    assert alerts(out, "user_agent_restriction") and actions(out, "block_ip")[0].target == "203.0.113.9"
    assert not alerts(run([reg(ua="Zoiper", account="1002")], pol), "user_agent_restriction")


def test_registration_ip_restriction():
    pol = policy("extensions:\n  '1001': {permitted_ips: [116.117.129.245/32, 10.0.0.0/24]}")
    assert not alerts(run([reg(ip="116.117.129.245")], pol), "registration_ip_restriction")
    assert not alerts(run([reg(ip="10.0.0.99")], pol), "registration_ip_restriction")
    assert alerts(run([reg(ip="116.117.129.246")], pol), "registration_ip_restriction")


def test_remote_registration_flag_and_lists():
    pol = policy("extensions:\n  '1001': {remote_registration: false}")
    assert alerts(run([reg(ip="203.0.113.9")], pol), "remote_registration")
    assert not alerts(run([reg(ip="192.168.0.10")], pol), "remote_registration")
    allowed = policy("remote_registration: {access: allowed, accounts: ['1002']}")
    assert alerts(run([reg(ip="203.0.113.9")], allowed), "remote_registration")
    assert not alerts(run([reg(ip="203.0.113.9", account="1002")], allowed), "remote_registration")
    ips = policy("remote_registration: {access: restricted, accounts: [], permitted_ips: [110.77.35.0/24]}")
    assert not alerts(run([reg(ip="110.77.35.10")], ips), "remote_registration")
    assert alerts(run([reg(ip="110.77.36.10")], ips), "remote_registration")


def test_concurrent_registrations_default_one_device():
    same = [reg(t=i * 300, contact="sip:1001@10.0.0.20:5060") for i in range(5)]
    assert not alerts(run(same), "concurrent_registrations")
    hijack = same + [reg(t=2000, ip="185.1.2.3", ua="Zoiper", contact="sip:1001@185.1.2.3:5060")]
    out = run(hijack)
    assert alerts(out, "concurrent_registrations") and actions(out, "block_ip")[0].target == "185.1.2.3"


@pytest.mark.parametrize("devices,fires", [(2, False), (3, True)])
def test_concurrent_registration_limit_raised(devices, fires):
    pol = policy("extensions:\n  '1001': {concurrent_registrations: 2}")
    evs = [reg(t=i, contact=f"sip:1001@10.0.0.{20 + i}") for i in range(devices)]
    assert bool(alerts(run(evs, pol), "concurrent_registrations")) is fires


def test_registrations_expire_after_ttl():
    evs = [reg(t=0, contact="sip:a"), reg(t=3601, contact="sip:b")]
    assert not alerts(run(evs), "concurrent_registrations")
