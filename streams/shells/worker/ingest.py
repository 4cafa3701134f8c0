"""Ingest: input records in, events routed to scope partitions, dead letters out (no Faust here).

Each input record is one event or a batch record (a JSON array of events). Every event is
validated once (``events.record_events``), checked against the worker's clock (an event more
than ``skew`` seconds ahead of it is refused: one bad clock must not move event time), and
routed to the partition of each scope key it has. Nothing is held back or reordered: the
rules do not need order, and what does (timers, the model) is driven by the marks this class
keeps per input partition (``records`` and ``clock`` say how they travel and are read).

Each scope partition is fed by two **lanes**: ``calls`` (what the CDR topic brought) and
``security`` (the security topic's). A flood of failed registrations queues in its own lane, and
a fraudulent call is judged as soon as its lane reaches it. Each lane carries only the marks of
its own input partitions, behind their events, so a scope partition's clock (the least of every
source's mark) never passes an event still queued in either lane (docs/stream.md "Lanes").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from aiokafka.partitioner import murmur2

from streams.core.detector import Detector
from streams.kafka.dlq import dead_letter
from streams.kafka.topics import LANES
from streams.domain.events import EventError, decode_event_bytes, event_ident, event_time, record_events
from streams.shells.worker import records
from streams.shells.worker.clock import EXPECT

REPARTITION_BYTES = 64 * 1024  # a repartition record is cut at this size: one scope turn (app.TURN_BYTES)


@lru_cache(maxsize=1 << 18)
def partition_of(key: bytes, partitions: int) -> int:
    """The Java client's default partitioner (murmur2), so every shell agrees where a key lives."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _judge(value: bytes):
    """The events of one record: a one-event record decoded directly, a batch record element by element."""
    if value[:1] == b"{":
        try:
            event, raw = decode_event_bytes(value)
            return ((None, raw, event, None),)
        except EventError as exc:
            return ((None, value, None, exc.reason),)
    return list(record_events(value, canonical=True))


@dataclass
class InputPartition:
    """What ingest knows of one input partition it reads."""
    name: str
    wm: float = float("-inf")
    tenants: dict[str, list[float]] = field(default_factory=dict)  # per tenant: [latest event time, its lag]
    changed: set[str] = field(default_factory=set)             # tenants not yet announced
    last_offset: int = -1
    last_wall: float = 0.0
    idle: bool = False
    announced_wm: float = float("-inf")
    announced_idle: bool = False
    warned: float = 0.0

    def mark(self, now: float, tenants: set[str] | None = None) -> list:
        names = self.changed if tenants is None else tenants
        return [self.wm, self.idle, {t: self.tenants[t] for t in names}, min(self.wm, now)]

    def saw(self, tenant: str, ts: float) -> None:
        cur = self.tenants.get(tenant)
        if cur is None or ts >= cur[0]:
            self.tenants[tenant] = [ts, max(0.0, self.wm - ts)]
            self.changed.add(tenant)
        if ts > self.wm:
            self.wm = ts


def lane_of(source: str) -> str:
    """The lane of an input partition (named ``cdr:3``, ``security:0``)."""
    return "calls" if source.startswith("cdr:") else "security"


def lane_marks(marks: dict) -> dict[str, dict]:
    """Marks split by lane (each source's on its own lane; the expected sources on both), lanes with none left out."""
    out: dict[str, dict] = {}
    for name, mark in marks.items():
        if name != EXPECT:
            out.setdefault(lane_of(name), {})[name] = mark
    if EXPECT in marks:
        for lane in out:
            out[lane][EXPECT] = marks[EXPECT]
    return out


@dataclass
class Routed:
    """One batch's output: repartition records per (scope, partition, lane), and dead letters."""
    out: dict[tuple[str, int, str], list[bytes]] = field(default_factory=dict)
    dead: list[bytes] = field(default_factory=list)
    events: int = 0


class Ingest:
    def __init__(self, partitions: int, policy, skew: float = 900.0, clock=time.time):
        self.partitions = partitions
        self.policy = policy  # routing depends on it: a tenant that caps tenant-wide spend (spend_limit)
        self.privacy = policy.dlq_privacy  # dead letters are pseudonymised as the policy asks (streams.reference.privacy)
        self.skew = skew
        self.clock = clock
        self.sources: dict[tuple[str, int], InputPartition] = {}
        self.expected: list[str] = []  # every input partition there is (set from topic metadata)
        self._where: dict[str, tuple[str, int]] = {}  # scope key -> its (scope, partition)

    def expect(self, counts: dict[str, int]) -> None:
        """The input topics' partition counts: a scope partition waits until each has announced itself."""
        self.expected = sorted(f"{t.rsplit('.', 1)[-1]}:{p}" for t, n in counts.items() for p in range(n))

    def source(self, topic: str, partition: int) -> InputPartition:
        s = self.sources.get((topic, partition))
        if s is None:
            kind = topic.rsplit(".", 1)[-1]
            s = self.sources[(topic, partition)] = InputPartition(f"{kind}:{partition}")
        return s

    def route(self, messages, wall: float | None = None) -> Routed:
        """Validate and route a batch of input records (objects with topic, partition, offset, value)."""
        now = self.clock()
        limit = now + self.skew
        wall = time.monotonic() if wall is None else wall
        parts = self.partitions
        routed = Routed()
        dead = routed.dead
        pending: dict[tuple[str, int], list] = {}   # dest -> [entries, bytes]
        touched: dict[tuple[str, int], InputPartition] = {}
        where = self._where
        keys_for = Detector.keys_for
        policy = self.policy
        for msg in messages:
            tp = (msg.topic, msg.partition)
            src = touched.get(tp)
            if src is None:
                src = touched[tp] = self.source(*tp)
            src.last_offset, src.last_wall, src.idle = msg.offset, wall, False
            lane = lane_of(src.name)
            value = msg.value if msg.value is not None else b""
            try:
                judged = _judge(value)
            except Exception as exc:  # EventError, or anything else: bad input never stops the worker
                reason = exc.reason if isinstance(exc, EventError) else f"unreadable record: {exc!r}"
                dead.append(self._dead(value, reason, msg, None))
                continue
            for i, raw, event, reason in judged:
                if event is None:
                    dead.append(self._dead(raw, reason, msg, i))
                    continue
                ts = event_time(event)
                if ts > limit:
                    dead.append(self._dead(raw, f"event time is {ts - now:,.0f} s ahead of the worker's clock; at "
                                                f"most {self.skew:g} s are accepted (TOLLGUARD_SKEW)", msg, i))
                    continue
                src.saw(event.tenant, ts)
                entry = [src.name, msg.offset, -1 if i is None else i, raw, ts, event_ident(event)]
                size = len(raw) + 40
                for scope, key in keys_for(event, policy).items():
                    dest = where.get(key)
                    if dest is None:
                        if len(where) > 1 << 18:
                            where.clear()
                        dest = where[key] = (scope, partition_of(key.encode(), parts))
                    dest = (*dest, lane)
                    slot = pending.get(dest)
                    if slot is None:
                        slot = pending[dest] = [[], 0]
                    slot[0].append(entry)
                    slot[1] += size
                    if slot[1] >= REPARTITION_BYTES:
                        routed.out.setdefault(dest, []).append(records.encode(self._marks(touched, now, lane),
                                                                              slot[0]))
                        pending[dest] = [[], 0]
                routed.events += 1
        if pending:
            self._flush(pending, touched, now, routed)
        return routed

    def _dead(self, raw: bytes, reason: str, msg, index: int | None) -> bytes:
        return dead_letter(raw, reason, topic=msg.topic, partition=msg.partition, offset=msg.offset, index=index,
                           privacy=self.privacy)

    def _flush(self, pending: dict, touched: dict, now: float, routed: Routed) -> None:
        """What each destination still holds, as one record each, behind the marks of the sources read."""
        marks = {lane: self._marks(touched, now, lane) for lane in LANES}
        for dest, (entries, _) in pending.items():
            if entries:
                routed.out.setdefault(dest, []).append(records.encode(marks[dest[2]], entries))

    def _marks(self, touched: dict, now: float, lane: str) -> dict:
        """Marks of the sources of ``lane`` this batch read: everything they forwarded so far is sent before them."""
        marks: dict = {EXPECT: self.expected} if self.expected else {}
        for s in touched.values():
            if lane_of(s.name) == lane:
                marks[s.name] = [s.wm, False, s.tenants if len(s.tenants) <= 64 else {}, min(s.wm, now)]
        return marks

    def marks(self, full: bool = False) -> dict:
        """Marks of the sources that changed since the last call (or all, with ``full``)."""
        out: dict = {}
        now = self.clock()
        for s in self.sources.values():
            if full or s.changed or s.wm != s.announced_wm or s.idle != s.announced_idle:
                out[s.name] = s.mark(now, set(s.tenants) if full else None)
                s.changed = set()
                s.announced_wm, s.announced_idle = s.wm, s.idle
        if out and self.expected:
            out[EXPECT] = self.expected
        return out

    def forget(self, tps) -> None:
        """Partitions revoked from this worker: their next owner announces them."""
        for tp in tps:
            self.sources.pop(tp, None)
