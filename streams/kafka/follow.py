"""Following a compacted topic from its start, on a thread of its own (kafka-python): the worker's ranges
and models, the verdict's ranges. One loop, so each reader retries, logs and survives the same way."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger("tollguard.follow")


def follow_topic(config, topic: str, apply: Callable[[bytes | None, bytes | None], bool], *, what: str, kept: str,
                 after_poll: Callable[[], None] | None = None, stop: threading.Event | None = None,
                 **consumer_kwargs) -> None:
    """Read ``topic`` from its start and keep reading, on the calling thread; never raises.

    ``apply(key, value)`` takes each record (False: not a ``what``, skipped with a warning); ``after_poll``
    runs after each poll; ``kept`` says what stays in force while the topic cannot be read."""
    from kafka import KafkaConsumer
    from streams.kafka.connect import kafka_python_kwargs
    bad = 0
    while stop is None or not stop.is_set():
        try:
            from streams.kafka.topics import ensure_read
            ensure_read(config, [topic])
            consumer = KafkaConsumer(topic, **kafka_python_kwargs(config), group_id=None, enable_auto_commit=False,
                                     allow_auto_create_topics=False,
                                     auto_offset_reset="earliest", metadata_max_age_ms=30_000, **consumer_kwargs)
        except Exception as exc:
            log.warning("%s: cannot read %s (%r); %s; retrying in 10 s", what, topic, exc, kept)
            time.sleep(10)
            continue
        try:
            while stop is None or not stop.is_set():
                for records in consumer.poll(timeout_ms=1000).values():
                    for rec in records:
                        if not apply(rec.key, rec.value):
                            bad += 1
                            log.warning("%s: record at offset %d of %s is not a %s; skipped (%d so far)",
                                        what, rec.offset, topic, what, bad)
                if after_poll is not None:
                    after_poll()
        except Exception as exc:
            log.warning("%s: reading %s failed (%r); %s; retrying in 10 s", what, topic, exc, kept)
            time.sleep(10)
        finally:
            try:
                consumer.close()
            except Exception:
                pass


def start(target: Callable[..., None], *args, name: str) -> threading.Thread:
    t = threading.Thread(target=target, args=args, name=name, daemon=True)
    t.start()
    return t
