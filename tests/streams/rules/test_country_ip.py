"""country_ip: boundaries and behaviour."""
import random

from streams.core.detector import Detector
from streams.domain.events import Action, decode_event, encode
from tests.builders import alerts, cdr, policy, run, run_any_order, sec


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


SWEEP = [sec(t=i, ip=f"8.8.{i // 250}.{i % 250 + 1}", outcome="failure" if i % 2 else "request",
             action="register", account=f"10{i % 7}") for i in range(400)]  # US and one source each: a botnet's knock


def test_with_the_country_set_a_sweep_is_one_alert_for_the_tenant_not_one_per_source():
    """The firewall's set already drops these sources: one alert names the sweep (its incident, the campaign,
    lists the sources and countries), where there were 400 alerts, one per address."""
    out = run(SWEEP, policy("allowed_country_ips: [GB]\ncountry_ip_block: set"))
    found = alerts(out, "country_ip")
    assert [(a.subject_type, a.subject) for a in found] == [("tenant", "default")]
    assert found[0].evidence == {"allowed": ["GB"], "blocked_by": "country set"} and blocks(out) == []


def test_with_the_country_set_the_sweep_alert_is_the_same_in_any_order():
    pol = policy("allowed_country_ips: [GB]\ncountry_ip_block: set")
    ids = {a.alert_id for a in alerts(run(SWEEP, pol), "country_ip")}
    for seed in range(3):
        shuffled = list(SWEEP)
        random.Random(seed).shuffle(shuffled)
        assert {a.alert_id for a in alerts(run_any_order(shuffled, pol), "country_ip")} == ids


def test_with_the_country_set_a_source_that_got_in_or_called_is_its_own_alert():
    """A source from a disallowed country that signed in, or placed a call, is more than a knock: its own
    alert and incident (no block of its own: the set covers IPv4)."""
    pol = policy("allowed_country_ips: [GB]\ncountry_ip_block: set")
    got_in = run(SWEEP[:3] + [sec(t=5, ip="8.8.4.4", outcome="success", action="register", account="1001")], pol)
    assert sorted((a.subject_type, a.subject) for a in alerts(got_in, "country_ip")) == [("ip", "8.8.4.4"),
                                                                                         ("tenant", "default")]
    called = run([cdr(t=5, src_ip="8.8.4.4")], pol)
    assert [(a.subject_type, a.subject) for a in alerts(called, "country_ip")] == [("ip", "8.8.4.4")]


def test_by_address_a_sweep_still_blocks_each_source():
    out = run(SWEEP[:20], policy("allowed_country_ips: [GB]"))
    assert len(alerts(out, "country_ip")) == 20 and len(blocks(out)) == 20


def test_with_the_country_set_a_sweep_of_requests_alone_reaches_the_tenant_key():
    """Challenged registrations (a scanner that never sends a password) are knocks too: routed to the tenant key."""
    knocks = [dict(e, outcome="request") for e in SWEEP]
    out = run(knocks, policy("allowed_country_ips: [GB]\ncountry_ip_block: set"))
    assert [(a.subject_type, a.subject) for a in alerts(out, "country_ip")] == [("tenant", "default")]
    pol = policy("allowed_country_ips: [GB]\ncountry_ip_block: set")
    uk = decode_event(encode(sec(ip="81.2.69.160", outcome="request")))  # GB: allowed, no tenant key
    assert "tenant" in Detector.keys_for(decode_event(encode(knocks[0])), pol)
    assert "tenant" not in Detector.keys_for(uk, pol)


def test_with_campaigns_off_each_source_keeps_its_alert_for_it_is_named_nowhere_else():
    """The sweep alert names no source: its campaign does. With ``campaign_seconds: 0`` there is none, so each
    source keeps its own alert (still no block: the set drops it)."""
    out = run(SWEEP[:20], policy("allowed_country_ips: [GB]\ncountry_ip_block: set\ncampaign_seconds: 0"))
    assert len({a.subject for a in alerts(out, "country_ip")}) == 20 and blocks(out) == []
