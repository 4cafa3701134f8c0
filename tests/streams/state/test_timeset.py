"""TimeSet and Intervals: sorted, identity-keyed, so any arrival order and any repeat give one state."""
import random

from hypothesis import given, settings, strategies as st

from streams.state import Intervals, TimeSet


def test_add_keeps_order_and_refuses_the_same_entry_twice():
    w = TimeSet()
    assert w.add(5.0, 1) == 0 and w.add(3.0, 2) == 0 and w.add(9.0, 3) == 2
    assert w.add(5.0, 1) == -1           # the same event again
    assert w.add(5.0, 4) >= 0            # another event at the same instant
    assert w.t == [3.0, 5.0, 5.0, 9.0] and sorted(w.ids) == [1, 2, 3, 4]


def test_exceeded_finds_the_windows_a_late_entry_completes():
    w = TimeSet()
    for i, t in enumerate([10.0, 10.5, 12.0]):
        w.add(t, i)
    late = w.add(9.9, 99)                # arrives last, belongs first
    hits = w.exceeded(late, seconds=2.0, limit=2)
    # window ending at 10.5 now holds 9.9, 10.0, 10.5; the one ending at 12.0 holds only 10.5 and 12.0
    assert hits == [(10.5, 3)]


def test_count_is_half_open():
    w = TimeSet()
    for i, t in enumerate([1.0, 2.0, 3.0]):
        w.add(t, i)
    assert w.count(3.0, 2.0) == 2        # (1, 3]
    assert w.count(3.0, 2.0001) == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=40), st.randoms())
def test_any_order_gives_the_same_set_and_the_same_windows_over_the_limit(times, rnd):
    events = list(enumerate(times))

    def build(seq):
        w, found = TimeSet(), set()
        for ident, t in seq:
            i = w.add(t, ident)
            if i >= 0:
                found |= {end for end, _ in w.exceeded(i, 5.0, 2)}
        return w, found

    a, fa = build(events)
    shuffled = events[:]
    rnd.shuffle(shuffled)
    b, fb = build(shuffled + shuffled[:3])  # and a few repeats
    assert a.t == b.t and sorted(a.ids) == sorted(b.ids)
    assert fa == fb  # every window end over the limit is found, whatever came first


def test_prune_drops_old_entries_and_caps_the_rest():
    w = TimeSet()
    for i in range(100):
        w.add(float(i), i)
    w.prune(before=50.0, keep=1000)
    assert w.t[0] == 50.0
    w.prune(before=0.0, keep=10)
    assert len(w) == 10 and w.t[-1] == 99.0


def test_intervals_overlap_and_identity():
    iv = Intervals()
    assert iv.add(0.0, 10.0, 1) >= 0 and iv.add(5.0, 7.0, 2) >= 0 and iv.add(20.0, 30.0, 3) >= 0
    assert iv.add(0.0, 10.0, 1) == -1
    assert sorted(iv.overlapping(6.0, 21.0)) == [(0.0, 10.0), (5.0, 7.0), (20.0, 30.0)]
    assert iv.overlapping(10.0, 20.0) == []   # half-open on both sides
    assert iv.holds(2, 5.0) and not iv.holds(9, 5.0)
    iv.prune(before=8.0, keep=10)
    assert iv.ends == [10.0, 30.0]


def test_count_at_equals_a_brute_force_count_through_adds_and_prunes():
    import random

    from streams.state import Intervals
    rnd = random.Random(7)
    iv, held = Intervals(), {}
    for i in range(3000):
        a = rnd.uniform(0, 1000)
        b = a + rnd.uniform(0.1, 60)
        if iv.add(a, b, i) >= 0:
            held[i] = (a, b)
        if i % 97 == 0:
            before = rnd.uniform(0, 1000)
            iv.prune(before, rnd.choice([5, 40, 10_000]))
            kept = set(iv.ids)
            held = {k: v for k, v in held.items() if k in kept}
        t = rnd.uniform(0, 1100)
        assert iv.count_at(t) == sum(1 for a, b in held.values() if a <= t < b)
    old = Intervals(ends=list(iv.ends), starts=list(iv.starts), ids=list(iv.ids))  # state from before by_start
    assert old.count_at(500.0) == iv.count_at(500.0)


def test_exceeded_per_epoch_is_the_first_hit_of_each_epoch_in_any_insertion_order():
    """``exceeded(..., span)`` skips the rest of an epoch once it has its first hit: the same answer as
    taking the first of each epoch from every hit, for late and on-time entries alike."""
    import random

    from streams.rules._common import first_per_epoch
    rnd = random.Random(28)
    for trial in range(200):
        times = [rnd.choice([rnd.uniform(0, 3000), float(rnd.randrange(0, 3000, 50))]) for _ in range(rnd.randint(1, 80))]
        rnd.shuffle(times)
        seconds, limit, span = rnd.choice([60, 600]), rnd.randint(0, 6), rnd.choice([100.0, 600.0, 1e18])
        a, b = TimeSet(), TimeSet()
        for k, t in enumerate(times):
            i, j = a.add(t, k), b.add(t, k)
            assert first_per_epoch(a.exceeded(i, seconds, limit), span) == b.exceeded(j, seconds, limit, span), trial
