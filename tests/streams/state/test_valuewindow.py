"""ValueWindow: order-free windows of counts, distinct counts and sums, against a brute-force count."""

from hypothesis import given, settings, strategies as st

from streams.state.valuewindow import KINDS, ValueWindow

entries = st.lists(st.tuples(st.integers(0, 50).map(float), st.integers(0, 5), st.integers(0, 4)), max_size=40)


def brute(es, i, seconds, threshold, kind):
    """Every window end (an entry time) whose window (end - seconds, end] holds entry i, over the threshold."""
    t = es[i][0]
    out = []
    for end in sorted({e[0] for e in es if t <= e[0] < t + seconds}):
        inside = [e for e in es if end - seconds < e[0] <= end]
        m = len(inside) if kind == "event_count" else len({e[2] for e in inside}) if kind == "value_count" \
            else sum(e[2] for e in inside)
        if m > threshold:
            out.append((end, m))
    return out


@settings(max_examples=300, deadline=None)
@given(entries, st.integers(1, 20).map(float), st.integers(0, 6), st.sampled_from(KINDS), st.randoms())
def test_hits_equal_a_brute_force_count_in_any_order(es, seconds, threshold, kind, rnd):
    rnd.shuffle(es)
    w = ValueWindow()
    held = {}
    for time, ident, value in es:
        i = w.add(time, ident, value)
        if (time, ident) in held:
            assert i == -1  # an entry applied twice counts once
            continue
        held[(time, ident)] = value
        got = w.hits(i, seconds, threshold, kind)
        now = sorted((t, v, held[(t, v)]) for t, v in held)
        j = now.index((time, ident, value))
        assert got == brute(now, j, seconds, threshold, kind)
    assert w.t == sorted(w.t) and len(w.t) == len(w.ids) == len(w.vals) == len(held)


def test_prune_keeps_the_newest_and_its_values():
    w = ValueWindow()
    for i in range(100):
        w.add(float(i), i, i * 10)
    w.prune(50.0, 1000)
    assert w.t[0] == 50.0 and w.vals[0] == 500
    w.prune(0.0, 10)
    assert len(w) <= 13 and w.vals[-1] == 990 and len(w.vals) == len(w.t)
