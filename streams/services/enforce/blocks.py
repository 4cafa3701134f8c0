"""``tollguard blocks``: the blocks in force, folded from ``<prefix>.actions`` read from its start.

:func:`fold` is pure: block actions in topic order, an ``unblock`` lifting every earlier block of
that tenant on that target, the same ``action_id`` counted once, and the wall clock deciding
which have ended. :func:`read` is the thin Kafka reader (no consumer group, up to the end offsets
seen when it starts).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Iterable

from streams.reference.text import safe
from streams.services.enforce.action import BLOCK_KINDS, BadAction, iso, parse


@dataclass
class Block:
    tenant: str
    kind: str
    target: str
    ts: str
    until: float | None  # epoch seconds; None: until lifted
    action_id: str
    alert_id: str
    reason: str
    status: str = "active"  # active, expired or lifted
    lifted_by: str | None = None  # the unblock's reason

    def as_dict(self) -> dict:
        d = asdict(self)
        d["expires"] = None if self.until is None else iso(self.until)
        return d


def fold(records: Iterable, now: float) -> tuple[list[Block], int]:
    """Every block action with its status, and how many records were not readable actions."""
    blocks: list[Block] = []
    ids: set[str] = set()
    bad = 0
    for rec in records:
        try:
            a = parse(rec)
        except BadAction:
            bad += 1
            continue
        if a.action_id in ids:
            continue
        ids.add(a.action_id)
        if a.kind == "unblock":
            for b in blocks:
                if b.status == "active" and b.tenant == a.tenant and b.target == a.target:
                    b.status, b.lifted_by = "lifted", a.reason
        elif a.kind in BLOCK_KINDS:
            blocks.append(Block(a.tenant, a.kind, a.target, iso(a.ts), a.until, a.action_id, a.alert_id, a.reason))
    for b in blocks:
        if b.status == "active" and b.until is not None and b.until <= now:
            b.status = "expired"
    return blocks, bad


def active(blocks: list[Block]) -> list[Block]:
    """The blocks in force, one per tenant, kind and target: the one that ends last."""
    best: dict[tuple, Block] = {}
    for b in blocks:
        if b.status != "active":
            continue
        key = (b.tenant, b.kind, b.target)
        old = best.get(key)
        if old is None or (old.until is not None and (b.until is None or b.until > old.until)):
            best[key] = b
    return sorted(best.values(), key=lambda b: (b.tenant, float("inf") if b.until is None else b.until))


def left(until: float | None, now: float) -> str:
    if until is None:
        return "-"
    s = max(0, int(until - now))
    return f"{s // 86400}d{s % 86400 // 3600}h" if s >= 86400 else f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def table(blocks: list[Block], now: float, status: bool) -> list[str]:
    head = f"{'TENANT':<12} {'KIND':<16} {'TARGET':<24} {'EXPIRES (UTC)':<20} {'LEFT':<11} "
    lines = [head + ("STATUS   " if status else "") + "REASON"]
    for b in blocks:
        expires = "until lifted" if b.until is None else iso(b.until)[:19].replace("T", " ")
        line = (f"{safe(b.tenant, 12):<12} {b.kind:<16} {safe(b.target, 48):<24} {expires:<20} "
                f"{left(b.until, now):<11} ")
        why = b.reason if b.status != "lifted" else f"{b.reason} [lifted: {b.lifted_by}]"
        lines.append(line + (f"{b.status:<8} " if status else "") + safe(why, 160))
    return lines


def show(blocks: list[Block], args, now: float, out=sys.stdout) -> int:
    chosen = [b for b in blocks if not args.tenant or b.tenant in args.tenant]
    chosen = chosen if args.all else active(chosen)
    if args.format == "jsonl":
        for b in chosen:
            print(json.dumps(b.as_dict()), file=out)
    else:
        print("\n".join(table(chosen, now, args.all)), file=out)
    return len(chosen)


def read(config, timeout: float = 120.0) -> list[bytes] | None:
    """Every record value of the actions topic, from its start to its end when read; None: no topic."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.kafka.connect import kafka_python_kwargs
    from streams.kafka.topics import ensure_read
    ensure_read(config, [config.actions])
    consumer = KafkaConsumer(**kafka_python_kwargs(config), group_id=None, enable_auto_commit=False,
                             allow_auto_create_topics=False,
                             auto_offset_reset="earliest")
    try:
        parts = consumer.partitions_for_topic(config.actions)
        if not parts:
            return None
        tps = [TopicPartition(config.actions, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                values.extend(m.value for m in msgs if m.offset < end[tp])
        if any(consumer.position(tp) < end[tp] for tp in tps):
            print(f"blocks: WARNING: {config.actions} not read to its end within {timeout:g} s; "
                  "the list may be incomplete", file=sys.stderr)
        return values
    finally:
        consumer.close()


def main(args) -> int:
    from streams.kafka.config import Config
    from streams.kafka.connect import preflight
    config = Config.from_env()
    preflight(config)
    values = read(config)
    if values is None:
        print(f"blocks: {config.actions} does not exist on {config.where}", file=sys.stderr)
        return 1
    now = time.time()
    blocks, bad = fold(values, now)
    n = show(blocks, args, now)
    print(f"blocks: {n} shown from {len(values)} record(s) of {config.actions}"
          + (f", {bad} not readable as actions" if bad else ""), file=sys.stderr)
    return 0
