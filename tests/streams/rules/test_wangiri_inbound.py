"""wangiri_inbound: a burst of one-ring calls from abroad to many extensions blocks the callers' numbers."""

import random

import pytest

from streams.rules.wangiri_inbound import foreign
from tests.builders import actions, alerts, cdr, policy, run, run_any_order


def ring(i, src=None, dst=None, **kw):
    ev = dict(t=i * 20, src=src or f"3719001234{i % 8}", dst=dst or f"10{i % 12:02d}", direction="inbound",
              billsec=0, duration=2, disposition="no_answer", call_id=f"w{i}")
    ev.update(kw)
    return cdr(**ev)


def wangiri(out):
    return alerts(out, "wangiri_inbound")


def test_a_burst_to_many_extensions_blocks_its_range():
    out = run([ring(i) for i in range(15)], policy())
    [a] = wangiri(out)
    assert (a.subject_type, a.subject) == ("country", "LV")
    blocked = {x.target for x in actions(out, "block_number") if x.alert_id == a.alert_id}
    assert blocked == {"+3719001234"} == {a.evidence["range"]}  # the 8 callers' shared range, one block
    assert a.evidence["range_expires"] and "+3719001234" in a.summary


def test_callers_outside_the_burst_range_are_blocked_one_by_one():
    odd = ["+37129000001", "+37126123456"]  # two callers of other ranges in the same country
    evs = [ring(k, src=n) for k, n in enumerate(odd)] + [ring(2 + i) for i in range(13)]
    [a] = wangiri(run(evs, policy()))
    blocked = {x.target for x in actions(run(evs, policy()), "block_number") if x.alert_id == a.alert_id}
    assert blocked == {"+3719001234", *odd}


@pytest.mark.parametrize("numbers, want", [
    (["+37190012340", "+37190012341", "+37190012349"], "+3719001234"),
    (["+21698120311", "+21698127702", "+21698125519", "+21698120042", "+447700900123"], "+2169812"),
    (["+37190012340", "+37129000001", "+37126123456"], None),          # no majority shares 2 national digits
    (["+37190012340"], None),                                           # one number is no range
    (["+37190012340", "+37190012340"], None),                           # the same number twice
])
def test_the_range_is_the_longest_prefix_most_callers_share(numbers, want):
    from streams.rules.wangiri_inbound import common_range
    country = "TN" if numbers[0].startswith("+216") else "LV"
    assert common_range(numbers, country) == want
    if want:
        assert len(want) >= len("+371") + 2


def test_the_range_never_is_shorter_than_the_country_and_two_digits():
    from streams.rules.wangiri_inbound import common_range
    assert common_range(["+37121111111", "+37122222222", "+37123333333"], "LV") is None
    assert common_range(["+37121111111", "+37121222222", "+37123333333"], "LV") == "+37121"


@pytest.mark.parametrize("change", [
    {"dst": "1001"},                                     # one extension rung again and again
    {"src": "02079460000"},                              # a caller at home
    {"billsec": 30, "disposition": "answered"},          # answered
    {"duration": 45},                                    # rang too long to be one ring
])
def test_what_is_not_a_wangiri_burst(change):
    evs = [ring(i, **{k: v for k, v in change.items() if k in ("src", "dst")},
                **{k: v for k, v in change.items() if k not in ("src", "dst")}) for i in range(15)]
    assert not wangiri(run(evs, policy()))


def test_too_few_calls_or_too_slow_raise_nothing():
    assert not wangiri(run([ring(i) for i in range(10)], policy()))           # 10 is the limit, not over it
    assert not wangiri(run([cdr(**{**ring(i), "start": ring(i * 40)["start"]}) for i in range(15)], policy()))


@pytest.mark.parametrize("seed", range(3))
def test_any_order_gives_the_same_alert(seed):
    evs = [ring(i) for i in range(15)]
    want = [a.alert_id for a in wangiri(run(evs, policy()))]
    random.Random(seed).shuffle(evs)
    assert [a.alert_id for a in wangiri(run_any_order(evs, policy()))] == want


def test_callers_are_read_however_the_trunk_spells_them():
    assert foreign("+37190012345", "GB") == ("+37190012345", "LV")
    assert foreign("0037190012345", "GB") == ("+37190012345", "LV")
    assert foreign("37190012345", "GB") == ("+37190012345", "LV")
    assert foreign("02079460000", "GB") is None
    assert foreign("anonymous", "GB") is None


def test_the_verdict_refuses_the_callback_once_the_block_is_published():
    from streams.services.enforce.action import parse
    from streams.domain.events import to_builtins
    from streams.services.verdict.judge import Judge
    from streams.services.verdict.live import LiveBlocks
    out = run([ring(i) for i in range(15)], policy())
    live = LiveBlocks()
    for a in actions(out, "block_number"):
        live.apply(parse(to_builtins(a)))
    now = max(a.ts for a in actions(out, "block_number")).timestamp() + 60
    v = Judge(policy("extensions:\n  '1001': {international: true}\n"), live, clock=lambda: now).verdict(
        "default", "1001", "0037190012345")
    assert not v.allow and v.rule == "block_number" and v.sip_code == 603


def callback(t, ext="1003", number="0037190012343", phase="end", call_id="cb1", **kw):
    ev = dict(t=t, src=ext, dst=number, direction="outbound", billsec=40, duration=45, disposition="answered",
              call_id=call_id, phase=phase)
    ev.update(kw)
    return cdr(**ev)


def callbacks(out):
    return [a for a in wangiri(out) if a.subject_type == "extension"]


INTL = policy("extensions:\n  defaults: {international: true}\n")


def test_calling_a_burst_number_back_raises_one_alert_and_hangs_the_call_up():
    out = run([ring(i) for i in range(15)] + [callback(900, phase="start")], INTL)
    [a] = callbacks(out)
    assert a.subject == "1003" and a.evidence["e164"] == "+37190012343" and a.evidence["country"] == "LV"
    kinds = {(x.kind, x.target) for x in actions(out) if x.alert_id == a.alert_id}
    assert kinds == {("hangup_call", "cb1"), ("block_number", "+37190012343")}


@pytest.mark.parametrize("change", [
    {"t": -100},                          # called before the burst rang (the burst's window starts at its first call)
    {"number": "0037190099999"},          # another number in the same country, not part of the burst
    {"number": "1005"},                   # an internal call
    {"t": 900 + 8 * 86400},               # after the block ended (a week)
])
def test_what_is_not_a_callback(change):
    out = run(sorted([ring(i) for i in range(15)] + [callback(**{"t": 900, **change})], key=lambda e: e["start"]), INTL)
    assert len(wangiri(out)) == 1 and not callbacks(out)


def test_calling_back_a_number_of_the_bursts_range_that_never_rang_is_a_callback():
    """Issue 26.3: the extension calls +37190012348, which did not ring but lies in the burst's range."""
    out = run([ring(i) for i in range(15)] + [callback(900, number="0037190012348", phase="start")], INTL)
    [a] = callbacks(out)
    assert a.subject == "1003" and a.evidence["e164"] == "+37190012348"
    kinds = {(x.kind, x.target) for x in actions(out) if x.alert_id == a.alert_id}
    assert kinds == {("hangup_call", "cb1"), ("block_number", "+37190012348")}


def test_a_range_callback_is_found_in_any_order():
    evs = [ring(i) for i in range(15)] + [callback(400, number="0037190012348"),
                                          callback(650, ext="1007", call_id="cb2", number="+37190012349")]
    want = sorted(a.alert_id for a in callbacks(run(sorted(evs, key=lambda e: e["start"]), INTL)))
    assert len(want) == 2
    for seed in range(4):
        shuffled = evs[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(a.alert_id for a in callbacks(run_any_order(shuffled, INTL))) == want


def test_a_callback_is_found_in_any_order_even_when_judged_before_the_burst():
    evs = [ring(i) for i in range(15)] + [callback(400, ext="1003"), callback(650, ext="1007", call_id="cb2",
                                                                             number="+37190012345")]
    want = sorted(a.alert_id for a in callbacks(run(sorted(evs, key=lambda e: e["start"]), INTL)))
    assert len(want) == 2
    for seed in range(4):
        shuffled = evs[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(a.alert_id for a in callbacks(run_any_order(shuffled, INTL))) == want
    first = [evs[-1], evs[-2], *evs[:-2]]  # both callbacks before any one-ring call
    assert sorted(a.alert_id for a in callbacks(run_any_order(first, INTL))) == want


def test_a_tenant_that_switches_the_rule_off_does_not_route_its_calls_abroad_to_the_tenant_key():
    from streams.core.detector import Detector
    from streams.domain.events import decode_event, encode
    call = decode_event(encode(callback(0)))
    assert "tenant" in Detector.keys_for(call, INTL)
    assert "tenant" not in Detector.keys_for(call, policy("rules:\n  wangiri_inbound: {mode: 'off'}\n"))
    assert "tenant" not in Detector.keys_for(decode_event(encode(callback(0, number="1005"))), INTL)


def test_remembered_calls_abroad_stay_bounded():
    from streams.core.detector import Detector
    from streams.domain.events import decode_event, encode
    from streams.rules.wangiri_inbound import KEEP_DIALLED
    det = Detector(INTL)
    for i in range(KEEP_DIALLED * 2):
        det.feed(decode_event(encode(callback(i, number=f"+3719{i:07d}", call_id=f"c{i}"))))
    from streams.core import keys as K
    st = det.state[K.tenant("default")]
    assert 0 < len(st.wangiri_dialled) <= KEEP_DIALLED + KEEP_DIALLED // 4  # pruned in steps, to the most recent
