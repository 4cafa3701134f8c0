"""The verdict: the rules' own decision on a call about to start, then the live blocks."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.services.enforce.action import parse
from streams.services.verdict.judge import BadRequest, Judge
from streams.services.verdict.live import LiveBlocks
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
    """Refused exactly when replay would hang the same call up at its start (a non-dial string: refused outright)."""
    if not dst.isdigit():
        with pytest.raises(BadRequest, match="dial string"):
            judge().verdict("default", src, dst)
        return
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


def _action(kind, target, tenant="default", duration=None, ts=NOW - 60, aid=None, from_ip=None):
    from datetime import datetime, timezone
    when = datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return parse({"type": "action", "action_id": aid or f"{kind}-{target}-{tenant}-{ts}-{from_ip}", "ts": when,
                  "tenant": tenant, "kind": kind, "target": target, "duration_s": duration, "alert_id": "a",
                  "reason": "test", "from_ip": from_ip})


def test_a_scanners_lock_bars_the_account_only_from_the_scanners_address():
    """Issue 25.2: 12 wrong REGISTERs from a scanner lock default/1001 *for that source*; the phone on the
    LAN still calls out. Before, the verdict ignored from_ip and refused every call of 1001."""
    live = LiveBlocks()
    j = judge(live)
    live.apply(_action("lock_account", "default/1001", duration=600, from_ip="198.51.100.23"))
    assert j.verdict("default", "1001", "02071838750", ip="10.0.0.20").allow
    assert j.verdict("default", "1001", "02071838750").allow  # no source given: not the scanner's call
    v = j.verdict("default", "1001", "02071838750", ip="198.51.100.23")
    assert not v.allow and v.rule == "lock_account" and "198.51.100.23" in v.reason
    live.apply(_action("lock_account", "default/1001", duration=600))  # a whole-account lock (lock_scope: account)
    assert j.verdict("default", "1001", "02071838750", ip="10.0.0.20").rule == "lock_account"


def test_an_unblock_of_the_account_lifts_its_source_locks_too():
    live = LiveBlocks()
    j = judge(live)
    for ip in ("198.51.100.23", "198.51.100.24"):
        live.apply(_action("lock_account", "default/1001", duration=600, from_ip=ip))
    live.apply(_action("unblock", "default/1001", ts=NOW - 30))
    assert j.verdict("default", "1001", "02071838750", ip="198.51.100.24").allow
    assert not live.until


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


@pytest.mark.parametrize("src,dst", [("1001\x1b[2J", "02079460000"), ("1001", "0207\x00946")])
def test_hostile_text_is_refused_not_echoed_raw(src, dst):
    with pytest.raises(BadRequest) as e:
        judge().verdict("default", src, dst)
    assert "\x1b" not in str(e.value) and "\x00" not in str(e.value) and "U+00" in str(e.value)


BARRED = "09098790000"  # premium rate: refused with 603


@pytest.mark.parametrize("spelt", ["%30%39098790000", "0\u200b9098790000", "\u202e09098790000", "0\u00a09098790000",
                                   "%E2%80%8B09098790000", "%309%3098790%30%300", "\ufeff0909\u20608790000"])
def test_a_number_is_judged_as_the_pbx_will_dial_it(spelt):
    """Percent-encoding and invisible characters do not change the verdict: the PBX dials the same digits."""
    want = judge().verdict("default", "1001", BARRED)
    got = judge().verdict("default", "1001", spelt)
    assert (got.allow, got.rule, got.sip_code) == (want.allow, want.rule, want.sip_code) == (False, "premium_rate", 603)


@pytest.mark.parametrize("junk,why", [("abc", "U+0061"), ("%2530%25399098790000", "twice"), ("%ff9098790000", "UTF-8"),
                                      ("0909\t8790000", "U+0009"), ("\uff10\uff19098790000", "U+FF10"),
                                      ("0909-879-0000", "U+002D"), ("\u200b\u00a0", "empty"), ("sip:0909", "U+0073")])
def test_what_is_not_a_dial_string_is_refused_never_allowed(junk, why):
    with pytest.raises(BadRequest, match="dst") as e:
        judge().verdict("default", "1001", junk)
    assert why in str(e.value)


def test_the_caller_is_decoded_as_the_number_is():
    live = LiveBlocks()
    live.apply(_action("disable_outbound", "1001"))
    for spelt in ("%31001", "1\u200b001", "1001\u00a0"):
        assert judge(live).verdict("default", spelt, "02071838750").rule == "disable_outbound"
    with pytest.raises(BadRequest, match="src.*twice"):
        judge(live).verdict("default", "%25311001", "02071838750")


FORMAT_OR_SPACE = st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u202a\u202e\u00ad \u00a0\u2002\u3000\u205f")


@st.composite
def disguised(draw, number):
    """The number with any of its characters (and any inserted format or space character) percent-encoded."""
    out = []
    for c in number:
        for extra in draw(st.lists(FORMAT_OR_SPACE, max_size=2)):
            out.append(_maybe_encoded(draw, extra))
        out.append(_maybe_encoded(draw, c))
    return "".join(out)


def _maybe_encoded(draw, c):
    return "".join(f"%{b:02X}" for b in c.encode()) if draw(st.booleans()) else c


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([BARRED, "02079460000", "0033142868200"]).flatmap(lambda n: st.tuples(st.just(n), disguised(n))))
def test_any_disguise_of_a_refused_number_is_refused_the_same(pair):
    number, spelt = pair
    want = judge().verdict("default", "1001", number)
    got = judge().verdict("default", "1001", spelt)
    assert not want.allow
    assert (got.allow, got.rule, got.sip_code) == (want.allow, want.rule, want.sip_code)


def test_live_memory_is_bounded(monkeypatch):
    import streams.services.verdict.live as L
    monkeypatch.setattr(L, "MAX_BLOCKS", 100)
    live = LiveBlocks()
    for i in range(1000):
        live.apply(_action("block_ip", f"198.51.{i // 250}.{i % 250 + 1}", duration=600 + i))
    assert len(live.until) <= 100


def test_a_listed_range_is_refused_as_the_destination_with_603():
    from streams.policy import Policy
    from streams.reference.ranges import RangeTable, parse_range
    pol = Policy.from_yaml("home_country: GB\nallowed_countries: [GB, FR]\ninternational_prefix: ['00']\n"
                           "extensions:\n  '2001': {international: true}\n")
    table = RangeTable()
    pol.add_ranges(table)
    j = Judge(pol, None, clock=lambda: NOW)
    assert j.verdict("default", "2001", "0033142868200").allow
    table.put(parse_range("+3314286", "IRSF test numbers", "soc"))  # listed while the service runs
    v = j.verdict("default", "2001", "0033142868200")
    assert (v.allow, v.rule, v.sip_code) == (False, "high_risk_range", 603) and "IRSF" in v.reason
