"""country_ip: boundaries and behaviour."""
from streams.domain.events import Action
from tests.builders import alerts, policy, run, sec


def blocks(out):
    return [(a.kind, a.target) for a in out if isinstance(a, Action)]


def test_country_ip_off_until_enabled():
    assert not alerts(run([sec(ip="8.8.8.8", outcome="request")]), "country_ip")

def test_country_ip():
    pol = policy("allowed_country_ips: [GB]")
    out = run([sec(ip="8.8.8.8", outcome="request")], pol)  # US
    assert alerts(out, "country_ip")[0].evidence["country"] == "US"
    assert not alerts(run([sec(ip="10.1.2.3", outcome="request")], pol), "country_ip")


def test_by_address_each_source_is_blocked():
    out = run([sec(ip="8.8.8.8", outcome="request")], policy("allowed_country_ips: [GB]"))
    assert blocks(out) == [("block_ip", "8.8.8.8")]
    assert "blocked_by" not in alerts(out, "country_ip")[0].evidence


def test_with_the_country_set_an_ipv4_source_is_alerted_but_not_blocked_one_by_one():
    pol = policy("allowed_country_ips: [GB]\ncountry_ip_block: set")
    out = run([sec(ip="8.8.8.8", outcome="request")], pol)
    assert blocks(out) == [] and alerts(out, "country_ip")[0].evidence["blocked_by"] == "country set"
    mapped = run([sec(ip="::ffff:8.8.8.8", outcome="request")], pol)
    assert alerts(mapped, "country_ip") and blocks(mapped) == []  # an IPv4 peer on a dual-stack socket reaches the IPv4 set


def test_with_the_country_set_an_ipv6_source_still_gets_its_own_block():
    pol = policy("allowed_country_ips: [GB]\ncountry_ip_block: set")
    out = run([sec(ip="2001:4860:4860::8888", outcome="request")], pol)
    assert alerts(out, "country_ip") and [k for k, _ in blocks(out)] == ["block_ip"]  # the set is IPv4 only (docs/enforce.md)
