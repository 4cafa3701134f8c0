"""Reliability on the real broker: a killed worker, a restarted broker, a flood of hostile input.

Each test is bounded (timeouts on every wait) and marked slow; `make test` runs them.
"""

import json
import random
import signal
import subprocess

import pytest

from streams.policy import Policy
from streams.shells.replay import replay_file
from tests.kafka.conftest import ROOT, consume

SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"
pytestmark = pytest.mark.slow


def expected_ids() -> set[str]:
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY))
    return {r.alert_id for r in out if r.__class__.__name__ == "Alert"}


def valid_records() -> list[tuple[str, bytes, bytes]]:
    recs = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("type") == "cdr" and "T" in ev.get("start", ""):
            recs.append(("cdr", f"{ev.get('tenant', 'default')}/{ev['src']}".encode(), line))
        elif ev.get("type") == "security" and ev.get("src_ip") != "not-an-ip":
            recs.append(("security", ev["src_ip"].encode(), line))
    return recs


def send(broker, prefix, recs):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=[broker], acks="all", max_request_size=2 * 1024 * 1024)
    for topic, key, value in recs:
        p.send(f"{prefix}.{topic}", key=key, value=value)
    p.flush(60)
    p.close()


def first_half_running(broker, prefix, worker):
    """A worker that has processed the first half of the sample day (3+ alerts out); the rest to send."""
    recs = valid_records()
    half = len(recs) // 2
    w = worker(policy=str(POLICY))
    send(broker, prefix, recs[:half])
    assert len(consume(broker, f"{prefix}.alerts", want=3, timeout=60)) >= 3, w.log()
    return w, recs[half:]


def test_kill_9_and_restart_loses_no_detection(broker, prefix, worker):
    want = expected_ids()
    w1, rest = first_half_running(broker, prefix, worker)
    w1.proc.send_signal(signal.SIGKILL)
    w1.proc.wait(10)
    send(broker, prefix, rest)
    w2 = worker(policy=str(POLICY))
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=90, idle=5)
    ids = [a["alert_id"] for a in got]
    assert set(ids) == want, f"missing {want - set(ids)}, extra {set(ids) - want}\n{w2.log()}"


def test_broker_restart_while_worker_runs(broker, prefix, worker):
    want = expected_ids()
    w, rest = first_half_running(broker, prefix, worker)
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "down"], check=True, timeout=60)
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "up"], check=True, timeout=120)
    send(broker, prefix, rest)
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=120, idle=5)
    ids = {a["alert_id"] for a in got}
    assert want <= ids, f"lost {want - ids}\n{w.log()}"  # nothing is lost
    # Known limit: the rebalance a broker outage causes can let one partition's event time run ahead
    # of records still in flight, so a live call may be hung up early. Anything else extra is a bug.
    extra = [a for a in got if a["alert_id"] not in want]
    assert all(a["rule"] == "call_duration" and a["evidence"].get("live") for a in extra), extra
    assert w.proc.poll() is None, "the worker must reconnect, not exit"


def hostile(rng: random.Random, i: int) -> bytes:
    kind = i % 10
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:
        size = 300_000 if i % 100 == 1 else 5_000  # a hundred 300 KB values, the rest 5 KB
        return json.dumps({"type": "cdr", "call_id": "x" * size, "start": "2026-12-04T10:00:00Z",
                           "src": "1", "dst": "2"}).encode()
    if kind == 2:
        return json.dumps({"type": "cdr", "call_id": 12, "start": "2026-12-04T10:00:00Z", "src": "1", "dst": "2"}).encode()
    if kind == 3:
        return "{\"type\": \"security\", \"ts\": \"\u2603\u202e\U0001F4A9\", \"service\": \"sip\"}".encode()
    if kind == 4:
        return json.dumps({"type": "security", "ts": "2026-12-04T10:00:00Z", "service": "sip",
                           "outcome": "failure"}).encode()  # src_ip missing
    if kind == 5:
        return b"[" * 5000 + b"]" * 5000
    if kind == 6:
        return json.dumps({"type": "cdr", "call_id": "n", "start": "2026-12-04T10:00:00Z", "src": "1", "dst": "2",
                           "duration": float("nan")}).encode().replace(b"NaN", b"-1e400")
    if kind == 7:
        return b""
    if kind == 8:
        return json.dumps({"type": "security", "ts": "2026-13-45T99:00:00Z", "service": "sip",
                           "src_ip": "1.2.3.4", "outcome": "failure"}).encode()
    return json.dumps({"type": ["cdr"], "oops": {"a": [1, 2, {"b": None}]}}).encode()


def test_ten_thousand_hostile_messages(broker, prefix, worker):
    rng = random.Random(42)
    want = expected_ids()
    valid = valid_records()
    bad = [("cdr" if i % 2 else "security", None, hostile(rng, i)) for i in range(10_000)]
    mixed = []
    step = len(bad) // len(valid) + 1
    for i, v in enumerate(valid):
        mixed.extend(bad[i * step:(i + 1) * step])
        mixed.append(v)
    mixed.extend(bad[len(valid) * step:])
    assert sum(1 for m in mixed if m[1] is None) == 10_000
    w = worker(policy=str(POLICY))
    pid = w.proc.pid
    send(broker, prefix, mixed)
    dead = consume(broker, f"{prefix}.dlq", want=10_000, timeout=180)
    assert len(dead) == 10_000, f"{len(dead)} dead letters\n{w.log()}"
    assert all(d["reason"] and d["topic"].startswith(prefix) and isinstance(d["offset"], int) for d in dead)
    assert sum(1 for d in dead if d["raw_bytes"] == 0) == 1000  # empty values are dead letters too
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=90, idle=4)
    ids = {a["alert_id"] for a in got}
    extra = sorted((a["rule"], a["subject"], a["ts"]) for a in got if a["alert_id"] not in want)
    assert ids == want, f"missing {want - ids}, extra {extra}"
    assert w.proc.poll() is None and w.proc.pid == pid
    assert "Traceback" not in w.log()
