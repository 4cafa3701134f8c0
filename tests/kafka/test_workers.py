"""Several workers, restarts and shutdown on the real broker (docs/stream.md)."""

import json
import signal
import time

import pytest

from streams.policy import Policy
from streams.shells.replay import replay_file
from streams.commands.simulate import simulate
from streams.shells.worker.ingest import partition_of
from tests.kafka.conftest import consume
from tests.kafka.test_order import send_keyed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_day(tmp_path_factory):
    d = tmp_path_factory.mktemp("liveday")
    simulate(1, 33, d, extensions=40)  # a live feed: calls reported as they start and as they end
    return d


def want_ids(day) -> dict[str, str]:
    out, _, _ = replay_file([str(day / "events.jsonl")], Policy.load(day / "policy.yaml"))
    return {r.alert_id: f"{r.rule} {r.subject} {r.ts:%H:%M:%S}" for r in out if r.__class__.__name__ == "Alert"}


def both_assigned(workers, timeout: float = 60.0) -> None:
    """Wait until the group has settled with partitions on every worker (a rebalance after the second joined)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        logs = [w.log_path.read_text(errors="replace") for w in workers]
        if all("Seek stream partitions to committed offsets" in text and text.count("generation") >= 1
               for text in logs) and "generation 2" in "".join(logs):
            time.sleep(2)
            return
        time.sleep(0.5)
    raise AssertionError("the two workers never shared the partitions\n" + "\n".join(w.log() for w in workers))


def diff(want: dict, got: list[dict]) -> str:
    ids = {a["alert_id"]: f"{a['rule']} {a['subject']} {a['ts'][11:19]}" for a in got}
    missing = sorted(want[k] for k in set(want) - set(ids))
    extra = sorted(ids[k] for k in set(ids) - set(want))
    return "" if not missing and not extra else f"missing {missing}, extra {extra}"


def test_two_workers_give_replays_alert_ids(broker, prefix, worker, live_day):
    want = want_ids(live_day)
    pol = str(live_day / "policy.yaml")
    ws = [worker(policy=pol, partitions=4), worker(policy=pol, partitions=4)]
    both_assigned(ws)
    send_keyed(broker, prefix, (live_day / "events.jsonl").read_bytes().splitlines())
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=120, idle=5)
    problem = diff(want, got)
    assert not problem, problem + "\n" + "\n".join(w.log() for w in ws)


def test_kill_9_of_one_of_two_workers_loses_nothing(broker, prefix, worker, live_day):
    want = want_ids(live_day)
    pol = str(live_day / "policy.yaml")
    ws = [worker(policy=pol, partitions=4), worker(policy=pol, partitions=4)]
    both_assigned(ws)
    lines = (live_day / "events.jsonl").read_bytes().splitlines()
    half = len(lines) // 2
    send_keyed(broker, prefix, lines[:half])
    assert consume(broker, f"{prefix}.alerts", want=3, timeout=60), ws[0].log()
    ws[0].proc.send_signal(signal.SIGKILL)
    ws[0].proc.wait(10)
    send_keyed(broker, prefix, lines[half:])
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=150, idle=5)
    problem = diff(want, got)
    assert not problem, problem + "\n" + ws[1].log()
    assert ws[1].proc.poll() is None


def committed_lag(broker: str, prefix: str) -> int:
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    admin = KafkaAdminClient(bootstrap_servers=[broker])
    c = KafkaConsumer(bootstrap_servers=[broker])
    try:
        topics = [f"{prefix}.{t}" for t in ("cdr", "security", *(f"by-{s}{lane}" for s in ("ip", "ext", "trunk", "tenant")
                                                                  for lane in ("", "-calls")))]
        tps = [TopicPartition(t, p) for t in topics for p in (c.partitions_for_topic(t) or [])]
        ends = c.end_offsets(tps)
        group = f"{prefix}-worker"
        done = admin.list_group_offsets(group).get(group, {})
        return sum(ends[tp] - max(done[tp].offset, 0) if tp in done else ends[tp] for tp in tps)
    finally:
        admin.close()
        c.close()


def test_sigterm_acknowledges_everything_and_a_restart_is_not_held_back_by_quiet_partitions(broker, prefix, worker,
                                                                                            tmp_path):
    """Partitions with history and nothing new must not hold event time back after a restart."""
    pol = tmp_path / "p.yaml"
    pol.write_text("extensions:\n  '1001': {max_outbound_duration: 300}\n")
    parts = 4
    home = partition_of(b"default/1001", parts)
    same = next(f"{2000 + i}" for i in range(200) if partition_of(f"default/{2000 + i}".encode(), parts) == home)
    t0 = 1_790_000_000  # 2026-09-21: history, and in the past

    def call(t, src, cid, **kw):
        return json.dumps({"type": "cdr", "call_id": cid, "start": _iso(t), "src": src, "dst": "02079460000",
                           "duration": 30, **kw}).encode()
    history = [call(t0 + i, f"{3000 + i}", f"h{i}") for i in range(80)]  # every partition gets some
    w = worker(policy=str(pol), partitions=parts)
    send_keyed(broker, prefix, history)
    deadline = time.monotonic() + 60
    while committed_lag(broker, prefix) and time.monotonic() < deadline:
        time.sleep(0.5)
    began = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    w.proc.wait(30)
    took = time.monotonic() - began
    assert took < 10, f"SIGTERM took {took:.1f} s\n{w.log()}"
    assert committed_lag(broker, prefix) == 0, "records read but not acknowledged at shutdown\n" + w.log()
    # after the restart only the partition of 1001 gets traffic: a live call, then a later call of a
    # neighbour on the same partition; the three quiet partitions have history and nothing new
    w2 = worker(policy=str(pol), partitions=parts)
    send_keyed(broker, prefix, [call(t0 + 1000, "1001", "live", phase="start"),
                                call(t0 + 1400, same, "later", phase="start")])
    got = consume(broker, f"{prefix}.alerts", want=1, timeout=30,
                  predicate=lambda a: a["rule"] == "call_duration" and a["evidence"].get("live"))
    assert got and got[0]["evidence"]["call_id"] == "live", w2.log()


def _iso(t: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")
