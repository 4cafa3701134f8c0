"""The Sequencer both shells use: canonical order per tenant, lateness, late items flagged not dropped."""
from streams.core.ordering import Sequencer, in_event_time_order


def test_released_in_time_then_order_key_once_the_watermark_passes():
    s = Sequencer(lateness=10)
    for ts, key in [(5, "b"), (3, "z"), (5, "a"), (30, "x")]:
        s.push("t", ts, key, (ts, key))
    assert [item for _, item, _ in s.release("t", 15)] == [(3, "z"), (5, "a"), (5, "b")]
    assert s.release("t", 39) == [] and len(s) == 1
    assert [item for _, item, _ in s.release("t", 40)] == [(30, "x")]


def test_clocks_are_per_tenant():
    s = Sequencer()
    s.push("a", 100, "", "a100")
    s.push("b", 5, "", "b5")
    assert s.release("a", 9e18) == [(100, "a100", False)]  # a far-future watermark of tenant a ...
    assert len(s) == 1                                      # ... releases nothing of tenant b


def test_an_item_behind_what_was_released_is_late_and_still_released():
    s = Sequencer()
    s.push("t", 10, "", "on time")
    s.release("t", 10)
    assert s.push("t", 4, "", "late") is True and s.late == 1
    assert s.release("t", 10) == [(4, "late", True)]


def test_in_event_time_order_sorts_within_lateness_and_passes_rejects_through():
    recs = [("t", 3), None, ("t", 1), ("t", 2), ("t", 50), ("t", 4), ("t", 100), ("t", 5)]
    key = (lambda r: None if r is None else (r[0], r[1], r[1]))
    out = list(in_event_time_order(recs, 10, key))
    assert out[0] == (None, False)                      # a reject is not held back
    got = [r for r, _ in out if r is not None]
    assert got[:4] == [("t", 1), ("t", 2), ("t", 3), ("t", 4)]   # sorted: 4 was still in time
    # 100 released 50; 5 then came too late to be put before it: judged at once, flagged, not dropped
    assert (("t", 5), True) in out and got[-1] == ("t", 100)
