"""What the worker does below Faust's public API still matches the Faust that is installed."""
import asyncio
import hashlib
import inspect
from collections import namedtuple
from importlib import metadata

import faust
from faust.types import TP

from streams.shells.worker import faust_compat as fc

Rec = namedtuple("Rec", "topic partition offset value")


def test_every_patched_or_copied_faust_function_is_the_one_the_patches_were_written_for():
    changed = {name: metadata.version("faust-streaming") for name, fn in fc.originals().items()
               if hashlib.sha256(inspect.getsource(fn).encode()).hexdigest() != fc.PINNED[name]}
    assert not changed, (f"faust-streaming changed under streams/shells/worker/faust_compat.py ({fc.FAUST_VERSION} -> "
                         f"{metadata.version('faust-streaming')}): re-check {sorted(changed)} and update PINNED")


def test_consumer_attributes_the_patches_use_exist():
    app = faust.App("fc-test", broker="kafka://127.0.0.1:1")
    consumer = app.consumer
    for attr in ("_acked", "_acked_index", "_committed_offset", "_n_acked", "_waiting_for_ack", "_read_offset",
                 "_buffered_partitions", "suspend_flow", "_add_gap", "perform_seek", "resume_partitions"):
        assert hasattr(consumer, attr), attr


def test_acknowledged_offsets_are_what_faust_commits():
    app = faust.App("fc-test2", broker="kafka://127.0.0.1:1")
    chan = fc.BatchChannel(app, "p.cdr")
    chan.put_many([Rec("p.cdr", 0, o, b"{}") for o in range(5)])
    got = chan.take(3)
    assert [r.offset for r in got] == [0, 1, 2] and chan.pending() == 5 and chan.busy == 3
    fc.ack(app, got)
    assert app.consumer._new_offset(TP("p.cdr", 0)) == 3  # Faust would commit offset 3 (the next to read)
    fc.ack(app, got)                                       # acknowledging twice changes nothing
    assert app.consumer._new_offset(TP("p.cdr", 0)) == 3


def test_revoked_partitions_are_dropped_unacknowledged():
    app = faust.App("fc-test3", broker="kafka://127.0.0.1:1")
    chan = fc.BatchChannel(app, "p.cdr")
    chan.put_many([Rec("p.cdr", p, 0, b"{}") for p in (0, 1, 0)])
    assert chan.drop({("p.cdr", 0)}) == 2 and [r.partition for r in chan.items] == [1]


def test_a_batch_agent_hands_over_what_arrived_as_one_batch():
    app = faust.App("fc-test4", broker="kafka://127.0.0.1:1")
    chan = fc.BatchChannel(app, "p.cdr")
    seen = []

    async def go():
        @fc.batch_agent(app, chan, "t")
        async def handle(batch):
            seen.append([r.offset for r in batch])
        chan.put_many([Rec("p.cdr", 0, o, b"") for o in range(4)])
        task = asyncio.ensure_future(app._app_tasks[-1]())
        await asyncio.sleep(0.05)
        task.cancel()
    asyncio.run(go())
    assert seen == [[0, 1, 2, 3]] and chan.busy == 0


class _Fetching:
    """Enough of a Faust consumer for fc._deliver and Faust's own gap bookkeeping (_add_gap, _new_offset)."""

    def __init__(self, tp, last_read: int, committed: int):
        from collections import defaultdict

        from faust.transport.consumer import Consumer
        from intervaltree import IntervalTree
        from types import SimpleNamespace
        self._read_offset = defaultdict(lambda: None, {tp: last_read})
        self._committed_offset = defaultdict(lambda: None, {tp: committed})
        self._gap, self._acked, self._acked_index = defaultdict(IntervalTree), defaultdict(list), defaultdict(set)
        self._buffered_partitions, self.flow_active, self._n_acked = set(), True, 0
        self._waiting_for_ack = None
        self.app = SimpleNamespace(consumer_generation_id=1, topics=SimpleNamespace(acks_enabled_for=lambda t: True),
                                   monitor=SimpleNamespace(track_tp_end_offset=lambda *a: None), consumer=self)
        self.add_gap, self.new_offset = Consumer._add_gap, Consumer._new_offset

    async def _add_gap(self, tp, a, b):
        await self.add_gap(self, tp, a, b)

    def highwater(self, tp):
        return 1000


def test_a_gap_in_the_offsets_never_counts_the_record_after_it_as_done():
    """The cause of the duplicate acknowledgements (issue 27.3). A fetch that skips offsets (11 here: a
    control record, or a position moved under the consumer) registers a gap, and Faust's _new_offset
    fills gaps into the acknowledged offsets. The gap was registered up to and *with* the first record
    delivered after it (Faust's _add_gap(tp, from, to) keeps [from, to]): before record 12 was processed
    the commit could move past it (12 lost on a crash), and once 12 was acknowledged it stood twice in
    _acked, where Faust's consecutive run ends: each commit moved only to the next duplicate."""
    from faust.types import TP
    tp = TP("t.security", 0)
    c = _Fetching(tp, last_read=10, committed=11)
    chan = fc.BatchChannel(faust.App("fc-gap", broker="kafka://127.0.0.1:1"), "t.security")
    fc._channels(c.app)["t.security"] = chan
    recs = [Rec("t.security", 0, o, b"{}") for o in (12, 13)]
    assert asyncio.run(fc._deliver(c, tp, recs, None, 1))
    assert chan.pending() == 2
    # nothing is processed yet: the commit must not move past record 12
    new = c.new_offset(c, tp)
    assert new is None or new <= 12
    # 12 and 13 are processed and acknowledged: the commit moves to 14, each offset counted once
    fc.ack(c.app, recs)
    assert c.new_offset(c, tp) == 14
    assert len(c._acked[tp]) == len(set(c._acked[tp]))


def test_a_gap_never_lets_the_commit_pass_a_record_not_yet_processed():
    from faust.types import TP
    tp = TP("t.security", 0)
    c = _Fetching(tp, last_read=10, committed=11)
    fc._channels(c.app)["t.security"] = fc.BatchChannel(faust.App("fc-gap2", broker="kafka://127.0.0.1:1"), "t.security")
    recs = [Rec("t.security", 0, o, b"{}") for o in (12, 13)]
    assert asyncio.run(fc._deliver(c, tp, recs, None, 1))
    fc.ack(c.app, recs[1:])  # 13 is done (another batch), 12 is not: a crash now must read 12 again
    new = c.new_offset(c, tp)
    assert new is None or new <= 12  # None: the commit stays where it was (11)
    fc.ack(c.app, recs[:1])
    assert c.new_offset(c, tp) == 14


def test_a_periodic_job_slower_than_its_interval_waits_instead_of_overlapping(caplog):
    """mode's timer logs a WARNING on every tick slower than its interval (a busy 2-core CI box made
    the demo's first screen show one); ``every`` starts the next tick only after the last ended."""
    app = faust.App("fc-every", broker="kafka://127.0.0.1:1")
    spans, running = [], []

    async def slow():
        assert not running, "ticks overlapped"
        running.append(1)
        t0 = asyncio.get_running_loop().time()
        await asyncio.sleep(0.03)  # three times the interval
        spans.append((t0, asyncio.get_running_loop().time()))
        running.pop()

    async def run():
        loop = fc.every(app, 0.01, slow)
        task = asyncio.ensure_future(loop())
        await asyncio.sleep(0.2)
        task.cancel()

    with caplog.at_level("WARNING"):
        asyncio.run(run())
    assert len(spans) >= 3
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:]))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_periodic_job_stops_with_the_app_and_runs_no_tick_after():
    app = faust.App("fc-every-stop", broker="kafka://127.0.0.1:1")
    ticks = []

    async def job():
        ticks.append(1)
        if len(ticks) == 3:
            app._stopped.set()  # the app is told to stop while this tick runs

    async def run():
        await asyncio.wait_for(fc.every(app, 0.001, job)(), timeout=5)  # returns: the loop ends by itself

    asyncio.run(run())
    assert len(ticks) == 3


def test_a_periodic_job_that_raises_ends_its_loop_with_the_error_not_silently():
    """A job that fails (a sweep whose state cannot be written) must not be retried forever behind the log's
    back: the error leaves the loop, and Faust's task wrapper crashes the worker, which restarts from its
    last checkpoint (what mode's timer did too)."""
    app = faust.App("fc-every-raise", broker="kafka://127.0.0.1:1")
    ticks = []

    async def job():
        ticks.append(1)
        if len(ticks) == 2:
            raise RuntimeError("state store gone")

    async def run():
        await asyncio.wait_for(fc.every(app, 0.001, job)(), timeout=5)

    import pytest
    with pytest.raises(RuntimeError, match="state store gone"):
        asyncio.run(run())
    assert len(ticks) == 2
