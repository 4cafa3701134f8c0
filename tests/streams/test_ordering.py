from streams.ordering import Reorderer


def test_released_in_event_time_order_across_sources():
    r = Reorderer(idle_s=5)
    r.add("a", 10, "a10", wall=0)
    r.add("b", 5, "b5", wall=0)
    assert r.release(wall=0) == ["b5"]          # a is at 10, b at 5: watermark 5
    r.add("b", 12, "b12", wall=1)
    assert r.release(wall=1) == ["a10"]         # watermark min(10, 12) = 10
    r.add("a", 20, "a20", wall=2)
    assert r.release(wall=2) == ["b12"]
    assert r.release(wall=3) == []              # both active: watermark min(20, 12)
    assert r.release(wall=6.5) == ["a20"]       # b idle for 5.5 s: only a counts
    assert len(r) == 0


def test_idle_source_stops_holding_back():
    r = Reorderer(idle_s=2)
    r.add("a", 100, "x", wall=0)
    r.add("b", 1, "y", wall=0)
    assert r.release(wall=0) == ["y"]
    assert r.release(wall=1) == []              # b still active at ts 1
    assert r.release(wall=2.5) == ["x"]         # b idle: watermark is a's 100


def test_overflow_releases_oldest():
    r = Reorderer(idle_s=100, max_held=2)
    r.add("a", 1, 1, wall=0)
    r.add("b", 0, 0, wall=0)
    r.release(0)
    for i in range(3, 6):
        r.add("a", i, i, wall=0)
    assert r.release(0) == [1, 3]               # b holds the watermark at 0; what is over max_held goes out
    assert len(r) == 2


def test_forget_revoked_source():
    r = Reorderer(idle_s=100)
    r.add("a", 50, "a", wall=0)
    r.add("b", 1, "b", wall=0)
    r.release(0)
    r.forget(["b"])
    assert r.release(0) == ["a"]


def test_registered_silent_partition_holds_until_idle():
    r = Reorderer(idle_s=2)
    r.register("late", wall=0)
    r.add("early", 10, "e", wall=0.5)
    assert r.release(wall=1) == []              # "late" has delivered nothing yet
    r.add("late", 5, "l", wall=1.5)
    assert r.release(wall=1.6) == ["l"]
    assert r.release(wall=4) == ["e"]           # "late" went quiet


def test_quiet_sources_hold_back_until_confirmed():
    r = Reorderer(idle_s=1)
    r.add("a", 10, "a", wall=0)
    r.add("b", 1, "b", wall=0)
    r.release(0)
    assert r.idle_sources(wall=5) == ["a", "b"]
    assert r.release(wall=5, allow_idle=False) == []   # not yet confirmed idle: b still holds at 1
    r.touch("b", wall=5)                                 # the shell found records pending on b
    assert r.release(wall=5) == []
    assert r.release(wall=7) == ["a"]
