"""``WindowIndex``: what a flood's windows are asked each event, answered without a scan of the window.

Not state (nothing here is persisted): an index kept beside one :class:`~streams.state.timeset.TimeSet`
of ``(time, id)`` entries while the rule that owns the window appends to it and prunes it through
:meth:`WindowIndex.added` and :meth:`WindowIndex.prune`. It is built from the window on first use, and
again whenever the window is not the list, length and ends it indexed (state read back from a
changelog, an entry inserted out of order, another process), so its answers are always those of the
window as it is: the same in any arrival order, as the scans they replace.

A window without a valid index is answered by the scan (:meth:`distinct_in`, :meth:`no_repeat_in`), and
rebuilt only once ``max(REBUILD_MIN, len // REBUILD_PART)`` scans paid for it: the worker reads its
partitions interleaved, so nearly every entry lands before the newest and drops the index, and
rebuilding it for every question made each event cost the whole window.

- :meth:`distinct`: how many ids the window ``(lo, hi]`` holds (up to ``enough``). When nothing is
  held after ``hi`` (an in-order flood: the window ends at the newest entry), that is the number of
  ids whose latest time is after ``lo``, two binary searches in the sorted latest times; otherwise a
  scan, as before.
- :meth:`no_repeat`: does no id occur twice in ``(lo, hi]``? Only the entries whose id came before
  (with that previous time) are looked at: none in a botnet of single tries.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from streams.state.timeset import TimeSet, cut

_NEVER = float("-inf")


class WindowIndex:
    __slots__ = ("window", "n", "first", "last", "prev", "latest", "order", "rep_t", "rep_prev")
    _held: dict[int, "WindowIndex"] = {}
    # windows indexed at once: past it all are dropped and rebuilt on use (a scan, as before). An index keeps its
    # window alive (a key forgotten since stays in memory until then), so this also bounds what it holds: at
    # most LIMIT windows and ENTRIES entries, each with an index of about its own size
    LIMIT = 2048
    ENTRIES = 1_000_000  # entries indexed at once (about their windows' size again in memory): past it all go
    _entries = 0
    REBUILD_MIN, REBUILD_PART = 8, 2  # scans a dropped index waits for before it is built again (a build costs 2 entries a scan)
    _misses: dict[int, int] = {}

    def __init__(self, window: TimeSet):
        self.window = window
        prev: list[float] = []
        latest: dict[int, float] = {}
        rep_t: list[float] = []
        rep_prev: list[float] = []
        for t, i in zip(window.t, window.ids):
            p = latest.get(i, _NEVER)
            prev.append(p)
            if p != _NEVER:
                rep_t.append(t)
                rep_prev.append(p)
            latest[i] = t
        self.prev, self.latest, self.rep_t, self.rep_prev = prev, latest, rep_t, rep_prev
        self.order = sorted(latest.values())  # each id's latest time, ascending
        self._mark()

    def _mark(self) -> None:
        t = self.window.t
        self.n = len(t)
        self.first, self.last = (t[0], t[-1]) if t else (None, None)

    def _valid(self, window: TimeSet) -> bool:
        t = window.t
        return self.window is window and self.n == len(t) and (not t or (self.first == t[0] and self.last == t[-1]))

    # -- kept in step with the window ----------------------------------------------------------
    @classmethod
    def of(cls, window: TimeSet) -> "WindowIndex":
        idx = cls._held.get(id(window))
        if idx is not None and idx.window is window:
            t = window.t
            if idx.n == len(t) and (not t or (idx.first == t[0] and idx.last == t[-1])):
                return idx
        if idx is not None:
            cls._drop(window)
        if len(cls._held) >= cls.LIMIT or cls._entries + len(window.t) > cls.ENTRIES:
            cls._held.clear()
            cls._entries = 0
        idx = cls._held[id(window)] = cls(window)
        cls._entries += idx.n
        return idx

    @classmethod
    def _drop(cls, window: TimeSet) -> None:
        idx = cls._held.pop(id(window), None)
        if idx is not None:
            cls._entries -= idx.n

    @classmethod
    def added(cls, window: TimeSet, i: int, time: float, ident: int) -> None:
        """``window.add(time, ident)`` returned ``i``: an entry appended is indexed; one put before others
        drops the index (rebuilt on its next use)."""
        if i < 0:
            return
        idx = cls._held.get(id(window))
        if idx is None:
            return
        t = window.t
        n = idx.n
        if i == n and idx.window is window and len(t) == n + 1 and (not n or (idx.last == t[n - 1] and idx.first == t[0])):
            latest = idx.latest
            p = latest.get(ident, _NEVER)
            idx.prev.append(p)
            if p != _NEVER:
                idx.rep_t.append(time)
                idx.rep_prev.append(p)
                order = idx.order
                del order[bisect_left(order, p)]
            idx.order.append(time)  # appended: at or after every time held
            latest[ident] = time
            idx.n = n + 1
            cls._entries += 1
            idx.last = time
            if not n:
                idx.first = time
        else:
            cls._drop(window)

    @classmethod
    def prune(cls, window: TimeSet, before: float, keep: int) -> None:
        """``window.prune(before, keep)``, with its index (if any) kept in step."""
        k = cut(window.t, before, keep)
        if k <= 0:
            return
        idx = cls._held.get(id(window))
        if idx is not None and idx._valid(window):
            latest, order = idx.latest, idx.order
            for t, i in zip(window.t[:k], window.ids[:k]):  # the oldest: an id whose latest goes has gone
                if latest.get(i) == t:
                    del latest[i]
                    del order[bisect_left(order, t)]
            m = sum(1 for p in idx.prev[:k] if p != _NEVER)  # the entries with a previous time that go
            del idx.prev[:k], idx.rep_t[:m], idx.rep_prev[:m]
            window.prune(before, keep)
            cls._entries -= idx.n - len(window.t)
            idx._mark()
        else:
            window.prune(before, keep)

    @classmethod
    def usable(cls, window: TimeSet) -> "WindowIndex | None":
        """The window's index when it holds a valid one, or when enough scans since it was dropped paid
        for building it; else None (the caller scans)."""
        idx = cls._held.get(id(window))
        if idx is not None and idx._valid(window):
            return idx
        misses = cls._misses.get(id(window), 0) + 1
        if misses < max(cls.REBUILD_MIN, len(window.t) // cls.REBUILD_PART):
            if len(cls._misses) >= cls.LIMIT:
                cls._misses.clear()
            cls._misses[id(window)] = misses
            return None
        cls._misses.pop(id(window), None)
        return cls.of(window)

    @classmethod
    def distinct_in(cls, window: TimeSet, lo: float, hi: float, enough: int) -> int:
        """Distinct ids among the entries in ``(lo, hi]``, counting stops at ``enough``."""
        idx = cls.usable(window)
        return idx.distinct(lo, hi, enough) if idx is not None else _scan_distinct(window, lo, hi, enough)

    @classmethod
    def no_repeat_in(cls, window: TimeSet, lo: float, hi: float) -> bool:
        """Does no id occur twice in ``(lo, hi]``?"""
        idx = cls.usable(window)
        if idx is not None:
            return idx.no_repeat(lo, hi)
        seen: set[int] = set()
        ids = window.ids
        for k in range(bisect_right(window.t, lo), bisect_right(window.t, hi)):
            if ids[k] in seen:
                return False
            seen.add(ids[k])
        return True

    # -- questions -----------------------------------------------------------------------------
    def distinct(self, lo: float, hi: float, enough: int) -> int:
        """Distinct ids among the entries in ``(lo, hi]``, counting stops at ``enough``."""
        t = self.window.t
        if not t or hi >= t[-1]:  # nothing after hi: the ids whose latest time is after lo
            return min(len(self.order) - bisect_right(self.order, lo), enough)
        return _scan_distinct(self.window, lo, hi, enough)

    def no_repeat(self, lo: float, hi: float) -> bool:
        """Does no id occur twice in ``(lo, hi]``? (An id's previous time pruned since may answer False
        where a scan would say True: a caller then does the full work, never less.)"""
        times, prevs = self.rep_t, self.rep_prev
        for k in range(bisect_right(times, lo), len(times)):
            if times[k] > hi:
                return True
            if prevs[k] > lo:
                return False
        return True


def _scan_distinct(window: TimeSet, lo: float, hi: float, enough: int) -> int:
    """Distinct ids among the entries in ``(lo, hi]`` by a scan, stopping at ``enough``."""
    seen: set[int] = set()
    ids = window.ids
    for k in range(bisect_right(window.t, lo), bisect_right(window.t, hi)):
        seen.add(ids[k])
        if len(seen) >= enough:
            break
    return len(seen)
