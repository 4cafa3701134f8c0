"""country_ip: boundaries and behaviour."""
from tests.builders import alerts, policy, run, sec


def test_country_ip_off_until_enabled():
    assert not alerts(run([sec(ip="8.8.8.8", outcome="request")]), "country_ip")

def test_country_ip():
    pol = policy("allowed_country_ips: [GB]")
    out = run([sec(ip="8.8.8.8", outcome="request")], pol)  # US
    assert alerts(out, "country_ip")[0].evidence["country"] == "US"
    assert not alerts(run([sec(ip="10.1.2.3", outcome="request")], pol), "country_ip")
