"""``tollguard produce``: send event files to Kafka with kafka-python, each to its topic by type.

Records are validated before sending (a producer should learn about a bad row at once, with
its line number), keyed for partitioning (CDRs by tenant/extension, security events by source
IP) and sent as the original bytes, so unknown fields reach the worker unchanged. With
``--batch N`` up to N events travel in one record as a JSON array (unkeyed: the worker orders
events by event time across partitions, so a batch may hold many extensions).

Nothing is lost silently: every record's delivery is checked. A batch is cut before it would
outgrow the topic's ``max.message.bytes``; a single event larger than that is refused with its
line. When the broker stops answering, sending stops at the line it had reached. The exit
status is 1 whenever any event was not acknowledged, with the count and the first lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from streams.commands.common import input_args
from streams.domain.events import Cdr, event_key, join_batch
from streams.intake import FormatError, decoded, from_args, report
from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs
from streams.reference.text import safe

HELP = "send event files, CDR exports or security logs to Kafka"

DEFAULT_LIMIT = 1_048_588   # the broker's default message.max.bytes
OVERHEAD = 256              # record and batch headers around one value
SHOWN = 10                  # failures listed by line; the rest are counted


class Ledger:
    """Delivery accounting, fed by the producer's callbacks (its I/O thread)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.acked = self.failed = 0
        self.failed_sent = 0  # failures of records that were handed to the producer (part of ``failed``)
        self.failures: list[tuple[str, str]] = []

    def refuse(self, where: str, reason: str, events: int = 1) -> None:
        with self.lock:
            self.failed += events
            if len(self.failures) < SHOWN:
                self.failures.append((where, reason))

    def track(self, future, where: str, events: int) -> None:
        with self.lock:
            self.sent += events

        def ok(_meta):
            with self.lock:
                self.acked += events
        def failed(exc):
            self.refuse(where, _describe(exc), events)
            with self.lock:
                self.failed_sent += events
        future.add_callback(ok)
        future.add_errback(failed)

    @property
    def unconfirmed(self) -> int:
        return self.sent - self.acked - self.failed_sent


class Sender:
    """Cuts batches by count and bytes, sends each record, and tracks its delivery."""

    def __init__(self, producer, ledger: Ledger, batch: int, limit: int):
        self.producer, self.ledger, self.batch, self.limit = producer, ledger, batch, limit
        self.pending: dict[str, tuple[list[bytes], list[str], int]] = {}

    def add(self, topic: str, key: bytes, raw: bytes, where: str) -> None:
        if len(raw) + OVERHEAD > self.limit:
            self.ledger.refuse(where, f"event of {len(raw):,} bytes is larger than the topic accepts ({self.limit:,})")
            return
        if self.batch <= 1:
            self._send(topic, key, raw, where, 1)
            return
        raws, wheres, size = self.pending.get(topic, ([], [], 2))
        if raws and size + len(raw) + 1 + OVERHEAD > self.limit:
            try:
                self.flush(topic)
            except Stop:
                self.ledger.refuse(where, "not sent: the broker took no more records")
                raise
            raws, wheres, size = [], [], 2
        raws.append(raw)
        wheres.append(where)
        self.pending[topic] = (raws, wheres, size + len(raw) + 1)
        if len(raws) >= self.batch:
            self.flush(topic)

    def flush(self, topic: str | None = None) -> None:
        for t in [topic] if topic else list(self.pending):
            raws, wheres, _ = self.pending.pop(t, ([], [], 0))
            if raws:
                where = wheres[0] if len(wheres) == 1 else f"{wheres[0]} to {wheres[-1]}"
                self._send(t, None, join_batch(raws), where, len(raws))

    def abandon(self) -> None:
        """Sending stopped: what waits in unsent batches counts as not delivered."""
        for raws, wheres, _ in self.pending.values():
            if raws:
                self.ledger.refuse(f"{wheres[0]} to {wheres[-1]}", "not sent: the broker took no more records", len(raws))
        self.pending.clear()

    def _send(self, topic, key, value, where: str, events: int) -> None:
        from kafka.errors import KafkaError
        try:
            future = self.producer.send(topic, key=key, value=value)
        except KafkaError as exc:  # buffer full for max_block_ms, metadata unavailable: the broker is gone
            self.ledger.refuse(where, _describe(exc), events)
            raise Stop(where) from exc
        self.ledger.track(future, where, events)


class Stop(Exception):
    """The broker stopped taking records; sending ends at this line."""


def make_producer(config: Config, limit: int, timeout_s: float):
    from kafka import KafkaProducer
    ms = max(2000, int(timeout_s * 1000))
    # a record is failed (its future resolved) within ``timeout``: flushing for that long settles every record
    return KafkaProducer(acks="all", linger_ms=5, max_request_size=limit + 4096, request_timeout_ms=min(ms // 2, 15000),
                         delivery_timeout_ms=ms, max_block_ms=ms, **kafka_python_kwargs(config))


def topic_limit(config: Config, topics: list[str]) -> int:
    """The smallest ``max.message.bytes`` of ``topics`` (the broker's default when it cannot be read)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import KafkaError
    try:
        admin = KafkaAdminClient(request_timeout_ms=10000, **kafka_python_kwargs(config))
    except KafkaError:
        return DEFAULT_LIMIT
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, ["max.message.bytes"]) for t in topics])
        values = _limits_from(res)
        return min(values) if values else DEFAULT_LIMIT
    except (KafkaError, ValueError, TypeError, AttributeError, KeyError):
        return DEFAULT_LIMIT  # no DescribeConfigs right: the broker's default, and per-record checks catch the rest
    finally:
        admin.close()


def _limits_from(res) -> list[int]:
    """``max.message.bytes`` values from kafka-python's answer ({'topic': {name: {config: {'value': ..}}}})."""
    out = []
    for configs in (res.get("topic") or {}).values():
        entry = configs.get("max.message.bytes") or {}
        if entry.get("value"):
            out.append(int(entry["value"]))
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    input_args(p)
    p.add_argument("--policy", metavar="FILE", help="policy YAML whose cdr: section says what export columns mean")
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="send up to N events per Kafka record, as a JSON array (default 1: one event per record)")
    p.add_argument("--max-record-bytes", type=int, default=None, metavar="B",
                   help="cut batch records below B bytes (default: the topics' max.message.bytes)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long a record may wait for the broker before it counts as lost (default 30)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any line was rejected (default: rejects are reported, and exit 0 when every valid "
                        "event was delivered)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="JSONL event files, PBX CDR exports (CSV) or PBX security logs (as --input says); '-' for stdin")


def main(args) -> int:
    from streams.policy import Policy
    policy = Policy.load(args.policy) if getattr(args, "policy", None) else None  # a bad input fails before Kafka is asked
    missing = [f for f in args.files if f != "-" and not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(2, "No such file or directory", missing[0])
    config = Config.from_env()
    from kafka.errors import KafkaError

    from streams.kafka.topics import ensure_topics
    topics = [config.cdr, config.security]
    ensure_topics(config, names=topics)
    limit = args.max_record_bytes or topic_limit(config, topics)
    try:
        producer = make_producer(config, limit, args.timeout)
    except KafkaError as exc:
        print(config.redact(f"produce: cannot reach Kafka at {config.where}: {exc}"), file=sys.stderr)
        return 1
    ledger, rejects, t0 = Ledger(), 0, time.perf_counter()
    counts = {config.cdr: 0, config.security: 0}
    sender = Sender(producer, ledger, max(1, args.batch), limit)
    stopped, unsent = None, 0
    records, summary = from_args(args, policy)
    format_error = None
    try:
        for source, n, raw, event, error in decoded(records, summary):
            if error is not None:
                rejects += 1
                print(f"{safe(source, 300)}:{n}: rejected: {safe(error, 300)}", file=sys.stderr)
                continue
            if stopped:
                unsent += 1  # read on only to count what was not sent, so every line is accounted for
                continue
            topic = config.cdr if isinstance(event, Cdr) else config.security
            counts[topic] += 1
            try:
                sender.add(topic, event_key(event).encode(), raw, f"{source}:{n}")
            except Stop as stop:
                stopped = str(stop)
                sender.abandon()
    except FormatError as exc:  # what the files before it gave is still sent and counted below
        format_error = str(exc)
    if not stopped:
        try:
            sender.flush()
        except Stop as stop:
            stopped = str(stop)
            sender.abandon()
    status = _finish(producer, ledger, config, counts, rejects, (stopped, unsent), time.perf_counter() - t0,
                     args.timeout)
    status = max(status, report(summary, "produce"))
    if format_error:
        print(f"produce: {safe(format_error, 300)}; that file and the ones after it were not read", file=sys.stderr)
        return 2
    if rejects and getattr(args, "strict", False):
        print(f"produce: {rejects} line(s) rejected (--strict)", file=sys.stderr)
        status = max(status, 1)
    return status


def _finish(producer, ledger: Ledger, config: Config, counts, rejects: int, stop, dt: float, timeout: float) -> int:
    from kafka.errors import KafkaError
    try:
        producer.flush(timeout=timeout + 5)  # every record is delivered or expired by then
    except KafkaError:
        pass  # what is still unconfirmed is counted below
    try:
        producer.close(timeout=5)
    except KafkaError:
        producer.close = lambda *a, **k: None  # given up on: no second wait (and traceback) at interpreter exit
    stopped, unsent = stop
    lost = ledger.failed + ledger.unconfirmed + unsent
    print(f"produce: {counts[config.cdr]} to {config.cdr}, {counts[config.security]} to {config.security}, "
          f"{rejects} rejected, {ledger.acked} acknowledged, {lost} not acknowledged, in {dt:.2f} s", file=sys.stderr)
    for where, reason in ledger.failures:
        print(f"{where}: not delivered: {config.redact(safe(reason, 300))}", file=sys.stderr)
    if ledger.failed > len(ledger.failures):
        print(f"... and {ledger.failed - len(ledger.failures)} more events not delivered", file=sys.stderr)
    if ledger.unconfirmed:
        print(f"{ledger.unconfirmed} events handed to the producer but not confirmed by the broker within "
              f"{timeout + 5:g} s (they may or may not have landed)", file=sys.stderr)
    if stopped:
        print(f"produce: stopped at {stopped}: the broker took no more records; the {unsent} valid events after "
              "it were not sent", file=sys.stderr)
    return 1 if (lost or stopped) else 0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"

