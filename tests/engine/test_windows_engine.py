"""The Rust port of the per-key windows (engine/src/window/, ``streams._engine.TimeSet``,
``Intervals``, ``ValueWindow``) against their reference, ``streams/state/timeset.py`` and
``streams/state/valuewindow.py``: hypothesis runs random operation sequences (adds with equal and
repeated times, duplicates, out-of-order entries, -0.0; exceeded/hits/count with random limits,
seconds and spans; prune/compact with random cut points and keeps) on both and compares every
return value and the full state after every step. The windows' JSON (msgspec's ``array_like``
layout) round-trips through the Rust type byte for byte. The port is not wired into the detector yet.

``TOLLGUARD_WINDOW_EXAMPLES`` sets the examples per property (500 by default, which a line trace shows
already runs every line of the reference; 20,000 were run once outside the suite) for a longer run."""

from __future__ import annotations

import math
import os

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.epochs import FOREVER
from streams.state.timeset import Intervals, TimeSet
from streams.state.valuewindow import KINDS, ValueWindow

_engine = pytest.importorskip("streams._engine")

EXAMPLES = int(os.environ.get("TOLLGUARD_WINDOW_EXAMPLES", "500"))
RUN = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# times: a coarse grid (many equal times), -0.0 beside 0.0, epoch-sized stamps, +-inf, and any finite
# float (NaN has its own test: a NaN entry is never equal to itself, so it is never a repeat)
TIMES = st.one_of(
    st.integers(0, 40).map(lambda k: k * 0.5),
    st.integers(0, 40).map(lambda k: k * 0.1),  # 0.1-steps: sums that are not exact
    st.sampled_from([-0.0, 0.0, 1e15, 1e16, 1.7e9 + 0.1, 1e18, 5e-324, -3.0, math.inf, -math.inf]),
    st.floats(-1e6, 2e9, allow_nan=False, allow_infinity=False),
)
SECONDS = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 3.0, 10.0, 60.0, -1.0, math.inf]),
                    st.floats(0, 100, allow_nan=False))
SPANS = st.one_of(st.none(), st.sampled_from([FOREVER, 0.5, 1.0, 2.5, 10.0, 60.0, 3600.0, 2e18, 0.0, math.inf, 1e-300]),
                  st.floats(0.1, 100))
GRID = st.integers(0, 30).map(lambda k: k * 0.5)  # for bursts: many entries in a few windows
# ids: every id the rules make is unsigned and within 64 bits (registration_lockout's reach bit 63)
IDS = st.one_of(st.integers(0, 5), st.integers(0, 2**64 - 1), st.sampled_from([2**63, 2**64 - 1]))
KEEPS = st.integers(0, 12)
VALUES = st.one_of(st.sampled_from([0, 1, 250_000, -250_000, 2**32 - 1]), st.integers(-(2**40), 2**40))


def bits(xs):
    """A float list as comparable text: -0.0 is not 0.0, nan is nan."""
    return [repr(float(x)) for x in xs]


def same(call_py, call_rs):
    """Both return the same value, or both refuse."""
    try:
        want = call_py()
    except (ArithmeticError, ValueError, IndexError) as e:
        with pytest.raises((ValueError, IndexError)):
            call_rs()
        return type(e)
    got = call_rs()
    assert type(got) is type(want)
    assert repr(got) == repr(want)  # repr: -0.0, int vs float and tuple shapes all count
    return got


def index(data, n):
    return data.draw(st.integers(0, n - 1))


# ------------------------------------------------------------------------------------------ TimeSet

TIMESET_OPS = st.sampled_from(["add", "add", "add", "many", "readd", "count", "exceeded", "exceeded", "prune", "compact"])


@pytest.mark.slow
@RUN
@given(data=st.data(), ops=st.lists(TIMESET_OPS, max_size=40))
def test_timeset_matches_the_reference(data, ops):
    py, rs = TimeSet(), _engine.TimeSet()
    for op in ops:
        if op == "add":
            t, i = data.draw(TIMES), data.draw(IDS)
            same(lambda: py.add(t, i), lambda: rs.add(t, i))
        elif op == "many":
            for t, i in data.draw(st.lists(st.tuples(GRID, st.integers(0, 5)), min_size=5, max_size=25)):
                same(lambda: py.add(t, i), lambda: rs.add(t, i))
        elif op == "readd" and len(py):
            k = index(data, len(py))
            t, i = py.t[k], py.ids[k]
            assert same(lambda: py.add(t, i), lambda: rs.add(t, i)) == -1
        elif op == "count":
            end = data.draw(st.one_of(TIMES, st.sampled_from(py.t or [0.0])))
            s = data.draw(SECONDS)
            same(lambda: py.count(end, s), lambda: rs.count(end, s))
        elif op == "exceeded" and len(py):
            k, s, lim, span = index(data, len(py)), data.draw(SECONDS), data.draw(st.integers(-1, 6)), data.draw(SPANS)
            if data.draw(st.booleans()):
                same(lambda: py.exceeded(k, s, lim, span), lambda: rs.exceeded(k, s, lim, span))
            else:
                same(lambda: py.exceeded(k, s, lim), lambda: rs.exceeded(k, s, lim))
        elif op == "prune":
            before = data.draw(st.one_of(TIMES, st.sampled_from(py.t or [0.0])))
            keep = data.draw(KEEPS)
            same(lambda: py.prune(before, keep), lambda: rs.prune(before, keep))
        elif op == "compact":
            lo, hi = sorted([data.draw(st.one_of(TIMES, st.sampled_from(py.t or [0.0]))) for _ in "lh"])
            keep = data.draw(KEEPS)
            same(lambda: py.compact(lo, hi, keep), lambda: rs.compact(lo, hi, keep))
        assert (bits(py.t), py.ids) == (bits(rs.t), rs.ids)
        assert len(py) == len(rs)


@settings(max_examples=max(200, EXAMPLES // 10), deadline=None)
@given(entries=st.lists(st.tuples(TIMES, st.integers(0, 5)), max_size=30), data=st.data())
def test_timeset_order_and_repeats_do_not_matter_in_rust(entries, data):
    """The docstring's promise, held by the port on its own: any order, any repeats, the same set."""
    shuffled = data.draw(st.permutations(entries + entries[: len(entries) // 2]))
    a, b = _engine.TimeSet(), _engine.TimeSet()
    for t, i in entries:
        a.add(t, i)
    for t, i in shuffled:
        b.add(t, i)
    # as floats: (-0.0, i) and (0.0, i) are one entry, and the one added first is the one kept (as
    # in the reference), the only place where the order of adds shows in the stored bits
    assert a.t == b.t
    assert sorted(zip(a.t, a.ids)) == sorted(zip(b.t, b.ids))


def test_a_nan_time_is_stored_where_the_reference_stores_it():
    """The reference does not refuse NaN: nothing is < NaN, so it goes first (and msgspec writes it
    as null, which neither side reads back as a float). The port does the same."""
    py, rs = TimeSet(), _engine.TimeSet()
    for t, i in [(1.0, 1), (2.0, 2), (math.nan, 3), (math.nan, 3), (0.5, 4)]:
        same(lambda: py.add(t, i), lambda: rs.add(t, i))
        assert (bits(py.t), py.ids) == (bits(rs.t), rs.ids)
    for end in (0.5, 1.0, 2.0, math.nan):
        same(lambda: py.count(end, 1.5), lambda: rs.count(end, 1.5))
    assert rs.to_json() == msgspec.json.encode(py)
    with pytest.raises(ValueError):
        _engine.TimeSet.from_json(rs.to_json())
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(rs.to_json(), type=TimeSet)


def test_the_ids_the_rules_make_fit():
    """registration_lockout's entry ids put a 31-bit account above 33 bits: up to 2**64 - 1."""
    from streams.rules.registration_lockout import account_id, entry
    from streams.rules._common import flagged

    ids = [entry(account_id("alice"), flagged(2**32 - 1, None)), entry((1 << 31) - 1, (1 << 33) - 1), 2**63]
    py, rs = TimeSet(), _engine.TimeSet()
    for k, i in enumerate(ids):
        same(lambda: py.add(10.0 + k, i), lambda: rs.add(10.0 + k, i))
    assert rs.ids == py.ids
    assert rs.to_json() == msgspec.json.encode(py)
    assert max(ids) == 2**64 - 1


# ---------------------------------------------------------------------------------------- Intervals

INTERVAL_OPS = st.sampled_from(["add", "add", "add", "many", "readd", "latest", "ended_by", "count_at", "holds",
                                "overlapping", "prune", "forget_by_start"])


def intervals_state(x):
    return bits(x.ends), bits(x.starts), list(x.ids), bits(x.by_start)


@pytest.mark.slow
@RUN
@given(data=st.data(), ops=st.lists(INTERVAL_OPS, max_size=40))
def test_intervals_match_the_reference(data, ops):
    py, rs = Intervals(), _engine.Intervals()
    for op in ops:
        probe = st.one_of(TIMES, st.sampled_from(py.starts + py.ends or [0.0]))
        if op == "add":
            start = data.draw(TIMES)
            end = data.draw(st.one_of(st.floats(0.5, 50).map(lambda d: start + d), TIMES))
            i = data.draw(IDS)
            same(lambda: py.add(start, end, i), lambda: rs.add(start, end, i))
        elif op == "many":
            for s, d, i in data.draw(st.lists(st.tuples(GRID, st.integers(1, 6), st.integers(0, 40)), min_size=5, max_size=25)):
                same(lambda: py.add(s, s + d, i), lambda: rs.add(s, s + d, i))
        elif op == "readd" and len(py):
            k = index(data, len(py))
            s, e, i = py.starts[k], py.ends[k], py.ids[k]
            assert same(lambda: py.add(s, e, i), lambda: rs.add(s, e, i)) == -1
        elif op == "latest":
            same(py.latest_start, rs.latest_start)
        elif op == "ended_by":
            t = data.draw(probe)
            same(lambda: py.ended_by(t), lambda: rs.ended_by(t))
        elif op == "count_at":
            t = data.draw(probe)
            same(lambda: py.count_at(t), lambda: rs.count_at(t))
        elif op == "holds":
            i = data.draw(st.one_of(IDS, st.sampled_from(py.ids or [0])))
            s = data.draw(st.one_of(st.sampled_from(py.starts or [0.0]), probe))
            same(lambda: py.holds(i, s), lambda: rs.holds(i, s))
        elif op == "overlapping":
            lo, hi = data.draw(probe), data.draw(probe)
            same(lambda: py.overlapping(lo, hi), lambda: rs.overlapping(lo, hi))
        elif op == "prune":
            before, keep = data.draw(probe), data.draw(st.integers(0, 30))
            same(lambda: py.prune(before, keep), lambda: rs.prune(before, keep))
        elif op == "forget_by_start" and all(map(math.isfinite, py.ends + py.starts)):
            # state written before by_start existed: both rebuild it on use (inf is written as null,
            # which neither side reads back, so such a window is not reloaded)
            py = msgspec.json.decode(msgspec.json.encode([py.ends, py.starts, py.ids]), type=Intervals)
            rs = _engine.Intervals.from_json(msgspec.json.encode([rs.ends, rs.starts, rs.ids]))
        assert intervals_state(py) == intervals_state(rs)
        assert len(py) == len(rs)


# -------------------------------------------------------------------------------------- ValueWindow

VALUE_OPS = st.sampled_from(["add", "add", "add", "many", "readd", "hits", "hits", "prune"])


@pytest.mark.slow
@RUN
@given(data=st.data(), ops=st.lists(VALUE_OPS, max_size=40))
def test_valuewindow_matches_the_reference(data, ops):
    py, rs = ValueWindow(), _engine.ValueWindow()
    for op in ops:
        if op == "add":
            t, i, v = data.draw(TIMES), data.draw(IDS), data.draw(VALUES)
            if data.draw(st.booleans()):
                same(lambda: py.add(t, i, v), lambda: rs.add(t, i, v))
            else:
                same(lambda: py.add(t, i), lambda: rs.add(t, i))
        elif op == "many":
            for t, i, v in data.draw(st.lists(st.tuples(GRID, st.integers(0, 5), st.integers(0, 3)), min_size=5, max_size=25)):
                same(lambda: py.add(t, i, v), lambda: rs.add(t, i, v))
        elif op == "readd" and len(py):
            k = index(data, len(py))
            t, i, v = py.t[k], py.ids[k], data.draw(VALUES)
            assert same(lambda: py.add(t, i, v), lambda: rs.add(t, i, v)) == -1
        elif op == "hits" and len(py):
            k, s, kind = index(data, len(py)), data.draw(SECONDS), data.draw(st.sampled_from(KINDS))
            th = data.draw(st.one_of(st.integers(-2, 6).map(float), st.floats(-1e13, 1e13, allow_nan=False),
                                     st.sampled_from([0.5, 2.5, 2.0**53, math.inf, -math.inf, math.nan])))
            same(lambda: py.hits(k, s, th, kind), lambda: rs.hits(k, s, th, kind))
        elif op == "prune":
            before = data.draw(st.one_of(TIMES, st.sampled_from(py.t or [0.0])))
            keep = data.draw(KEEPS)
            same(lambda: py.prune(before, keep), lambda: rs.prune(before, keep))
        assert (bits(py.t), py.ids, py.vals) == (bits(rs.t), rs.ids, rs.vals)


# ------------------------------------------------------------------------------- msgspec <-> serde

FINITE = st.floats(allow_nan=False, allow_infinity=False)


@pytest.mark.slow
@RUN
@given(t=st.lists(st.one_of(TIMES.filter(math.isfinite), FINITE), max_size=20), data=st.data())
def test_msgspec_json_round_trips_through_the_rust_windows_byte_for_byte(t, data):
    n = len(t)
    ids = data.draw(st.lists(IDS, min_size=n, max_size=n))
    vals = data.draw(st.lists(VALUES, min_size=n, max_size=n))
    starts = data.draw(st.lists(FINITE, min_size=n, max_size=n))
    cases = [
        (TimeSet(t=list(t), ids=ids), _engine.TimeSet),
        (ValueWindow(t=list(t), ids=ids, vals=vals), _engine.ValueWindow),
        (Intervals(ends=list(t), starts=starts, ids=ids, by_start=sorted(starts)), _engine.Intervals),
    ]
    for window, port in cases:
        raw = msgspec.json.encode(window)
        rs = port.from_json(raw)
        assert rs.to_json() == raw
        assert msgspec.json.decode(rs.to_json(), type=type(window)) == window


@pytest.mark.parametrize("x", [70368744177664.625, 35184372088832.3125, 2.5, 0.125, 1e23, 5e-324])
def test_a_float_halfway_between_two_shortest_forms_is_written_as_msgspec_writes_it(x):
    """2**46 + 0.625 reads back from both 70368744177664.62 and .63: msgspec (as Python's repr) takes
    the even one; Rust's shortest formatting took .63 (found by a 20,000-example run)."""
    window = TimeSet(t=[x], ids=[0])
    assert _engine.TimeSet.from_json(msgspec.json.encode(window)).to_json() == msgspec.json.encode(window)


@pytest.mark.parametrize("raw, kind", [
    (b"[]", "TimeSet"), (b"[[1,2.5],[7,8]]", "TimeSet"), (b"[[1.0],[7],[3]]", "ValueWindow"),
    (b"[[2.0],[1.0],[5]]", "Intervals"),  # written before by_start existed
    (b"[[1.0],[7],[1.0],[99]]", "TimeSet"),  # a column more than the Struct has: ignored, as msgspec does
])
def test_json_from_either_side_reads_the_same(raw, kind):
    ref = {"TimeSet": TimeSet, "ValueWindow": ValueWindow, "Intervals": Intervals}[kind]
    py = msgspec.json.decode(raw, type=ref)
    rs = getattr(_engine, kind).from_json(raw)
    assert rs.to_json() == msgspec.json.encode(py)


@pytest.mark.parametrize("raw", [b"[[null],[1]]", b'[["1"],[1]]', b"[[1.0],[1.5]]", b"{}"])
def test_json_neither_side_reads(raw):
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(raw, type=TimeSet)
    with pytest.raises(ValueError):
        _engine.TimeSet.from_json(raw)
