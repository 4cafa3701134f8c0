"""Stream-path measurements on the real broker (the one scripts/kafka.sh starts).

Each measurement uses a fresh topic prefix, so runs never see each other's data:

- ``drain``: a data file is produced first (one event per record, keyed as ``tollguard
  produce`` keys them, or JSON-array batch records), then 1 or 2 worker processes are
  started; the rate is events / (the first worker ready -> every input and repartition
  offset committed by the group: every event applied, its alerts sent and its state
  written). With 2 workers their rebalance falls inside the measured time. RSS of each
  worker and the size of the extension state in its changelog are read at the end.
- ``bare_consumer``: an aiokafka ``getmany`` loop that only decodes the same records (the
  floor any Python consumer pays).
- ``latency``: background traffic at a fixed events/s, one event per Kafka record, sent
  every 10 ms and spread over every input partition, plus ten scanner probes per second
  from unique IPs, all stamped with the wall clock; latency = wall time the alert was read
  - wall time the probe was created.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from streams.core.types import SCOPES  # noqa: E402  (bench scripts run from the checkout)
from streams.domain.events import join_batch  # noqa: E402
BOOT = os.environ.get("TOLLGUARD_BROKER", "kafka://127.0.0.1:9092").split("://", 1)[-1]
LOGS = ROOT / ".cache" / "bench" / "logs"


def new_prefix(kind: str) -> str:
    return f"b{kind}{uuid.uuid4().hex[:8]}"


def drop_topics(prefix: str) -> None:
    """Delete a measurement's topics, so each run starts on a broker carrying no earlier run's data."""
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=[BOOT])
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine, timeout_ms=30_000)
    finally:
        admin.close()


def ensure(prefix: str, partitions: int) -> None:
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_PARTITIONS=str(partitions))
    code = "from streams.kafka.config import Config; from streams.kafka.topics import ensure_topics; ensure_topics(Config.from_env())"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def start_worker(prefix: str, partitions: int, tag: str, model: bool = False,
                 policy: Path | None = None) -> tuple[subprocess.Popen, Path]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{prefix}-{tag}.log"
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_PARTITIONS=str(partitions))
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"] + ([] if model else ["--no-model"])
    if policy is not None:
        cmd += ["--policy", str(policy)]
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    return proc, log


def wait_ready(log: Path, count: int = 1, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.read_bytes().count(b"Worker]: Ready") >= count:
            return
        time.sleep(0.25)
    raise SystemExit(f"worker not ready after {timeout} s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def read_records(path: Path, batch: int) -> list[tuple[str, bytes | None, bytes, int]]:
    """(topic suffix, key, value, events) to send: one event per record, or arrays of ``batch`` events."""
    recs: list = []
    pending: dict[str, list[bytes]] = {"cdr": [], "security": []}
    with open(path, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            ev = json.loads(line)
            topic = "cdr" if ev["type"] == "cdr" else "security"
            if batch <= 1:
                key = f"{ev.get('tenant', 'default')}/{ev['src']}" if topic == "cdr" else ev["src_ip"]
                recs.append((topic, key.encode(), line, 1))
                continue
            pending[topic].append(line)
            if len(pending[topic]) >= batch:
                recs.append((topic, None, join_batch(pending[topic]), batch))
                pending[topic] = []
    for topic, lines in pending.items():
        if lines:
            recs.append((topic, None, join_batch(lines), len(lines)))
    return recs


def committed_lag(prefix: str, admin, consumer, topics: list[str]) -> int:
    from kafka import TopicPartition
    tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or [])]
    ends = consumer.end_offsets(tps)
    group = f"{prefix}-worker"
    committed = admin.list_group_offsets(group).get(group, {})
    return sum(ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
               for tp in tps)


def produce_backlog(prefix: str, recs: list) -> None:
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=[BOOT], acks=1, linger_ms=20, batch_size=512 * 1024,
                      max_request_size=8 * 1024 * 1024)
    for topic, key, value, _ in recs:
        p.send(f"{prefix}.{topic}", key=key, value=value)
    p.flush()
    p.close()


def drain(path: Path, partitions: int, batch: int, workers: int = 1, model: bool = False,
          timeout: float = 1800, policy: Path | None = None, scope: str = "ext") -> dict:
    """The worker's own rate: a backlog produced first, then drained (see the module doc)."""
    from kafka import KafkaAdminClient, KafkaConsumer

    prefix = new_prefix("dr")
    ensure(prefix, partitions)
    recs = read_records(path, batch)
    n = sum(r[3] for r in recs)
    produce_backlog(prefix, recs)
    procs = [start_worker(prefix, partitions, f"w{i}", model, policy) for i in range(workers)]
    try:
        wait_ready(procs[0][1])
        t0 = time.monotonic()
        admin = KafkaAdminClient(bootstrap_servers=[BOOT])
        c = KafkaConsumer(bootstrap_servers=[BOOT])
        # every scope's repartition topic (the tenant scope too): the drain is over when all are committed
        topics = [f"{prefix}.{t}" for t in ("cdr", "security", *(f"by-{s}{lane}" for s in SCOPES for lane in ("", "-calls")))]
        while True:
            c.topics()
            if committed_lag(prefix, admin, c, topics) == 0 and time.monotonic() - t0 > 2:
                break
            if time.monotonic() - t0 > timeout:
                raise SystemExit(f"worker did not catch up in {timeout} s; see {procs[0][1]}")
            time.sleep(0.5)
        dt = time.monotonic() - t0
        rss = [round(rss_mb(proc.pid), 1) for proc, _ in procs]
        state = changelog_state(prefix, scope)
        admin.close()
        c.close()
        return {"events": n, "records": len(recs), "batch": batch, "partitions": partitions, "workers": workers,
                "seconds": round(dt, 2), "events_per_s": n / dt, "rss_mb": rss, **state}
    finally:
        for proc, _ in procs:
            stop(proc)
        drop_topics(prefix)


def changelog_state(prefix: str, scope: str) -> dict:
    """Extension state as the changelog holds it: live keys and serialized bytes per key (latest value)."""
    from kafka import KafkaConsumer
    c = KafkaConsumer(f"{prefix}-worker-state-{scope}-changelog", bootstrap_servers=[BOOT],
                      auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=3000)
    latest: dict[bytes, int] = {}
    records = tombstones = total = 0
    for m in c:
        records += 1
        total += len(m.value or b"") + len(m.key or b"")
        if m.value is None:
            tombstones += 1
            latest.pop(m.key, None)
        else:
            latest[m.key] = len(m.value) + len(m.key or b"")
    c.close()
    keys = len(latest)
    return {"state_keys": keys, "state_bytes_per_key": round(sum(latest.values()) / keys, 1) if keys else None,
            "changelog_records": records, "changelog_tombstones": tombstones, "changelog_mb": round(total / 1e6, 1),
            "live_mb": round(sum(latest.values()) / 1e6, 1)}


def bare_consumer(path: Path, partitions: int, batch: int) -> dict:
    """Produce the same records, then time an aiokafka getmany loop that only json-decodes them."""
    from kafka import KafkaProducer

    prefix = new_prefix("bare")
    ensure(prefix, partitions)
    recs = read_records(path, batch)
    p = KafkaProducer(bootstrap_servers=[BOOT], acks=1, linger_ms=20, batch_size=512 * 1024,
                      max_request_size=8 * 1024 * 1024)
    for topic, key, value, _ in recs:
        p.send(f"{prefix}.{topic}", key=key, value=value)
    p.flush()
    p.close()
    n_records = len(recs)

    async def consume() -> tuple[int, float]:
        from aiokafka import AIOKafkaConsumer
        c = AIOKafkaConsumer(f"{prefix}.cdr", f"{prefix}.security", bootstrap_servers=BOOT,
                             auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
        await c.start()
        events = records = 0
        t0 = None
        try:
            while records < n_records:
                got = await c.getmany(timeout_ms=1000, max_records=10_000)
                if t0 is None and got:
                    t0 = time.monotonic()
                for msgs in got.values():
                    for m in msgs:
                        v = json.loads(m.value)
                        events += len(v) if isinstance(v, list) else 1
                        records += 1
            return events, time.monotonic() - t0
        finally:
            await c.stop()

    events, dt = asyncio.run(consume())
    drop_topics(prefix)
    return {"events": events, "records": n_records, "batch": batch, "seconds": round(dt, 2), "events_per_s": events / dt}


def latency(rate: float, seconds: int, partitions: int, tick_s: float = 0.01, warmup: float = 5.0) -> dict:
    """Probes start after ``warmup`` seconds of background traffic (first-record metadata lookups
    and topic creation are start-up, not the steady state a carrier runs in)."""
    from kafka import KafkaConsumer, KafkaProducer

    prefix = new_prefix("lat")
    ensure(prefix, partitions)
    proc, log = start_worker(prefix, partitions, "w0")
    try:
        wait_ready(log)
        p = KafkaProducer(bootstrap_servers=[BOOT], acks=1, linger_ms=2)
        c = KafkaConsumer(f"{prefix}.alerts", bootstrap_servers=[BOOT], auto_offset_reset="earliest",
                          group_id=None, consumer_timeout_ms=1)
        sources = [(f"{prefix}.{t}", part) for t in ("cdr", "security") for part in range(partitions)]
        sent: dict[str, float] = {}
        warmed: dict[str, float] = {}
        got: dict[str, float] = {}
        base = datetime.now(timezone.utc)  # live traffic: stamped with the wall clock
        per_tick = rate * tick_s
        t0 = time.monotonic()
        i = ticks = 0
        owed = 0.0

        def poll() -> None:
            for m in c:
                a = json.loads(m.value)
                if a["rule"] == "scanner_user_agent":
                    got.setdefault(a["subject"], time.monotonic())

        while time.monotonic() - t0 < seconds + warmup:
            now = time.monotonic()
            ts = (base + timedelta(seconds=now - t0)).isoformat()
            owed += per_tick
            k = int(owed)
            owed -= k
            chunks: list[list[bytes]] = [[] for _ in sources]
            warm = now - t0 < warmup
            for j in range(k):
                if i % int(rate / 10) == 0:  # ten probes per second (those of the warm-up are not counted)
                    nprobe = len(sent) + len(warmed)
                    probe_ip = f"203.{nprobe // 62500}.{nprobe // 250 % 250}.{nprobe % 250 + 1}"
                    ev = {"type": "security", "ts": ts, "service": "sip", "src_ip": probe_ip, "outcome": "request",
                          "user_agent": "friendly-scanner"}
                    (warmed if warm else sent)[probe_ip] = now
                elif i % 2:
                    ev = {"type": "security", "ts": ts, "service": "sip", "src_ip": f"10.9.{i % 250}.{i // 250 % 250}",
                          "outcome": "success", "action": "register", "account": str(1000 + i % 500),
                          "user_agent": "Yealink SIP-T46U", "contact": f"sip:{1000 + i % 500}@10.9.{i % 250}.1"}
                else:
                    ev = {"type": "cdr", "call_id": f"b{i}", "start": ts, "end": ts, "src": str(2000 + i % 500),
                          "dst": "02079460000", "tenant": "t"}
                # keep every input partition moving (watermark): spread the tick's events over all of them
                chunks[j % len(sources)].append(json.dumps(ev).encode())
                i += 1
            for (topic, part), chunk in zip(sources, chunks):
                for value in chunk:  # one event per Kafka record, the shape upstream producers send
                    p.send(topic, value=value, partition=part)
            p.flush()
            ticks += 1
            poll()
            time.sleep(max(0.0, t0 + ticks * tick_s - time.monotonic()))
        end = time.monotonic() + 15
        while time.monotonic() < end and len(got) < len(sent):
            poll()
            time.sleep(0.005)
        lat = sorted((got[ip] - sent[ip]) * 1000 for ip in sent if ip in got)
        q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
        return {"events_per_s": rate, "sent_events": i, "seconds": seconds, "probes": len(sent), "alerts": len(lat),
                "p50_ms": q[49], "p99_ms": q[98], "max_ms": max(lat) if lat else None,
                "rss_mb": round(rss_mb(proc.pid), 1),
                "timeline": [(round(sent[ip] - t0, 3), round((got[ip] - sent[ip]) * 1000, 1)) for ip in sent if ip in got]}
    finally:
        stop(proc)
        drop_topics(prefix)
