"""Which topics a backup holds, how each is read to its end, and how a restore writes it back (kafka-python).

- The compacted topics (``<prefix>.incidents``, ``.blocklist``, ``.ranges``, ``.models``; with ``--with-state``
  the worker's changelogs) keep each key's latest value, per partition, in offset order; a key whose
  latest value is a tombstone is left out, as compaction would.
- ``<prefix>.actions`` is not compacted, yet the blocks in force are folded from it (``tollguard blocks``,
  the verdict, every enforcer): its block and unblock actions are kept in order, the hang-ups left out.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from models.registry import MAX_BYTES
from streams.core.types import SCOPES
from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs
from streams.services.backup.archive import BackupError, Part, Record
from streams.services.enforce.action import BLOCK_KINDS

COMPACTED = ("incidents", "blocklist", "ranges", "models")
LOG = ("actions",)
KEPT_ACTIONS = frozenset(BLOCK_KINDS + ("unblock",))


def roles(with_state: bool) -> list[str]:
    """What a backup holds, by role (a topic's name without its prefix)."""
    state = [f"state-{s}-changelog" for s in SCOPES] + ["incidents-changelog"] if with_state else []
    return [*COMPACTED, *LOG, *state]


def is_changelog(role: str) -> bool:
    return role.endswith("-changelog")


def topic_of(config: Config, role: str) -> str:
    """The topic a role has under ``config``'s prefix: ``<prefix>.<role>`` or ``<prefix>-worker-<role>``."""
    if role in COMPACTED or role in LOG:
        return config.topic(role)
    if role in {r for r in roles(True) if is_changelog(r)}:
        return f"{config.app_id}-{role}"
    raise BackupError(f"the backup holds a topic this tollguard does not know ({role!r})")


def _consumer(config: Config):
    from kafka import KafkaConsumer
    return KafkaConsumer(**kafka_python_kwargs(config), group_id=None, enable_auto_commit=False,
                         allow_auto_create_topics=False, isolation_level="read_committed",
                         max_partition_fetch_bytes=MAX_BYTES, fetch_max_bytes=MAX_BYTES * 2)


def _keep_action(value: bytes | None) -> bool:
    try:
        rec = json.loads(value) if value else None
    except ValueError:
        return False
    return isinstance(rec, dict) and rec.get("kind") in KEPT_ACTIONS


def read(config: Config, topic: str, role: str, part: Part, deadline: float) -> tuple[int, int]:
    """Read ``topic`` from its start to its end offsets (as of now) into ``part``; its partitions and the
    records left out (overwritten, tombstoned, or actions that are not blocks). A topic not read to its
    end by ``deadline`` fails the backup: a backup is whole or it is not written."""
    from kafka import TopicPartition
    consumer = _consumer(config)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return 0, 0
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        latest: dict[int, dict] = {tp.partition: {} for tp in tps}
        log: list[Record] = []
        seen = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise BackupError(f"{topic} was not read to its end in time (--timeout); no backup written", code=1)
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        continue
                    seen += 1
                    rec = Record(tp.partition, m.key, m.value, m.timestamp if m.timestamp >= 0 else None, m.offset,
                                 [(k, v) for k, v in (m.headers or [])])
                    if role in LOG:
                        if _keep_action(m.value):
                            log.append(rec)
                    else:
                        latest[tp.partition].pop(m.key, None)  # the key moves to its newest offset
                        if m.value is not None:
                            latest[tp.partition][m.key] = rec
        kept = log if role in LOG else [r for p in sorted(latest) for r in latest[p].values()]
        for r in sorted(kept, key=lambda r: (r.partition, r.offset)):
            part.add_record(r)
        return len(tps), seen - part.count
    finally:
        consumer.close()


@dataclass
class Target:
    """Where one topic of the backup goes: its topic under the restore's prefix, and how."""
    entry: dict          # the manifest's topic entry
    topic: str
    partitions: int      # the target's (existing, or as tollguard creates it)
    exists: bool
    holds: int = 0       # records already in it

    @property
    def same_partitions(self) -> bool:
        return self.partitions == self.entry["partitions"]


def plan(config: Config, entries: list[dict], existing: set[str], force: bool) -> list[Target]:
    """The target of every topic of the backup; refuses (naming the topic) one that holds records unless
    ``force``, and a state changelog whose partition count would differ (its records must stay on the
    partition of the events they came from)."""
    from kafka import TopicPartition

    from streams.kafka.topics import declared
    specs = {s.name: s for s in declared(config)}
    targets = [Target(e, topic_of(config, e["role"]), 0, False) for e in entries]
    consumer = _consumer(config) if any(t.topic in existing for t in targets) else None
    try:
        for t in targets:
            if t.topic in existing:
                tps = [TopicPartition(t.topic, p) for p in sorted(consumer.partitions_for_topic(t.topic) or ())]
                begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
                t.exists, t.partitions, t.holds = True, len(tps), sum(end[tp] - begin[tp] for tp in tps)
            else:
                t.partitions = specs[t.topic].partitions
            if t.holds and not force:
                raise BackupError(f"{t.topic} is not empty ({t.holds} records): restore into a fresh prefix "
                                  "(--prefix P), or add --force to write over what it holds")
            if is_changelog(t.entry["role"]) and t.entry["records"] and not t.same_partitions:
                raise BackupError(f"{t.topic} would have {t.partitions} partitions, the backup's had "
                                  f"{t.entry['partitions']}: a state changelog must keep its partitions "
                                  f"(TOLLGUARD_PARTITIONS={t.entry['partitions']}, or restore without that topic)")
    finally:
        if consumer is not None:
            consumer.close()
    return targets


def write(config: Config, archive, targets: list[Target], timeout: float) -> list[tuple[Target, int, int, str]]:
    """Create the targets with tollguard's settings and produce every record with its key (to its partition
    when the counts match, else by key hashing), acks=all, each delivery checked. Per target: delivered,
    failed and the first error."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from streams.kafka.topics import ensure_topics
    ensure_topics(config, names=[t.topic for t in targets])
    producer = KafkaProducer(**kafka_python_kwargs(config), acks="all", compression_type="gzip",
                             max_request_size=MAX_BYTES,
                             max_in_flight_requests_per_connection=1, request_timeout_ms=int(timeout * 1000))
    out = []
    try:
        for t in targets:
            futures = [producer.send(t.topic, key=r.key, value=r.value, headers=r.headers or None,
                                     partition=r.partition if t.same_partitions else None, timestamp_ms=r.timestamp)
                       for r in archive.records(t.entry)]
            try:
                producer.flush(timeout)
            except KafkaError:  # each record's own future says what became of it
                pass
            failed, first = 0, ""
            for f in futures:
                try:
                    f.get(timeout=timeout)
                except KafkaError as exc:
                    failed += 1
                    first = first or str(exc)
            out.append((t, len(futures) - failed, failed, config.redact(first)))
    finally:
        producer.close(timeout=timeout)
    return out
