"""``ValueWindow``: the sliding window of an operator-written rule (``streams.rules.custom``).

Like :class:`~streams.state.timeset.TimeSet`, a sorted set of ``(time, id)`` entries, so events may
arrive in any order and one applied twice counts once. Each entry also carries a value:

- ``event_count``: nothing (0);
- ``value_count``: the CRC-32 of the counted field's text, so distinct values are counted;
- ``value_sum``: the field's value in integer micro-units, so a sum is the same whatever order the
  values were added in (floats added in another order can differ in the last bit).

:meth:`hits` answers, for a newly added entry, which windows ``(end - seconds, end]`` that contain
it now go over a threshold. It makes one pass over the entries those windows hold, with
a running count, a running sum or a running tally of values, so its cost grows with the window,
not with the window squared.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import msgspec

from streams.state.timeset import cut, slot

KINDS = ("event_count", "value_count", "value_sum")


class ValueWindow(msgspec.Struct, gc=False, array_like=True):
    t: list[float] = msgspec.field(default_factory=list)
    ids: list[int] = msgspec.field(default_factory=list)
    vals: list[int] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t)

    def add(self, time: float, ident: int, value: int = 0) -> int:
        """Insert in sorted position; the entry's index, or -1 when this (time, id) is already held."""
        times, ids = self.t, self.ids
        n = len(times)
        if not n or time > times[-1]:
            times.append(time)
            ids.append(ident)
            self.vals.append(value)
            return n
        j = slot(times, ids, time, ident)
        if j >= 0:
            times.insert(j, time)
            ids.insert(j, ident)
            self.vals.insert(j, value)
        return j

    def hits(self, i: int, seconds: float, threshold: float, kind: str) -> list[tuple[float, float]]:
        """``(window end, measure)`` for every window end (an entry's time) whose window contains entry
        ``i`` and whose measure (count, distinct values, or sum in micro-units) is above ``threshold``,
        earliest first."""
        times, vals = self.t, self.vals
        start = times[i]
        last = bisect_left(times, start + seconds)  # window ends before start + seconds still hold entry i
        lo = hi = bisect_right(times, start - seconds)
        count = total = 0
        tally: dict[int, int] = {}
        out: list[tuple[float, float]] = []
        j = i
        while j < last:
            end = times[j]
            top = bisect_right(times, end)
            for k in range(hi, top):  # entries join the window
                count += 1
                total += vals[k]
                tally[vals[k]] = tally.get(vals[k], 0) + 1
            hi = top
            floor = bisect_right(times, end - seconds)
            for k in range(lo, floor):  # and leave it
                count -= 1
                total -= vals[k]
                left = tally[vals[k]] - 1
                if left:
                    tally[vals[k]] = left
                else:
                    del tally[vals[k]]
            lo = floor
            measure = count if kind == "event_count" else len(tally) if kind == "value_count" else total
            if measure > threshold:
                out.append((end, measure))
            j = top
        return out

    def prune(self, before: float, keep: int) -> None:
        """Drop entries older than ``before``, then all but the newest ``keep`` (amortised)."""
        k = cut(self.t, before, keep)
        if k > 0:
            del self.t[:k]
            del self.ids[:k]
            del self.vals[:k]
