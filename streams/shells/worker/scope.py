"""A scope partition's work: events in, the detector run, state kept for the commit point (no Faust here).

Each partition of a scope (``ip``, ``ext``, ``trunk``) has its own detector over the scope's
table (through a ``BufferedState``) and its own clock (``clock.PartitionClock``). ``apply``
runs the events of one repartition record through the rules, then moves each tenant's event
time to what the record's marks allow (timers fire, the model learns in order). ``flush``
gives the micro-batch's model alerts and the state to write, once per commit point.
"""

from __future__ import annotations

import logging
from typing import Callable

from streams.core.detector import Detector
from streams.domain.events import decode_checked
from streams.policy import Policy
from streams.state import BufferedState
from streams.shells.worker import records
from streams.shells.worker.clock import ClockState, PartitionClock, clock_key

log = logging.getLogger("tollguard.worker")


class PartitionWork:
    def __init__(self, scope: str, partition: int, detector: Detector, state: BufferedState, clock: PartitionClock):
        self.scope, self.partition = scope, partition
        self.detector, self.state, self.clock = detector, state, clock


class ScopeRunner:
    """All partitions of one scope that this worker owns."""

    def __init__(self, scope: str, policy: Policy, store: dict, partitions: int, owns: Callable[[str, int], bool],
                 scorer_factory: Callable[[], object] | None = None, lateness: float = 0.0,
                 max_keys: int | None = None):
        self.scope = scope
        self.policy = policy
        self.store = store
        self.partitions = partitions
        self.owns = owns  # owns(key, partition): does this key's state live in that partition?
        self.scorer_factory = scorer_factory
        self.lateness = lateness
        self.max_keys = max_keys  # per partition (None: the core's default)
        self.evicted_logged = 0
        self.work: dict[int, PartitionWork] = {}
        self.late = 0
        self.bad = 0

    def partition(self, part: int) -> PartitionWork:
        w = self.work.get(part)
        if w is None:
            state = BufferedState(self.store)
            scorer = self.scorer_factory() if self.scorer_factory and self.scope == "ext" else None
            kw = {} if self.max_keys is None else {"max_keys": self.max_keys}
            det = Detector(self.policy, state=state, scopes=(self.scope,), scorer=scorer, lateness=self.lateness, **kw)
            saved = self.store.get(clock_key(part))
            clock = PartitionClock(saved if isinstance(saved, ClockState) else None)
            armed = det.rebuild_timers(lambda key: self.owns(key, part))
            w = self.work[part] = PartitionWork(self.scope, part, det, state, clock)
            if armed:
                log.info("%s[%d]: %d live timers re-armed from state", self.scope, part, armed)
        return w

    def apply(self, part: int, value: bytes, dead: list, out: list) -> int:
        """One repartition record: its events through the rules, then its marks. Returns events applied."""
        w = self.partition(part)
        try:
            marks, entries = records.decode(value)
        except Exception as exc:  # not ours: cannot happen unless someone writes to an internal topic
            self.bad += 1
            dead.append((value, f"unreadable repartition record: {exc}"))
            return 0
        det = w.detector
        clock = w.clock
        n = 0
        lateness = self.lateness
        for src, offset, index, raw, ts, ident in entries:
            try:
                event = decode_checked(raw)
            except Exception as exc:  # ingest validated it; never stop on bad input all the same
                dead.append((raw, f"unreadable after ingest: {exc}"))
                continue
            if ts < clock.watermark(event.tenant) - lateness:
                self.late += 1  # judged all the same: the rules do not need order (docs/stream.md)
            out += det.process(event, None, ts, ident)
            n += 1
        if marks:
            self.advance(w, marks, out)
        return n

    def advance(self, w: PartitionWork, marks: dict, out: list) -> None:
        """Event time moves on for the tenants that wait on it (timers, the model's queue)."""
        touched = w.clock.merge(marks)
        det = w.detector
        waiting = det.waiting()
        for tenant in (waiting if touched is None else waiting & touched):
            out += det.advance(tenant, w.clock.watermark(tenant), lambda key: self.owns(key, w.partition))

    def flush(self, part: int) -> tuple[list, list[tuple[str, object]]]:
        """The model's alerts for the micro-batch, and the state changes to persist: [(key, value or None)]."""
        w = self.work.get(part)
        if w is None:
            return [], []
        out = w.detector.flush()
        if w.clock.changed:
            w.state[clock_key(part)] = w.clock.state
            w.clock.changed = False
        changes = w.state.commit()
        evicted = sum(x.detector.keys.evicted for x in self.work.values())
        if evicted > self.evicted_logged:
            log.warning("%s: %d keys evicted over the budget of %d per partition (TOLLGUARD_MAX_KEYS): "
                        "their windows started again", self.scope, evicted, w.detector.keys.max_keys)
            self.evicted_logged = evicted
        return out, changes

    def forget(self, parts) -> None:
        for p in parts:
            self.work.pop(p, None)
