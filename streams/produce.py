"""``tollguard produce``: send event files to Kafka with kafka-python, each to its topic by type.

Records are validated before sending (a producer should learn about a bad row at once, with
its line number), keyed for partitioning (CDRs by tenant/extension, security events by source
IP) and sent as the original bytes, so unknown fields reach the worker unchanged. With
``--batch N`` up to N events travel in one record as a JSON array (unkeyed: the worker orders
events by event time across partitions, so a batch may hold many extensions). Exits
non-zero only when the broker cannot be reached.
"""

from __future__ import annotations

import sys
import time

from .config import Config
from .events import Cdr, event_key, join_batch
from .adapters import decoded, read_events


def make_producer(config: Config):
    from kafka import KafkaProducer
    return KafkaProducer(bootstrap_servers=config.bootstrap, acks="all", linger_ms=5,
                         max_request_size=4 * 1024 * 1024, request_timeout_ms=15000)


def main(args) -> int:
    config = Config.from_env()
    from kafka.errors import KafkaError
    try:
        producer = make_producer(config)
    except KafkaError as exc:
        print(f"produce: cannot reach Kafka at {config.broker}: {exc}", file=sys.stderr)
        return 1
    from .topics import ensure_topics
    ensure_topics(config)
    counts = {config.cdr: 0, config.security: 0}
    rejects = 0
    batch_size = max(1, getattr(args, "batch", 1))
    batches: dict[str, list[bytes]] = {config.cdr: [], config.security: []}
    t0 = time.perf_counter()
    for source, n, raw, event, error in decoded(read_events(args.files, args.input, args.tz, args.tenant)):
        if error is not None:
            rejects += 1
            print(f"{source}:{n}: rejected: {error}", file=sys.stderr)
            continue
        topic = config.cdr if isinstance(event, Cdr) else config.security
        counts[topic] += 1
        if batch_size <= 1:
            producer.send(topic, key=event_key(event).encode(), value=raw)
            continue
        pending = batches[topic]
        pending.append(raw)
        if len(pending) >= batch_size:
            producer.send(topic, key=None, value=join_batch(pending))
            pending.clear()
    for topic, pending in batches.items():
        if pending:
            producer.send(topic, key=None, value=join_batch(pending))
    try:
        producer.flush(timeout=60)
    except KafkaError as exc:
        print(f"produce: delivery failed: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close()
    dt = time.perf_counter() - t0
    print(f"produce: {counts[config.cdr]} to {config.cdr}, {counts[config.security]} to {config.security}, "
          f"{rejects} rejected, in {dt:.2f} s", file=sys.stderr)
    return 0
