"""Event-time ordering across input partitions (pure; the worker drives it).

Kafka orders records within a partition only. ``replay`` sees one time-ordered file; the
worker sees several partitions of two topics, interleaved as the broker delivers them. To
make both shells judge the same sequence, the worker holds each valid event until every
*active* input partition has delivered something at least as late (the watermark), then
releases events in event-time order. A partition that has delivered nothing for
``idle_s`` seconds of wall time stops holding the watermark back (end of a file, a quiet
feed). Partitions are registered when they are assigned, so at start-up a partition whose
records have not arrived yet holds event time back for up to ``idle_s``.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Hashable


class Reorderer:
    def __init__(self, idle_s: float = 2.0, max_held: int = 100_000):
        self.idle_s = idle_s
        self.max_held = max_held
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._progress: dict[Hashable, list[float]] = {}  # source -> [max event ts, wall time of last record]
        self.released_until = float("-inf")

    def add(self, source: Hashable, ts: float, item: Any, wall: float) -> None:
        p = self._progress.get(source)
        if p is None:
            self._progress[source] = [ts, wall]
        else:
            if ts > p[0]:
                p[0] = ts
            p[1] = wall
        heapq.heappush(self._heap, (ts, next(self._seq), item))

    def register(self, source: Hashable, wall: float) -> None:
        """A partition assigned to this worker holds event time back until it delivers or goes idle."""
        self._progress.setdefault(source, [float("-inf"), wall])

    def touch(self, source: Hashable, wall: float) -> None:
        """A source delivered a record that holds no event (a malformed one): it is still alive."""
        p = self._progress.get(source)
        if p is not None:
            p[1] = wall

    def idle_sources(self, wall: float) -> list[Hashable]:
        """Sources that have been quiet for idle_s (the shell may confirm they have nothing pending)."""
        return [s for s, p in self._progress.items() if wall - p[1] >= self.idle_s]

    def watermark(self, wall: float, allow_idle: bool = True) -> float:
        if not allow_idle:
            return min((p[0] for p in self._progress.values()), default=float("-inf"))
        active = [p[0] for p in self._progress.values() if wall - p[1] < self.idle_s]
        if active:
            return min(active)
        return max((p[0] for p in self._progress.values()), default=float("-inf"))

    def release(self, wall: float, allow_idle: bool = True) -> list[Any]:
        """Events at or before the watermark, oldest first (and any overflow beyond max_held).

        With ``allow_idle=False`` quiet sources still hold the watermark back (the shell calls it
        so between the checks that confirm a quiet source really has nothing pending).
        """
        wm = self.watermark(wall, allow_idle)
        out = []
        heap = self._heap
        while heap and (heap[0][0] <= wm or len(heap) > self.max_held):
            ts, _, item = heapq.heappop(heap)
            if ts > self.released_until:
                self.released_until = ts
            out.append(item)
        return out

    def forget(self, sources) -> None:
        """Partitions revoked from this worker no longer hold the watermark."""
        for s in sources:
            self._progress.pop(s, None)

    def __len__(self) -> int:
        return len(self._heap)
