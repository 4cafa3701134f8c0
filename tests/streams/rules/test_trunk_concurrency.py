import pytest
from tests.builders import actions, alerts, at, cdr, policy, run

POL = "trunks:\n  sip1: {max_concurrent_calls: 3}"


@pytest.mark.parametrize("n,fires", [(3, False), (4, True)])
def test_completed_overlapping_calls(n, fires):
    # n calls that all overlap in [50, 100); CDRs arrive in end order
    evs = [cdr(t=i * 10, call_id=f"c{i}", dst=f"0207946000{i}", trunk="sip1", end=at(100 + i)) for i in range(n)]
    assert bool(alerts(run(evs, policy(POL)), "trunk_concurrency")) is fires


def test_back_to_back_calls_do_not_overlap():
    evs = [cdr(t=i * 10, call_id=f"c{i}", dst="02079460001", trunk="sip1", end=at(i * 10 + 10)) for i in range(8)]
    assert not alerts(run(evs, policy(POL)), "trunk_concurrency")


def test_long_call_reported_after_short_ones():
    # a long call arrives last but overlapped three short ones that were in progress together
    evs = [cdr(t=10 + i, call_id=f"s{i}", trunk="sip1", end=at(50)) for i in range(3)]
    evs.append(cdr(t=0, call_id="long", trunk="sip1", end=at(500)))
    out = run(evs, policy(POL))
    assert alerts(out, "trunk_concurrency")[0].evidence["concurrent"] == 4


@pytest.mark.parametrize("n,fires", [(3, False), (4, True)])
def test_live_start_end_pairs(n, fires):
    evs = [cdr(t=i, call_id=f"l{i}", trunk="sip1", phase="start") for i in range(n)]
    out = run(evs, policy(POL))
    assert bool(alerts(out, "trunk_concurrency")) is fires
    if fires:
        assert actions(out, "hangup_call")[0].target == f"l{n - 1}"


def test_ended_live_calls_free_the_trunk():
    evs = []
    for i in range(6):
        evs.append(cdr(t=i * 10, call_id=f"l{i}", trunk="sip1", phase="start"))
        evs.append(cdr(t=i * 10, call_id=f"l{i}", trunk="sip1", end=at(i * 10 + 5)))
    assert not alerts(run(evs, policy(POL)), "trunk_concurrency")


def test_default_limit_is_thirty():
    evs = [cdr(t=i, call_id=f"x{i}", trunk="other", phase="start") for i in range(31)]
    out = run(evs)
    assert alerts(out, "trunk_concurrency")[0].evidence["limit"] == 30
    assert not alerts(run(evs[:30]), "trunk_concurrency")


def _over_by_sweep(intervals, lo, hi, limit, span):
    """The overlap sweep as written before its C fast path (55e554b): the reference for ``_over``."""
    from streams.rules.trunk_concurrency import _boundaries
    points = []
    for a, b in intervals:
        a, b = max(a, lo), min(b, hi)
        if a < b:
            points.append((a, 1))
            points.append((b, -1))
    points.sort(key=lambda p: (p[0], p[1]))
    out, cur, begun = [], 0, None
    for t, d in points:
        cur += d
        if cur > limit and begun is None:
            begun = t
            out.append((t, cur))
        elif begun is not None:
            if cur > limit:
                out[-1] = (out[-1][0], max(out[-1][1], cur))
            else:
                out.extend(_boundaries(begun, t, span, out[-1][1]))
                begun = None
    return out


@pytest.mark.parametrize("seed", range(8))
def test_over_fast_path_answers_as_the_sweep(seed):
    # the "never over the limit" answer in C must agree with the step-by-step sweep, stretches, peaks and
    # epoch boundaries included: on whole-second times (ties of ends and starts), -0.0, intervals outside
    # [lo, hi) and empty ones, at limits just under, at and over the peak
    import random
    from streams.rules.trunk_concurrency import _over
    rng = random.Random(seed)
    fired = quiet = 0
    for _ in range(400):
        n = rng.randrange(0, 40)
        grid = rng.choice([1.0, 0.5, 7.0])
        ivs = []
        for _ in range(n):
            a = rng.randrange(-20, 200) * grid
            ivs.append((a if a else rng.choice([0.0, -0.0]), a + rng.randrange(0, 80) * grid))
        lo, hi = rng.randrange(-10, 100) * 1.0, rng.randrange(50, 250) * 1.0
        limit, span = rng.randrange(0, 25), rng.choice([10.0, 60.0, 3600.0])
        got, want = _over(ivs, lo, hi, limit, span), _over_by_sweep(ivs, lo, hi, limit, span)
        assert got == want and [repr(t) for t, _ in got] == [repr(t) for t, _ in want]
        fired += bool(want)
        quiet += not want and len(ivs) > limit
    assert fired > 50 and quiet > 50, (fired, quiet)  # both answers were exercised
