"""Canonical event-time order (pure; both shells use it).

``Sequencer`` holds items and releases them sorted by ``(event time, order key)`` once the
watermark of their tenant, minus ``lateness``, has passed them:

- ``replay`` pushes every event of its files and releases with the watermark "the latest
  event time read so far for this tenant", so a file sorted by call start, by call end or
  shuffled within ``lateness`` is judged in one and the same order;
- the worker's detector holds the completed calls the anomaly model learns from, and
  releases them with the tenant's watermark from the input partitions (docs/stream.md).

Clocks are per tenant: one tenant's far-future timestamp releases nothing of another's.
An item older than what its tenant already released is *late*: it is released with the next
call, counted in ``late`` and flagged, never dropped.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Hashable, Iterator

from streams.domain.events import event_time

LATENESS = 6 * 3600.0  # how far out of event-time order a file may be and still be judged in canonical order


class Sequencer:
    def __init__(self, lateness: float = 0.0):
        self.lateness = lateness
        self._heaps: dict[Hashable, list] = {}
        self._seq = itertools.count()
        self.frontier: dict[Hashable, float] = {}  # per tenant: the latest time released
        self.late = 0
        self._held = 0

    def push(self, tenant: Hashable, ts: float, order: Any, item: Any) -> bool:
        """Hold ``item``; True when it is late (its tenant already released something later)."""
        heap = self._heaps.get(tenant)
        if heap is None:
            heap = self._heaps[tenant] = []
        late = ts < self.frontier.get(tenant, float("-inf"))
        if late:
            self.late += 1
        heapq.heappush(heap, (ts, order, next(self._seq), item, late))
        self._held += 1
        return late

    def release(self, tenant: Hashable, watermark: float) -> list[tuple[float, Any, bool]]:
        """``(time, item, late)`` of this tenant up to ``watermark - lateness``, in canonical order."""
        heap = self._heaps.get(tenant)
        limit = watermark - self.lateness
        if not heap or (heap[0][0] > limit and not heap[0][4]):
            return []  # the usual case, asked once per event: nothing due yet
        out = []
        top = None  # the latest on-time entry released
        pop = heapq.heappop
        while heap and (heap[0][0] <= limit or heap[0][4]):
            ts, _, _, item, late = pop(heap)
            out.append((ts, item, late))
            if not late and (top is None or ts > top):
                top = ts
        self._held -= len(out)
        if top is not None and top > self.frontier.get(tenant, float("-inf")):
            self.frontier[tenant] = top
        return out

    def drain(self) -> Iterator[tuple[Hashable, float, Any, bool]]:
        """Everything still held, tenant by tenant, each in canonical order (end of a finite input)."""
        for tenant in list(self._heaps):
            for ts, item, late in self.release(tenant, float("inf")):
                yield tenant, ts, item, late

    def tenants(self) -> list[Hashable]:
        return [t for t, h in self._heaps.items() if h]

    def __len__(self) -> int:
        return self._held


def in_event_time_order(records, lateness: float, key) -> Iterator[tuple[Any, bool]]:
    """Re-yield ``records`` in canonical order per tenant, each held until its tenant's latest
    time read is ``lateness`` past it. ``key(record)`` gives ``(tenant, time, order)``, or None
    for a record to pass straight on (a reject). Yields ``(record, late)``.
    """
    seq = Sequencer(lateness)
    latest: dict[Hashable, float] = {}
    for rec in records:
        k = key(rec)
        if k is None:
            yield rec, False
            continue
        tenant, ts, order = k
        if ts > latest.get(tenant, float("-inf")):
            latest[tenant] = ts
        seq.push(tenant, ts, order, rec)
        for _, item, late in seq.release(tenant, latest[tenant]):
            yield item, late
    for _, _, item, late in seq.drain():
        yield item, late


def ordered_records(records, lateness: float = LATENESS):
    """``decoded`` records (source, line, raw, event, error) in canonical event-time order (rejects at once)."""
    def key(rec):
        event = rec[3]
        return None if event is None else (event.tenant, event_time(event), rec[2])
    return in_event_time_order(records, lateness, key)
