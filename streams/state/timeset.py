"""``TimeSet``: the one window-state class every counting rule uses.

A sorted set of ``(time, id)`` entries. Inserting puts an entry in its sorted position and
ignores an entry it already holds, so:

- events may arrive in any order (a CDR export sorted by call start, by call end, or shuffled)
  and the set afterwards is the same;
- an event applied twice (a worker restarted after a crash re-reads what it had not committed,
  or a producer retried a send) is counted once.

A sliding window of ``seconds`` ending at ``end`` holds the entries with
``end - seconds < time <= end``. ``exceeded`` answers, for a newly inserted entry, at which
window ends the count now goes over a limit: the windows that end at or after the entry and
still contain it. That is what makes a late entry raise what an on-time entry would have
raised.
"""

from __future__ import annotations

import math
from typing import Annotated
from bisect import bisect_left, bisect_right, insort

import msgspec

from streams.core.epochs import FOREVER


def slot(times: list[float], ids: list[int], time: float, ident: int) -> int:
    """Where ``(time, ident)`` goes in sorted ``times`` (after the entries of the same instant), or -1 when
    it is already held. The windows (TimeSet, ValueWindow) insert there, each its own columns."""
    n = len(times)
    j = bisect_left(times, time)
    while j < n and times[j] == time:
        if ids[j] == ident:
            return -1
        j += 1
    return j


def cut(times: list[float], before: float, keep: int) -> int:
    """How many of the oldest entries a window drops: those before ``before``, then all but the newest
    ``keep`` (amortised: a little over ``keep`` may stay, so an in-order stream does not pay a deletion
    per entry); 0 when none."""
    n = len(times)
    if n <= keep and (not n or times[0] >= before):
        return 0
    k = bisect_left(times, before) if times[0] < before else 0
    if n - k > keep + keep // 4:
        k = n - keep
    return k


class TimeSet(msgspec.Struct, gc=False, array_like=True):
    t: list[float] = msgspec.field(default_factory=list)
    # identities, never negative, within 64 bits (msgpack's unsigned ints; the compiled engine holds them as u64)
    ids: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t)

    def add(self, time: float, ident: int) -> int:
        """Insert in sorted position; the entry's index, or -1 when this (time, id) is already held."""
        times, ids = self.t, self.ids
        n = len(times)
        if not n or time > times[-1]:  # the usual case: an event in order
            times.append(time)
            ids.append(ident)
            return n
        j = slot(times, ids, time, ident)
        if j >= 0:
            times.insert(j, time)
            ids.insert(j, ident)
        return j

    def count(self, end: float, seconds: float) -> int:
        """Entries in the window ``(end - seconds, end]``."""
        times = self.t
        return bisect_right(times, end) - bisect_right(times, end - seconds)

    def exceeded(self, i: int, seconds: float, limit: int, span: float | None = None) -> list[tuple[float, int]]:
        """``(window end, count)`` for every window end (an entry's time) that contains entry ``i``
        and holds more than ``limit`` entries, earliest first. With ``span``, only the earliest of each
        epoch (``epoch_of(end, span)``): the rest of an epoch is skipped, so a late entry in a flood's
        window costs a step per epoch, not one per entry after it."""
        times = self.t
        n = len(times)
        start = times[i]
        if i == n - 1 or times[i + 1] - seconds >= start:  # the usual case: nothing later in its window
            if i + 1 < n and times[i + 1] == start:
                pass  # equal times after it: take the general path
            else:
                c = i + 1 - bisect_right(times, start - seconds, 0, i + 1)
                return [(start, c)] if c > limit else []
        out: list[tuple[float, int]] = []
        j = bisect_left(times, start)
        last = None
        while j < n and times[j] - seconds < start:  # (end - seconds, end] holds start (as count does it)
            end = times[j]
            if end != last:
                last = end
                c = bisect_right(times, end, j) - bisect_right(times, end - seconds, 0, j + 1)
                if c > limit:
                    out.append((end, c))
                    if span is not None and span < FOREVER:  # on to the next epoch's first end
                        j = max(j + 1, bisect_left(times, (math.floor(end / span) + 1) * span, j))
                        continue
                    if span is not None:
                        break  # one epoch for ever
            j += 1
        return out

    def prune(self, before: float, keep: int) -> None:
        """Drop entries older than ``before``, then all but the newest ``keep`` (amortised: a little
        over ``keep`` may stay, so an in-order stream does not pay for a deletion per entry)."""
        k = cut(self.t, before, keep)
        if k > 0:
            del self.t[:k]
            del self.ids[:k]

    def compact(self, lo: float, hi: float, keep: int) -> None:
        """Keep only the newest ``keep`` entries of ``[lo, hi)`` (an epoch that already alerted:
        only its last entries can still matter, to windows that end in the next epoch)."""
        times = self.t
        a, b = bisect_left(times, lo), bisect_left(times, hi)
        if b - a > keep:
            del times[a:b - keep]
            del self.ids[a:b - keep]


class Intervals(msgspec.Struct, gc=False, array_like=True):
    """Completed ``[start, end)`` intervals, sorted by end, one per id (a call counted once).

    ``by_start`` holds the same starts in sorted order, so how many intervals contain an instant
    is two binary searches (state written before it existed rebuilds it on first use)."""
    ends: list[float] = msgspec.field(default_factory=list)
    starts: list[float] = msgspec.field(default_factory=list)
    ids: list[int] = msgspec.field(default_factory=list)
    by_start: list[float] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ends)

    def add(self, start: float, end: float, ident: int) -> int:
        """Insert in end order; the index, or -1 when this interval is already held."""
        ends, ids = self.ends, self.ids
        n = len(ends)
        j = n if not n or end > ends[-1] else bisect_left(ends, end)
        while j < n and ends[j] == end:
            if ids[j] == ident:
                return -1
            j += 1
        self._sorted_starts()
        ends.insert(j, end)
        self.starts.insert(j, start)
        ids.insert(j, ident)
        insort(self.by_start, start)
        return j

    def _sorted_starts(self) -> list[float]:
        if len(self.by_start) != len(self.starts):
            self.by_start = sorted(self.starts)
        return self.by_start

    def latest_start(self) -> float | None:
        by_start = self._sorted_starts()
        return by_start[-1] if by_start else None

    def ended_by(self, t: float) -> int:
        """How many held intervals ended at or before ``t``."""
        return bisect_right(self.ends, t)

    def count_at(self, t: float) -> int:
        """How many held intervals contain the instant ``t`` (start <= t < end)."""
        # every interval that ended by t also started by t (start < end): the rest of those started contain t
        return bisect_right(self._sorted_starts(), t) - bisect_right(self.ends, t)

    def holds(self, ident: int, start: float) -> bool:
        """Is the interval of ``ident`` (which began at ``start``) held?"""
        by_start = self._sorted_starts()
        i = bisect_left(by_start, start)
        if i == len(by_start) or by_start[i] != start:
            return False  # no held interval began then (the usual answer, in two binary searches)
        ends, ids, starts = self.ends, self.ids, self.starts
        return any(ids[k] == ident for k in range(bisect_left(ends, start), len(ends)) if starts[k] == start)

    def overlapping(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """The held intervals that overlap ``[lo, hi)``."""
        k = bisect_right(self.ends, lo)
        return [(a, b) for a, b in zip(self.starts[k:], self.ends[k:]) if a < hi]

    def prune(self, before: float, keep: int) -> None:
        """Drop intervals that ended before ``before``, then all but the ``keep`` that ended last."""
        ends = self.ends
        k = max(bisect_left(ends, before), len(ends) - keep)
        if k > 0:
            by_start = self._sorted_starts()
            if k > 16:
                del ends[:k], self.starts[:k], self.ids[:k]
                self.by_start = sorted(self.starts)
                return
            for start in self.starts[:k]:
                del by_start[bisect_left(by_start, start)]
            del ends[:k], self.starts[:k], self.ids[:k]
