"""remote_registration: boundaries and behaviour."""
from tests.builders import alerts, policy, reg, run


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
