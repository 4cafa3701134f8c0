"""Reading a topic to its end and sending one record (kafka-python): what the SOC commands and the console share.

``TopicReader`` reads from the start up to the end offsets as of each call; ``latest`` keeps each
incident's newest record; ``send_one`` sends one record and waits for the broker's acknowledgement.
"""

from __future__ import annotations

import json
import sys
import time

from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs


class TopicReader:
    """Reads a topic from its start up to its end offsets, taken anew at each call: a busy topic
    (updates every few ms) is read to a known point instead of waiting for a quiet moment."""

    def __init__(self, config: Config, topic: str):
        from kafka import KafkaConsumer, TopicPartition

        from streams.kafka.topics import ensure_read
        ensure_read(config, [topic])
        self.consumer = KafkaConsumer(**kafka_python_kwargs(config), enable_auto_commit=False, group_id=None,
                                      allow_auto_create_topics=False)
        parts = self.consumer.partitions_for_topic(topic) or set()
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if self.tps:  # a topic not there yet reads as empty
            self.consumer.assign(self.tps)
            self.consumer.seek_to_beginning(*self.tps)

    def to_end(self, deadline: float, stall: float = 10.0):
        """JSON values (None for unreadable ones) up to the end offsets as of now; stops at ``deadline``
        or after ``stall`` seconds without progress (``self.complete`` says whether the end was reached)."""
        c = self.consumer
        ends = c.end_offsets(self.tps) if self.tps else {}
        last = time.monotonic()
        self.complete = False
        while True:
            if all(c.position(tp) >= ends[tp] for tp in self.tps):
                self.complete = True
                return
            now = time.monotonic()
            if now >= deadline or now - last >= stall:
                return
            for records in c.poll(timeout_ms=300).values():
                last = time.monotonic()
                for msg in records:
                    try:
                        yield json.loads(msg.value) if msg.value else None
                    except ValueError:
                        yield None

    def close(self) -> None:
        self.consumer.close()


def latest(records, into: dict | None = None) -> dict[str, dict]:
    """Each incident's newest record (the highest version) among ``records``; unreadable ones skipped."""
    into = {} if into is None else into
    for rec in records:
        if not isinstance(rec, dict) or rec.get("type") != "incident" or not isinstance(rec.get("incident_id"), str):
            continue
        old = into.get(rec["incident_id"])
        if old is None or rec.get("version", 0) >= old.get("version", 0):
            into[rec["incident_id"]] = rec
    return into


def read_incidents(config: Config, timeout: float = 60.0) -> dict[str, dict]:
    reader = TopicReader(config, config.incidents)
    try:
        out = latest(reader.to_end(time.monotonic() + timeout))
        if not reader.complete:
            print(f"incidents: {config.incidents} was not read to its end within {timeout:g} s; the list may miss some",
                  file=sys.stderr)
        return out
    finally:
        reader.close()


def send_one(config: Config, topic: str, key: bytes, value: bytes) -> None:
    from kafka import KafkaProducer
    from streams.kafka.topics import ensure_topics
    ensure_topics(config, names=[topic])
    producer = KafkaProducer(**kafka_python_kwargs(config), acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()
