"""Pure event-time window arithmetic.

A sliding window of ``seconds`` at instant ``now`` holds the events with
``now - seconds < ts <= now``. Lists are trimmed to what a decision needs (the last
``limit + 1`` timestamps), so state per key stays bounded however hard a key is hammered.
"""

from __future__ import annotations


def slide(times: list, now: float, seconds: float, keep: int) -> int:
    """Add ``now`` to ``times`` (in place), evict what left the window, keep at most ``keep``; return the count."""
    times.append(now)
    cutoff = now - seconds
    i = 0
    n = len(times)
    while i < n and times[i] <= cutoff:
        i += 1
    if i:
        del times[:i]
    if len(times) > keep:
        del times[: len(times) - keep]
    return len(times)


def count_in(times: list, now: float, seconds: float) -> int:
    """How many of ``times`` fall in the window ending at ``now`` (no mutation)."""
    cutoff = now - seconds
    return sum(1 for t in times if cutoff < t <= now)


def prune(times: list, now: float, seconds: float) -> None:
    cutoff = now - seconds
    i = 0
    while i < len(times) and times[i] <= cutoff:
        i += 1
    if i:
        del times[:i]


def max_overlap(intervals: list[tuple[float, float]]) -> tuple[int, float]:
    """Peak number of simultaneously open ``[start, end)`` intervals, and when it is first reached."""
    points = []
    for s, e in intervals:
        points.append((s, 1))
        points.append((e, -1))
    points.sort(key=lambda p: (p[0], p[1]))  # an end at t closes before a start at t opens
    best, best_t, cur = 0, 0.0, 0
    for t, d in points:
        cur += d
        if cur > best:
            best, best_t = cur, t
    return best, best_t
