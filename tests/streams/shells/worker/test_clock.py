"""A scope partition's event time per tenant, from the input partitions' marks (docs/stream.md)."""
from streams.shells.worker.clock import EXPECT, MARGIN, NEVER, PartitionClock


def mark(wm, idle=False, pace=None, **tenants):
    return [wm, idle, {t: list(v) for t, v in tenants.items()}, wm if pace is None else pace]


def test_nothing_moves_until_every_source_has_spoken():
    c = PartitionClock()
    c.merge({EXPECT: ["cdr:0", "cdr:1"], "cdr:0": mark(100, acme=(100, 0))})
    assert c.watermark("acme") == NEVER
    c.merge({"cdr:1": mark(50, acme=(50, 0))})
    assert c.watermark("acme") == 50


def test_idle_sources_do_not_hold_back_and_all_idle_means_the_tenants_latest():
    c = PartitionClock()
    c.merge({EXPECT: ["a", "b"], "a": mark(100, acme=(100, 0)), "b": mark(20, acme=(20, 0))})
    assert c.watermark("acme") == 20
    c.merge({"b": mark(20, idle=True)})
    assert c.watermark("acme") == 100
    c.merge({"a": mark(100, idle=True)})
    assert c.watermark("acme") == 100


def test_a_tenant_quiet_on_a_busy_source_is_not_held_back_for_ever():
    c = PartitionClock()
    c.merge({EXPECT: ["a", "b"], "a": mark(1000, acme=(1000, 0)), "b": mark(1000, acme=(10, 0))})
    # acme last appeared on b at 10 with no lag; b has moved on to 1000 with other tenants' traffic
    assert c.watermark("acme") == 1000 - MARGIN


def test_a_tenant_with_a_slow_clock_keeps_its_own_time():
    c = PartitionClock()
    five_h = 5 * 3600
    c.merge({EXPECT: ["a"], "a": mark(100_000, slow=(100_000 - five_h, five_h), fast=(100_000, 0))})
    assert c.watermark("slow") == 100_000 - five_h        # not the source's time: its calls are not overdue
    c.merge({"a": mark(100_600, fast=(100_600, 0))})
    assert c.watermark("slow") == 100_600 - five_h - MARGIN   # and it keeps pace with the source


def test_a_tenant_whose_clock_runs_ahead_does_not_move_another_tenant_past_real_time():
    c = PartitionClock()
    now = 1_000_000.0
    c.merge({EXPECT: ["a"], "a": mark(now + 800, pace=now, acme=(now - 300, 0), rogue=(now + 800, 0))})
    assert c.watermark("acme") == now - MARGIN  # the source's pace is capped at the wall clock


def test_marks_only_move_forward_and_say_which_tenants_moved():
    c = PartitionClock()
    c.merge({EXPECT: ["a"], "a": mark(100, acme=(100, 0), beta=(90, 0))})
    assert c.merge({"a": mark(100, acme=(120, 0))}) == {"acme"}
    assert c.merge({"a": mark(90, acme=(110, 0))}) == set()   # an older mark changes nothing
    assert c.state.sources["a"].wm == 100 and c.state.sources["a"].tenants["acme"][0] == 120
