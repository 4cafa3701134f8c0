"""registration_ip_restriction: boundaries and behaviour."""
from tests.builders import alerts, policy, reg, run


def test_registration_ip_restriction():
    pol = policy("extensions:\n  '1001': {permitted_ips: [116.117.129.245/32, 10.0.0.0/24]}")
    assert not alerts(run([reg(ip="116.117.129.245")], pol), "registration_ip_restriction")
    assert not alerts(run([reg(ip="10.0.0.99")], pol), "registration_ip_restriction")
    assert alerts(run([reg(ip="116.117.129.246")], pol), "registration_ip_restriction")
