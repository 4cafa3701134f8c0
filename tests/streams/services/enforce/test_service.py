"""The Kafka shell's bookkeeping, without a broker: commit only what is finished; invalid records counted."""

import json
from types import SimpleNamespace

from kafka.structs import TopicPartition

from streams.kafka.config import Config
from streams.services.enforce.applier import Applier
from streams.services.enforce.service import Service

from .helpers import Clock, rec
from .test_applier import Fake


class Consumer:
    def __init__(self):
        self.commits = []

    def commit(self, offsets):
        self.commits.append({tp.partition: o.offset for tp, o in offsets.items()})


def msg(offset, value):
    return SimpleNamespace(offset=offset, value=value if isinstance(value, bytes) else json.dumps(value).encode())


def test_commit_stops_at_the_first_record_with_a_retry_pending():
    bad = Fake("bad", fail=1)
    ap = Applier([bad], clock=Clock())
    svc, c = Service(Config(), ap, "g"), Consumer()
    p0, p1 = TopicPartition("t.actions", 0), TopicPartition("t.actions", 1)
    svc.take(p0, msg(4, {**rec(), "action_id": "x"}))  # fails once: retry pending
    bad.fail = 0
    svc.take(p0, msg(5, rec(target="198.51.100.3")))
    svc.take(p1, msg(9, b"\x1b]0;pwned\x07"))            # not an action: counted, committed past
    svc.commit(c)
    assert c.commits == [{0: 4, 1: 10}]
    ap.clock.t += 60
    ap.tick()
    svc.commit(c)
    assert c.commits[-1] == {0: 6}
    assert ap.metrics.registry.registry.get_sample_value("tollguard_enforce_skipped_total", {"reason": "invalid"}) == 1
    ok, detail = svc.health()
    assert ok and detail["pending_retries"] == 0


def test_dry_run_never_commits():
    ap = Applier([Fake("fw")], clock=Clock(), dry_run=True, out=open("/dev/null", "w"))
    svc, c = Service(Config(), ap, "g"), Consumer()
    svc.take(TopicPartition("t.actions", 0), msg(0, rec()))
    svc.commit(c)
    assert c.commits == []
