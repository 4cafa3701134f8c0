"""Fixtures for tests against the real broker started by scripts/kafka.sh (make test starts it)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER_LOG = ROOT / ".cache" / "kafka" / "broker.log"
BOOTSTRAP = os.environ.get("TOLLGUARD_BROKER", "kafka://127.0.0.1:9092").split("://", 1)[-1]


@pytest.fixture(autouse=True)
def drop_test_topics(request):
    """After each test (and its workers' teardown), delete the topics its prefixes made. Without this the
    broker ends a run with thousands of topics and ~10k partitions on two cores, and every client's
    metadata fetch, every worker's start and every CLI call of a later test pays for all of them
    (a `tollguard incidents` took 1.5 s there, 0.2 s on a clean broker). Only this test's prefixes
    (the ``prefix`` fixture's; doctor adds a letter): another run on the same broker keeps its topics."""
    yield
    mine = getattr(request.node, "tollguard_prefixes", [])
    if not mine:
        return
    pattern = re.compile("^(" + "|".join(re.escape(p) for p in mine) + ")[a-z]?[.-]")
    try:
        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=[BOOTSTRAP], request_timeout_ms=15000)
        try:
            doomed = [t for t in admin.list_topics() if pattern.match(t)]
            if doomed:
                admin.delete_topics(doomed, timeout_ms=30000)
        finally:
            admin.close()
    except Exception as exc:  # a broker a test left down: the next test's own check says so
        print(f"drop_test_topics: {type(exc).__name__}: {exc}", file=sys.stderr)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/kafka/" in str(item.fspath):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def broker() -> str:
    ok = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "status"], capture_output=True).returncode == 0
    if not ok:
        pytest.fail(f"no Kafka broker answers on {BOOTSTRAP}: run `make kafka-up` (broker log: {BROKER_LOG})")
    return BOOTSTRAP


SECURE = ROOT / ".cache" / "kafka" / "secure"


@pytest.fixture(scope="session")
def secure_env() -> dict:
    """The TOLLGUARD_* settings of a second broker (SASL_SSL, SCRAM, client certificates; scripts/kafka.sh
    secure-up), started once for the session. Its port +4 is advertised for a proxy a test may run."""
    up = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "secure-up"], capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, f"the SASL_SSL broker did not start:\n{up.stderr}"
    env = dict(line.split("=", 1) for line in (SECURE / "secure.env").read_text().splitlines() if "=" in line)
    yield env
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "secure-down"], capture_output=True, timeout=60)


@pytest.fixture
def prefix(request) -> str:
    p = f"t{uuid.uuid4().hex[:10]}"
    request.node.tollguard_prefixes = [*getattr(request.node, "tollguard_prefixes", []), p]
    return p


class Worker:
    def __init__(self, prefix: str, log: Path, policy: str | None = None, partitions: int = 2,
                 model: bool = False, env: dict | None = None):
        self.prefix, self.log_path, self.policy, self.partitions = prefix, log, policy, partitions
        self.model = model
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=self.prefix, TOLLGUARD_BROKER=f"kafka://{BOOTSTRAP}",
                   TOLLGUARD_PARTITIONS=str(self.partitions))
        env.update(self.extra_env)  # may point at another broker (the secured one)
        cmd = [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"]
        if self.policy:
            cmd += ["--policy", self.policy]
        if not self.model:
            cmd += ["--no-model"]
        self.logf = open(self.log_path, "ab")
        self.start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.logf, stderr=subprocess.STDOUT, cwd=ROOT)
        return self

    def ready(self, timeout: float = 90.0) -> "Worker":
        """Wait until the worker has created its topics and joined its group (so tests never race topic creation)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if b"Worker]: Ready" in self.log_path.read_bytes()[self.start_offset:]:
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout} s\n{self.log()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()

    def log(self) -> str:
        """Rebalances, warnings and errors from the whole log, then its tail."""
        text = self.log_path.read_text(errors="replace")
        notable = [ln for ln in text.splitlines() if ("WARNING" in ln or "ERROR" in ln or "generation" in ln)
                   and "is overlapping" not in ln]
        return "\n".join(["notable:"] + notable[-40:] + ["tail:", text[-3000:]])


@pytest.fixture
def worker(tmp_path, prefix, broker, request):
    started: list[Worker] = []

    def start(policy: str | None = None, partitions: int = 2, model: bool = False, wait: bool = True,
              env: dict | None = None) -> Worker:
        w = Worker(prefix, tmp_path / f"worker{len(started)}.log", policy, partitions, model, env).start()
        started.append(w)
        return w.ready() if wait else w

    yield start
    for w in started:
        w.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for w in started:
            print(f"--- worker log {w.log_path} ---\n{w.log()}\n(broker log: {BROKER_LOG})")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def produce(broker: str, topic: str, values: list[bytes], keys: list[bytes | None] | None = None) -> None:
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=[broker], acks="all")
    for i, v in enumerate(values):
        p.send(topic, key=keys[i] if keys else None, value=v)
    p.flush(30)
    p.close()


def consume(broker: str, topic: str, want: int | None, timeout: float = 60.0, predicate=None,
            idle: float = 0.0) -> list[dict]:
    """Read a topic from the beginning until `want` records (matching predicate) arrived or timeout.

    With ``idle``, keep reading after `want` until nothing new arrived for ``idle`` seconds
    (to see extra records a test must not find). ``want=None``: everything, read until something came
    and then nothing new for ``idle`` seconds (or the timeout, when nothing comes at all); not for a check
    that something is absent, which reads until its timeout (``want=10**6``).
    """
    if want is None and not idle:
        raise ValueError("consume(want=None) needs idle: the quiet time that ends the read")
    enough = (lambda n: n > 0) if want is None else (lambda n: n >= want)
    from kafka import KafkaConsumer
    c = KafkaConsumer(bootstrap_servers=[broker], auto_offset_reset="earliest", enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=500)
    c.subscribe([topic])
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            for msg in c:
                rec = json.loads(msg.value)
                if predicate is None or predicate(rec):
                    out.append(rec)
                    last_new = time.monotonic()
                if enough(len(out)) and not idle:
                    break
            if enough(len(out)) and (not idle or time.monotonic() - last_new >= idle):
                break
    finally:
        c.close()
    return out
