"""A scope partition in-process: records in, alerts out, state for the commit point, a restart from it."""
import json
from collections import namedtuple

from streams.domain.events import Alert

from streams.policy import Policy
from streams.shells.worker import records
from streams.shells.worker.clock import EXPECT, clock_key
from streams.shells.worker.ingest import Ingest, partition_of
from streams.shells.worker.scope import ScopeRunner
from streams.shells.worker.statecodec import decode_value, encode_value
from tests.builders import at, cdr, policy

Rec = namedtuple("Rec", "topic partition offset value")
NOW = 1772618400.0 + 86400


def owns(key, part):
    return partition_of(key.encode(), 1) == part


def feed(runner, ingest, events, start=0):
    out, dead = [], []
    msgs = [Rec("p.cdr", 0, start + i, json.dumps(e).encode()) for i, e in enumerate(events)]
    for (scope, part, _lane), values in ingest.route(msgs).out.items():
        if scope == runner.scope:
            for v in values:
                runner.apply(part, v, dead, out)
    return out, dead


def alerts(out, rule):
    return [a for a in out if isinstance(a, Alert) and a.rule == rule]


def test_rules_run_on_arrival_and_a_live_limit_fires_when_marks_pass_it():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    ing = Ingest(1, Policy.default(), clock=lambda: NOW)
    ing.expect({"p.cdr": 1})
    run = ScopeRunner("ext", pol, {}, 1, owns)
    out, _ = feed(run, ing, [cdr(t=0, call_id="live", phase="start"), cdr(t=0, dst="09098790000", call_id="prem")])
    assert alerts(out, "premium_rate") and not alerts(out, "call_duration")
    out, _ = feed(run, ing, [cdr(t=200, src="1002", call_id="other")], start=2)  # event time 200: not yet
    assert not alerts(out, "call_duration")
    out, _ = feed(run, ing, [cdr(t=400, src="1002", call_id="later")], start=3)  # 400 > 300: hang up
    assert [a.evidence["call_id"] for a in alerts(out, "call_duration")] == ["live"]


def test_flush_hands_over_state_and_clock_and_a_restart_continues_from_them():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    ing = Ingest(1, Policy.default(), clock=lambda: NOW)
    ing.expect({"p.cdr": 1})
    store: dict = {}
    run = ScopeRunner("ext", pol, store, 1, owns)
    feed(run, ing, [cdr(t=0, call_id="live", phase="start")])
    out, changes = run.flush(0)
    keys = {k for k, _ in changes}
    assert "ext:default/1001" in keys and clock_key(0) in keys
    persisted = {k: decode_value(encode_value(v)) for k, v in store.items()}  # what the changelog carries
    again = ScopeRunner("ext", pol, persisted, 1, owns)                        # a new worker, same partition
    out, _ = feed(again, ing, [cdr(t=500, src="1002", call_id="x")], start=1)
    assert [a.evidence["call_id"] for a in alerts(out, "call_duration")] == ["live"]


def test_a_record_that_is_not_ours_is_a_dead_letter_not_a_crash():
    run = ScopeRunner("ext", Policy.default(), {}, 1, owns)
    dead, out = [], []
    assert run.apply(0, b"garbage", dead, out) == 0 and "unreadable repartition record" in dead[0][1]
    value = records.encode({EXPECT: ["cdr:0"]}, [["cdr:0", 0, -1, b'{"type":"cdr"', 0.0, 1]])
    assert run.apply(0, value, dead, out) == 0 and "unreadable after ingest" in dead[1][1]
