"""`tollguard produce` accounts for every event: batches cut to the broker's size limit, an event too
large refused with its line, and a connection that dies mid-run reported with a non-zero exit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

from tests.builders import sec
from tests.kafka.conftest import ROOT


def events_file(path, n: int, big_at: int | None = None):
    with open(path, "w") as fh:
        for i in range(n):
            ev = sec(t=i * 0.01, ip=f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", action="register", account="1001")
            if i == big_at:
                ev.update(user_agent="U" * 500, contact="C" * 500, reason="R" * 500)
            fh.write(json.dumps(ev) + "\n")
    return path


def produce(env: dict, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGUARD_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", *map(str, args)], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def counts(stderr: str) -> tuple[int, int]:
    m = re.search(r"(\d+) acknowledged, (\d+) not acknowledged", stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2))


def landed(bootstrap: str, topic: str) -> int:
    """Events on a topic (records may be arrays)."""
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=[bootstrap], auto_offset_reset="earliest", group_id=None,
                      consumer_timeout_ms=3000, fetch_max_bytes=64 * 1024 * 1024)
    n = 0
    for m in c:
        v = json.loads(m.value)
        n += len(v) if isinstance(v, list) else 1
    c.close()
    return n


def small_topics(bootstrap: str, prefix: str, limit: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    a = KafkaAdminClient(bootstrap_servers=[bootstrap])
    a.create_topics([NewTopic(f"{prefix}.{t}", 2, 1, topic_configs={"max.message.bytes": str(limit)})
                     for t in ("cdr", "security")])
    a.close()


def test_batches_are_cut_below_the_topics_size_limit(broker, prefix, tmp_path):
    small_topics(broker, prefix, 100_000)
    path = events_file(tmp_path / "ev.jsonl", 20_000)
    r = produce({"TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_TOPIC_PREFIX": prefix}, "--batch", 6000, path)
    assert r.returncode == 0, r.stderr
    assert counts(r.stderr) == (20_000, 0)
    assert landed(broker, f"{prefix}.security") == 20_000


def test_an_event_larger_than_the_limit_is_refused_with_its_line(broker, prefix, tmp_path):
    small_topics(broker, prefix, 1_500)
    path = events_file(tmp_path / "ev.jsonl", 6, big_at=3)
    r = produce({"TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_TOPIC_PREFIX": prefix}, path)
    assert r.returncode == 1
    assert counts(r.stderr) == (5, 1) and re.search(r"ev\.jsonl:4: not delivered: event of [\d,]+ bytes", r.stderr)
    assert landed(broker, f"{prefix}.security") == 5


def test_a_connection_that_dies_mid_run_is_counted_and_fails_the_run(secure_env, prefix, tmp_path):
    from tests.kafka.proxy import CuttableProxy
    base = int(secure_env["TOLLGUARD_BROKER"].rsplit(":", 1)[1])
    internal = f"127.0.0.1:{base + 2}"
    proxy = CuttableProxy(base + 4, base + 3)
    path = events_file(tmp_path / "ev.jsonl", 120_000)
    env = {"TOLLGUARD_BROKER": f"kafka://127.0.0.1:{base + 4}", "TOLLGUARD_TOPIC_PREFIX": prefix}

    def cut_after_some():
        end = time.monotonic() + 60
        while proxy.forwarded < 2_000_000 and time.monotonic() < end:
            time.sleep(0.01)
        proxy.cut()
    threading.Thread(target=cut_after_some, daemon=True).start()
    t0 = time.monotonic()
    r = produce(env, "--timeout", "5", path, timeout=120)
    took = time.monotonic() - t0
    assert proxy.cut_event.is_set()
    assert r.returncode == 1, r.stderr[-2000:]
    acked, lost = counts(r.stderr)
    assert acked + lost == 120_000 and lost > 0, r.stderr[-2000:]
    assert took < 90, f"produce took {took:.0f} s to give up"
    assert landed(internal, f"{prefix}.security") >= acked  # nothing reported delivered that is not there


def test_strict_makes_a_rejected_line_fail_the_run(broker, prefix, tmp_path):
    path = events_file(tmp_path / "ev.jsonl", 4)
    with open(path, "a") as fh:
        fh.write('{"type": "security", "ts": "yesterday"}\n')
    env = {"TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_TOPIC_PREFIX": prefix}
    lenient = produce(env, path)
    assert lenient.returncode == 0 and "1 rejected" in lenient.stderr  # the default, documented: rejects are reported
    strict = produce(env, "--strict", path)
    assert strict.returncode == 1 and "ev.jsonl:5: rejected" in strict.stderr and "(--strict)" in strict.stderr
