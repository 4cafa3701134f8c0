"""Stream-path figures on the real broker: sustained worker events/s and produce-to-alert latency.

    python bench/stream_bench.py --events 50000 [--partitions 4]

1. Throughput: N synthetic events (bench/gen_events.py) are produced to a fresh prefix with a
   worker already running; the time until the worker's group has committed every input and
   repartition offset is the processing time.
2. Latency: background traffic at a fixed rate, plus one scanner probe per second from a
   unique IP; latency = wall time the alert was read - wall time the probe was sent.
Prints JSON. Needs the broker (make kafka-up).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
BOOT = os.environ.get("TOLLGUARD_BROKER", "kafka://127.0.0.1:9092").split("://", 1)[-1]


def start_worker(prefix: str, partitions: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_PARTITIONS=str(partitions))
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"], env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    for _ in range(120):
        if b"Executing _on_partitions_assigned" in log.read_bytes():
            return proc
        time.sleep(0.25)
    raise SystemExit(f"worker did not start; see {log}")


def stop(w: subprocess.Popen) -> None:
    w.terminate()
    try:
        w.wait(30)
    except subprocess.TimeoutExpired:
        w.kill()


def lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, topics: list[str]) -> int:
    tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or [])]
    ends = consumer.end_offsets(tps)
    committed = admin.list_group_offsets(group).get(group, {})
    return sum(ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps)


def throughput(n: int, partitions: int) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    data = Path(f"/tmp/{prefix}.jsonl")
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_events.py"), str(n), str(data)], check=True)
    log = Path(f"/tmp/{prefix}-worker.log")
    w = start_worker(prefix, partitions, log)
    try:
        p = KafkaProducer(bootstrap_servers=[BOOT], acks=1, linger_ms=20, batch_size=256 * 1024)
        t0 = time.monotonic()
        for line in data.open("rb"):
            ev = json.loads(line)
            topic = "cdr" if ev["type"] == "cdr" else "security"
            key = f"{ev['tenant']}/{ev['src']}" if topic == "cdr" else ev["src_ip"]
            p.send(f"{prefix}.{topic}", key=key.encode(), value=line.rstrip(b"\n"))
        p.flush()
        produced = time.monotonic() - t0
        admin = KafkaAdminClient(bootstrap_servers=[BOOT])
        c = KafkaConsumer(bootstrap_servers=[BOOT])
        topics = [f"{prefix}.cdr", f"{prefix}.security", f"{prefix}.by-ip", f"{prefix}.by-ext", f"{prefix}.by-trunk"]
        while True:
            c.topics()
            left = lag(admin, c, f"{prefix}-worker", topics)
            if left == 0 and time.monotonic() - t0 > 3:
                break
            if time.monotonic() - t0 > 1800:
                raise SystemExit("worker did not catch up in 30 min")
            time.sleep(0.5)
        dt = time.monotonic() - t0
        return {"events": n, "partitions": partitions, "produce_s": round(produced, 2),
                "end_to_end_s": round(dt, 2), "events_per_s": round(n / dt)}
    finally:
        stop(w)


def latency(rate: float, seconds: int, partitions: int) -> dict:
    prefix = f"lat{uuid.uuid4().hex[:8]}"
    log = Path(f"/tmp/{prefix}-worker.log")
    w = start_worker(prefix, partitions, log)
    try:
        p = KafkaProducer(bootstrap_servers=[BOOT], acks=1, linger_ms=0)
        c = KafkaConsumer(f"{prefix}.alerts", bootstrap_servers=[BOOT], auto_offset_reset="earliest",
                          group_id=None, consumer_timeout_ms=10)
        sent: dict[str, float] = {}
        got: dict[str, float] = {}
        base = datetime(2026, 12, 1, tzinfo=timezone.utc)
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < seconds:
            now = time.monotonic()
            ts = (base + timedelta(seconds=now - t0)).isoformat()
            ev = {"type": "security", "ts": ts, "service": "sip", "src_ip": f"10.9.{i % 250}.{i // 250 % 250}",
                  "outcome": "success", "action": "register", "account": str(1000 + i % 500),
                  "user_agent": "Yealink", "contact": f"sip:{1000 + i % 500}@10.9.{i % 250}.1"}
            p.send(f"{prefix}.security", key=ev["src_ip"].encode(), value=json.dumps(ev).encode())
            cdr = {"type": "cdr", "call_id": f"b{i}", "start": ts, "src": str(2000 + i % 500), "dst": "02079460000",
                   "tenant": "t"}
            p.send(f"{prefix}.cdr", key=f"t/{cdr['src']}".encode(), value=json.dumps(cdr).encode())
            if i % int(rate / 2) == 0:
                ip = f"203.0.{len(sent) // 250}.{len(sent) % 250 + 1}"
                probe = {"type": "security", "ts": ts, "service": "sip", "src_ip": ip, "outcome": "request",
                         "user_agent": "friendly-scanner"}
                p.send(f"{prefix}.security", key=ip.encode(), value=json.dumps(probe).encode())
                p.flush()
                sent[ip] = time.monotonic()
            i += 1
            if i % 20 == 0:
                for m in c:
                    a = json.loads(m.value)
                    if a["rule"] == "scanner_user_agent" and a["subject"] not in got:
                        got[a["subject"]] = time.monotonic()
            time.sleep(max(0.0, t0 + i / (rate / 2) - time.monotonic()))
        end = time.monotonic() + 10
        while time.monotonic() < end and len(got) < len(sent):
            for m in c:
                a = json.loads(m.value)
                if a["rule"] == "scanner_user_agent":
                    got.setdefault(a["subject"], time.monotonic())
        lat = sorted((got[ip] - sent[ip]) * 1000 for ip in sent if ip in got)
        q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
        return {"events_per_s": rate, "probes": len(sent), "alerts": len(lat), "p50_ms": round(q[49], 1),
                "p99_ms": round(q[98], 1), "max_ms": round(max(lat), 1) if lat else None}
    finally:
        stop(w)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=int, default=30)
    a = ap.parse_args()
    print(json.dumps({"throughput": throughput(a.events, a.partitions),
                      "latency": latency(a.rate, a.seconds, a.partitions)}, indent=2))
