"""Order on the real broker: the same day, delivered sorted by call end, by call start, or shuffled
within an hour, one event per Kafka record, gives the worker replay's alert ids (docs/stream.md).

This is the test that would have caught the lost-alerts bug: the old worker skipped a record
with a lower offset and a later event time than one it had applied, silently.
"""

import json
import random
import time

import pytest

from streams.domain.events import decode_event, event_time
from streams.policy import Policy
from streams.shells.replay import replay_file
from streams.commands.simulate import simulate
from tests.kafka.conftest import consume

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cdr_day(tmp_path_factory):
    d = tmp_path_factory.mktemp("orderday")
    simulate(1, 21, d, extensions=40, live=False)  # completed CDRs and security events, as exports carry them
    return d


def ordered(lines: list[bytes], order: str) -> list[bytes]:
    evs = [decode_event(line) for line in lines]
    if order == "by_end":
        key = [event_time(e) for e in evs]
    elif order == "by_start":
        key = [e.start.timestamp() if hasattr(e, "start") else e.ts.timestamp() for e in evs]
    else:
        rnd = random.Random(5)
        key = [event_time(e) + rnd.uniform(0, 3600) for e in evs]
    return [lines[i] for i in sorted(range(len(lines)), key=key.__getitem__)]


def send_keyed(broker: str, prefix: str, lines: list[bytes]) -> float:
    """One event per record, keyed as `tollguard produce` keys them; returns when the last was acknowledged."""
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=[broker], acks="all", linger_ms=5)
    for line in lines:
        ev = json.loads(line)
        if ev["type"] == "cdr":
            p.send(f"{prefix}.cdr", key=f"{ev.get('tenant', 'default')}/{ev['src']}".encode(), value=line)
        else:
            p.send(f"{prefix}.security", key=ev["src_ip"].encode(), value=line)
    p.flush(60)
    p.close()
    return time.monotonic()


@pytest.mark.parametrize("order", ["by_end", "by_start", "shuffled_1h"])
def test_any_order_gives_replays_alert_ids(broker, prefix, worker, cdr_day, order):
    path = cdr_day / "events.jsonl"
    out, _, _ = replay_file([str(path)], Policy.load(cdr_day / "policy.yaml"))
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    assert len(want) > 15
    lines = ordered(path.read_bytes().splitlines(), order)
    w = worker(policy=str(cdr_day / "policy.yaml"), partitions=4)
    last = send_keyed(broker, prefix, lines)
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=90, idle=4)
    ids = {a["alert_id"]: a["rule"] for a in got}
    missing = sorted(want[k] for k in set(want) - set(ids))
    extra = sorted(ids[k] for k in set(ids) - set(want))
    assert not missing and not extra, f"{order}: missing {missing}, extra {extra}\n{w.log()}"
    if order == "by_end":  # the feed a PBX writes: everything is out shortly after the last record
        assert time.monotonic() - last < 30 + 4, "alerts took longer than 30 s after the last record"
    assert "Traceback" not in w.log()
