"""ns per operation of the windows, Python reference vs the Rust port called from Python (not a test:
`.venv/bin/python -m tests.engine.bench_windows`). Each step is what a counting rule does per event:
add, then count or exceeded, with a prune now and then."""

from __future__ import annotations

import random
import time

from streams.state.timeset import TimeSet
from streams import _engine


def events(n: int, gap: float, late: float, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    t, out = 1.7e9, []
    for _ in range(n):
        t += rng.expovariate(1 / gap)
        out.append(t - (rng.random() * late if rng.random() < 0.2 else 0.0))
    return out


def add_count(cls, ts: list[float]) -> float:
    w = cls()
    t0 = time.perf_counter_ns()
    for k, t in enumerate(ts):
        w.add(t, k)
        w.count(t, 60.0)
        if k % 64 == 0:
            w.prune(t - 3600.0, 4096)
    return (time.perf_counter_ns() - t0) / len(ts)


def add_exceeded(cls, ts: list[float], span: float | None) -> float:
    w = cls()
    t0 = time.perf_counter_ns()
    for k, t in enumerate(ts):
        i = w.add(t, k)
        if i >= 0:
            w.exceeded(i, 60.0, 5, span)
        if k % 64 == 0:
            w.prune(t - 3600.0, 4096)
    return (time.perf_counter_ns() - t0) / len(ts)


def main() -> None:
    n = 50_000
    cases = [
        ("add+count, in order, ~1 ev/s", lambda c: add_count(c, events(n, 1.0, 0.0))),
        ("add+count, 20% late by <30 s", lambda c: add_count(c, events(n, 1.0, 30.0))),
        ("add+exceeded, in order, flood 20 ev/s", lambda c: add_exceeded(c, events(n, 0.05, 0.0), None)),
        ("add+exceeded, 20% late <30 s, flood", lambda c: add_exceeded(c, events(n, 0.05, 30.0), None)),
        ("add+exceeded span=60, late, flood", lambda c: add_exceeded(c, events(n, 0.05, 30.0), 60.0)),
    ]
    print(f"{'ns per event (add + query)':42} {'python':>9} {'rust':>9}")
    for name, run in cases:
        py = min(run(TimeSet) for _ in range(3))
        rs = min(run(_engine.TimeSet) for _ in range(3))
        print(f"{name:42} {py:9.0f} {rs:9.0f}")


if __name__ == "__main__":
    main()
