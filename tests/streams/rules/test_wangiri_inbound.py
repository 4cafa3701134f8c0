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


def test_a_burst_to_many_extensions_blocks_every_calling_number():
    out = run([ring(i) for i in range(15)], policy())
    [a] = wangiri(out)
    assert (a.subject_type, a.subject) == ("country", "LV")
    blocked = {x.target for x in actions(out, "block_number") if x.alert_id == a.alert_id}
    assert blocked == {f"+3719001234{k}" for k in range(8)}


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
    from streams.enforce.action import parse
    from streams.events import to_builtins
    from streams.verdict.judge import Judge
    from streams.verdict.live import LiveBlocks
    out = run([ring(i) for i in range(15)], policy())
    live = LiveBlocks()
    for a in actions(out, "block_number"):
        live.apply(parse(to_builtins(a)))
    now = max(a.ts for a in actions(out, "block_number")).timestamp() + 60
    v = Judge(policy("extensions:\n  '1001': {international: true}\n"), live, clock=lambda: now).verdict(
        "default", "1001", "0037190012345")
    assert not v.allow and v.rule == "block_number" and v.sip_code == 603
