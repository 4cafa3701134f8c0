"""Event time at a scope partition, per tenant, from the marks of the input partitions (docs/stream.md).

Each input partition (a *source*) announces, with the events it forwards and on its own:

- ``wm``: the latest event time it has forwarded;
- ``pace``: the same, but never ahead of the wall clock of the worker that read it (a PBX
  whose clock runs ahead cannot make a source look further along than real time);
- ``idle``: its owner has forwarded everything the broker holds and nothing came for the idle
  timeout;
- per tenant ``[latest, lag]``: the tenant's latest event time on it, and how far that event
  was behind the source's ``wm`` when it arrived (a PBX whose clock is hours slow lags by hours).

A tenant's watermark here is the minimum, over the sources that are not idle, of what that
source guarantees for the tenant: its latest event there, or, since sources advance with every
tenant's traffic, ``pace - lag - MARGIN`` (the tenant keeps the pace it showed), whichever is
later; a source that never carried the tenant guarantees ``pace - MARGIN``. Until every source
has announced itself, nothing moves. With every source idle, it is the tenant's latest event.

So clocks are per tenant: another tenant's timestamps never move one tenant's timers, a slow
PBX clock does not make its calls look hours overdue, and a tenant quiet on one partition is
not held back by it. The marks are state of the partition (``ClockState``, written to the
changelog with the rules' state), so a restarted worker knows where every source stood.
"""

from __future__ import annotations

import msgspec

NEVER = float("-inf")
MARGIN = 60.0          # seconds a tenant may fall further behind its source's pace before its events count late
MAX_TENANTS = 100_000
EXPECT = "\x00expect"  # marks key listing every source there is (so a silent one holds time back)


class SourceMark(msgspec.Struct, array_like=True):
    wm: float = NEVER
    idle: bool = False
    tenants: dict[str, list[float]] = msgspec.field(default_factory=dict)   # tenant -> [latest, lag]
    pace: float = NEVER


class ClockState(msgspec.Struct, tag="clock/1"):
    sources: dict[str, SourceMark] = msgspec.field(default_factory=dict)
    expected: list[str] = msgspec.field(default_factory=list)


def clock_key(partition: int) -> str:
    """The table key of a scope partition's clock (unique per partition: recovery reads all into one map)."""
    return f"\x00clock:{partition}"


class PartitionClock:
    def __init__(self, state: ClockState | None = None, margin: float = MARGIN):
        self.state = state or ClockState()
        self.margin = margin
        self.changed = False
        self._cache: dict[str, float] = {}

    def merge(self, marks: dict) -> set[str] | None:
        """Take marks in; the tenants whose watermark may have moved (None: possibly all of them)."""
        touched: set[str] | None = set()
        self._cache.clear()
        sources = self.state.sources
        for src, mark in marks.items():
            if src == EXPECT:
                if sorted(mark) != self.state.expected:
                    self.state.expected = sorted(mark)
                    touched = None
                continue
            wm, idle, tenants, pace = mark
            m = sources.get(src)
            if m is None:
                m = sources[src] = SourceMark()
                touched = None  # a newly heard source can release every tenant
            if wm > m.wm or idle != m.idle:
                touched = None  # every tenant this source bounds may move
            if wm > m.wm:
                m.wm = wm
            if pace > m.pace:
                m.pace = pace
            m.idle = idle
            for t, (latest, lag) in tenants.items():
                cur = m.tenants.get(t)
                if cur is None or latest >= cur[0]:
                    m.tenants[t] = [latest, lag]
                    if touched is not None:
                        touched.add(t)
            if len(m.tenants) > MAX_TENANTS:  # bounded: forget the tenants quiet the longest
                for t, _ in sorted(m.tenants.items(), key=lambda kv: kv[1][0])[:len(m.tenants) - MAX_TENANTS]:
                    del m.tenants[t]
            self.changed = True
        return touched

    def tenants(self) -> set[str]:
        return {t for m in self.state.sources.values() for t in m.tenants}

    def watermark(self, tenant: str) -> float:
        w = self._cache.get(tenant)
        if w is None:
            w = self._cache[tenant] = self._watermark(tenant)
        return w

    def _watermark(self, tenant: str) -> float:
        sources = self.state.sources
        expected = self.state.expected
        if not expected or any(s not in sources for s in expected):
            return NEVER
        margin = self.margin
        bound = None
        for m in sources.values():
            if m.idle:
                continue
            own = m.tenants.get(tenant)
            v = m.pace - margin if own is None else max(own[0], m.pace - own[1] - margin)
            if bound is None or v < bound:
                bound = v
        if bound is not None:
            return bound
        seen = [m.tenants[tenant][0] for m in sources.values() if tenant in m.tenants]
        return max(seen) if seen else NEVER
