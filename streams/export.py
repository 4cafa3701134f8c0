"""``tollguard export``: copy a topic, from its beginning, into a JSONL file (kafka-python).

For data scientists: a month of ``<prefix>.cdr`` and ``<prefix>.security`` becomes the input
of ``tollguard train`` or ``notebooks/retrain``. Records are written as they are (one per
line; values with newlines are re-serialised compactly).
"""

from __future__ import annotations

import json
import sys
import time

from .config import Config
from .connect import kafka_python_kwargs, preflight

SHORT = ("cdr", "security", "alerts", "actions", "dlq", "blocklist", "incidents")


def main(args) -> int:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError
    config = Config.from_env()
    topic = config.topic(args.topic) if args.topic in SHORT else args.topic
    existing = preflight(config)
    if topic not in existing:
        ours = sorted(t for t in existing if t.startswith(config.prefix + "."))
        print(f"export: no topic {topic} on {config.where}" + (f"; there are {', '.join(ours)}" if ours else ""),
              file=sys.stderr)
        return 2
    try:
        consumer = KafkaConsumer(topic, **kafka_python_kwargs(config), auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=500)
    except KafkaError as exc:
        print(config.redact(f"export: cannot reach Kafka at {config.where}: {exc}"), file=sys.stderr)
        return 1
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    n, last = 0, time.monotonic()
    try:
        while args.max is None or n < args.max:
            got = False
            for msg in consumer:
                value = msg.value or b""
                if b"\n" in value:
                    try:
                        value = json.dumps(json.loads(value), separators=(",", ":")).encode()
                    except ValueError:
                        value = value.replace(b"\n", b" ")
                out.write(value + b"\n")
                n += 1
                got = True
                if args.max is not None and n >= args.max:
                    break
            if got:
                last = time.monotonic()
            elif time.monotonic() - last >= args.idle_timeout:
                break
    finally:
        consumer.close()
        if out is not sys.stdout.buffer:
            out.close()
    print(f"export: {n} records from {topic} -> {args.out}", file=sys.stderr)
    return 0
