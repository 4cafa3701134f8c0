"""The verdict: the rules' own decision on a call about to start, then the live blocks."""

import pytest

from streams.enforce.action import parse
from streams.verdict.judge import BadRequest, Judge
from streams.verdict.live import LiveBlocks
from tests.builders import T0, actions, cdr, policy, run

NOW = T0.timestamp()  # a Wednesday, 10:00 in London: business hours
POL = policy("business_hours: {mon-fri: ['08:00-18:00']}\nallowed_countries: [GB, FR]\n"
             "blocked_numbers: ['0207946XXXX']\nextensions:\n  '2001': {international: true}\n"
             "  '3001': {outside_business_hours: false}\n")
NUMBERS = ["02079460000", "02071838750", "0033142868200", "09098790000", "999", "0037190012345", "07700900123",
           "abc123456789", "0049301234567"]


def judge(live=None, at=NOW, pol=POL):
    return Judge(pol, live, clock=lambda: at)


@pytest.mark.parametrize("src", ["1001", "2001", "3001"])
@pytest.mark.parametrize("dst", NUMBERS)
def test_the_verdict_is_what_the_rules_do_to_a_starting_call(src, dst):
    """Refused exactly when replay would hang the same call up at its start."""
    v = judge().verdict("default", src, dst)
    hung = [a for a in actions(run([cdr(t=0, src=src, dst=dst, phase="start", call_id="x")], POL), "hangup_call")
            if a.target == "x"]
    assert v.allow is (not hung)
    assert v.sip_code == (200 if v.allow else (603 if v.rule in ("premium_rate", "country_code", "blocked_number") else 403))


def test_time_conditions_use_the_clock():
    night = NOW + 14 * 3600  # midnight
    assert judge().verdict("default", "3001", "02071838750").allow
    assert judge(at=night).verdict("default", "1001", "02071838750").allow  # may call out of hours
    v = judge(at=night).verdict("default", "3001", "02071838750")
    assert not v.allow and v.rule == "time_condition"


def test_report_mode_alerts_but_does_not_refuse():
    pol = policy("rules: {premium_rate: {mode: report}}")
    v = judge(pol=pol).verdict("default", "1001", "09098790000")
    assert v.allow and "premium_rate" in v.alerts


def test_emergency_numbers_are_never_refused_even_when_everything_is_blocked():
    live = LiveBlocks()
    live.apply(_action("disable_outbound", "1001"))
    assert judge(live).verdict("default", "1001", "999").allow
    assert judge(live).verdict("default", "1001", "112").allow


def _action(kind, target, tenant="default", duration=None, ts=NOW - 60, aid=None):
    from datetime import datetime, timezone
    when = datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return parse({"type": "action", "action_id": aid or f"{kind}-{target}-{tenant}-{ts}", "ts": when, "tenant": tenant,
                  "kind": kind, "target": target, "duration_s": duration, "alert_id": "a", "reason": "test"})


def test_live_blocks_refuse_and_lifts_and_expiry_allow_again():
    live = LiveBlocks()
    j = judge(live)
    ok = ("default", "1001", "02071838750")
    live.apply(_action("block_ip", "198.51.100.7", duration=600))
    v = j.verdict(*ok, ip="198.51.100.7")
    assert not v.allow and v.rule == "block_ip" and v.source == "live"
    assert j.verdict(*ok, ip="198.51.100.8").allow
    assert judge(live, at=NOW + 600).verdict(*ok, ip="198.51.100.7").allow  # the block ended
    live.apply(_action("block_ip", "198.51.100.9", tenant="other"))  # the global blocklist
    v = j.verdict(*ok, ip="198.51.100.9")
    assert not v.allow and "another tenant" in v.reason
    live.apply(_action("unblock", "198.51.100.9", tenant="other"))
    assert j.verdict(*ok, ip="198.51.100.9").allow


def test_a_lan_address_is_never_refused_for_a_block():
    live = LiveBlocks()
    live.apply(_action("block_ip", "10.0.0.5"))
    assert judge(live).verdict("default", "1001", "02071838750", ip="10.0.0.5").allow


def test_barred_extension_locked_account_and_blocked_prefix():
    live = LiveBlocks()
    j = judge(live)
    live.apply(_action("disable_outbound", "1001", duration=3600))
    assert j.verdict("default", "1001", "02071838750").rule == "disable_outbound"
    assert j.verdict("default", "1002", "02071838750").allow
    live.apply(_action("lock_account", "default/1003"))
    assert j.verdict("default", "1003", "02071838750").rule == "lock_account"
    live.apply(_action("block_number", "+33", duration=3600))  # a destination spend cap blocks the country code
    v = j.verdict("default", "2001", "0033142868200")
    assert not v.allow and v.sip_code == 603 and "+33" in v.reason
    assert j.verdict("other", "2001", "0033142868200").rule != "block_number"  # another tenant's call


@pytest.mark.parametrize("args,why", [(("default", "", "123"), "src"), (("default", "1001", ""), "dst"),
                                      (("default", "1001", "1" * 300), "dst"), (("x" * 100, "1", "2"), "tenant")])
def test_bad_requests_say_what_is_wrong(args, why):
    with pytest.raises(BadRequest, match=why):
        judge().verdict(*args)
    with pytest.raises(BadRequest, match="ip"):
        judge().verdict("default", "1001", "02071838750", ip="not-an-ip")


def test_hostile_text_is_judged_not_echoed_raw():
    v = judge().verdict("default", "1001\x1b[2J", "0207\x00946")
    assert "\x1b" not in v.reason and "\x00" not in v.reason


def test_live_memory_is_bounded(monkeypatch):
    import streams.verdict.live as L
    monkeypatch.setattr(L, "MAX_BLOCKS", 100)
    live = LiveBlocks()
    for i in range(1000):
        live.apply(_action("block_ip", f"198.51.{i // 250}.{i % 250 + 1}", duration=600 + i))
    assert len(live.until) <= 100


def test_a_listed_range_is_refused_as_the_destination_with_603():
    from streams.policy import Policy
    from streams.ranges import RangeTable, parse_range
    pol = Policy.from_yaml("home_country: GB\nallowed_countries: [GB, FR]\ninternational_prefix: ['00']\n"
                           "extensions:\n  '2001': {international: true}\n")
    table = RangeTable()
    pol.add_ranges(table)
    j = Judge(pol, None, clock=lambda: NOW)
    assert j.verdict("default", "2001", "0033142868200").allow
    table.put(parse_range("+3314286", "IRSF test numbers", "soc"))  # listed while the service runs
    v = j.verdict("default", "2001", "0033142868200")
    assert (v.allow, v.rule, v.sip_code) == (False, "high_risk_range", 603) and "IRSF" in v.reason
