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
        self.add_gap, self.new_offset = Consumer._add_gap, fc._original_new_offset  # Faust's own

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
    assert asyncio.run(fc._deliver(c, tp, recs, None, (1, 0)))
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
    assert asyncio.run(fc._deliver(c, tp, recs, None, (1, 0)))
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


class _Rebalanced(_Fetching):
    """A consumer that got its partition back in a rebalance: the assignment sought it to the committed offset."""

    def __init__(self, tp, committed):
        super().__init__(tp, last_read=committed, committed=committed)
        self.tp, self.sought, self.seeks_to_committed = tp, [], 0

    def assignment(self):
        return {self.tp}

    async def seek(self, tp, offset):
        self.sought.append((tp, offset))
        self._read_offset[tp] = offset

    async def perform_seek(self):
        self.seeks_to_committed += 1


def _commits_to_reach(c, tp, end: int) -> int:
    """How many of Faust's commit rounds (one ``_new_offset`` each) it takes to commit up to ``end``."""
    for n in range(1, 200):
        new = c.new_offset(c, tp)
        if new is not None and new > (c._committed_offset[tp] or 0):
            c._committed_offset[tp] = new
        if c._committed_offset[tp] == end:
            return n
    return 200


def _after_a_rebalance(hand_over) -> tuple:
    """A worker reads offsets 92..124 of a partition, the group rebalances before they are committed, and the
    partition comes back to it: the assignment seeks it to the committed offset (92). A fetch made before that
    seek returns 125..140 after it. Then 92..140 are read again and acknowledged."""
    tp = TP("t.by-tenant", 2)
    c = _Rebalanced(tp, committed=92)
    chan = fc.BatchChannel(faust.App("fc-rebal", broker="kafka://127.0.0.1:1"), tp.topic)
    fc._channels(c.app)[tp.topic] = chan
    stale = [Rec(tp.topic, 2, o, b"{}") for o in range(125, 141)]
    c.app.consumer_generation_id = 2  # the rebalance: fetched in generation 1, handed over in 2
    asyncio.run(hand_over(c, stale))
    handed = [r.offset for r in chan.take(10_000)]
    again = [Rec(tp.topic, 2, o, b"{}") for o in range(92, 141)]
    fc.ack(c.app, [r for r in stale if r.offset in handed])
    fc.ack(c.app, again)
    return c, tp, handed


def test_records_fetched_before_a_rebalance_are_read_again_not_handed_over_past_a_gap():
    """The two-worker drain whose commits lagged 20-40 s behind its work (BENCHMARKS.md §7, 871 events/s). Handed
    over as before (``_deliver`` in the generation they arrive in), the stale records register a gap 93..124, which
    Faust's ``_new_offset`` fills into ``_acked``; once 92..140 are read again each of those stands there twice,
    and each commit round moves one offset. Now they are dropped and the partition is sought back to 92."""
    async def before(c, recs):  # the hand-over of 89b8086: the generation read after the fetch
        await fc._deliver(c, c.tp, recs, None, fc._mark(c))

    c, tp, handed = _after_a_rebalance(before)
    assert handed == list(range(125, 141)) and _commits_to_reach(c, tp, 141) > 20  # the lag, reproduced

    async def now(c, recs):
        await fc._hand_over(c, {c.tp: recs}, None, mark=(1, 0))

    c, tp, handed = _after_a_rebalance(now)
    assert handed == [] and c.sought == [(tp, 92)] and not c._gap.get(tp)
    assert _commits_to_reach(c, tp, 141) == 1
    assert sorted(c._acked[tp]) == [] and c._committed_offset[tp] == 141


def test_records_of_the_current_generation_are_handed_over():
    tp = TP("t.by-ip", 0)
    c = _Rebalanced(tp, committed=10)
    chan = fc.BatchChannel(faust.App("fc-same", broker="kafka://127.0.0.1:1"), tp.topic)
    fc._channels(c.app)[tp.topic] = chan
    recs = [Rec(tp.topic, 0, o, b"{}") for o in (10, 11)]
    asyncio.run(fc._hand_over(c, {tp: recs}, None, mark=(1, 0)))
    assert [r.offset for r in chan.take(10)] == [10, 11] and c.sought == [] and c.seeks_to_committed == 0


def test_a_partition_without_a_committed_offset_is_never_left_past_the_records_dropped():
    """Faust's ``perform_seek`` leaves a partition with no commit (or a commit of 0) where it is: in the same
    generation it is sought back to the first record dropped (its next commit would otherwise pass them
    unprocessed; a second read found it); in a new generation the assignment has positioned it already."""
    for committed in (None, 0):
        tp = TP("t.by-ip", 1)
        c = _Rebalanced(tp, committed=committed)
        chan = fc.BatchChannel(faust.App("fc-none", broker="kafka://127.0.0.1:1"), tp.topic)
        fc._channels(c.app)[tp.topic] = chan
        c._tollguard_seeks = 2  # a seek of Faust's (its recovery's) since the fetch began
        asyncio.run(fc._hand_over(c, {tp: [Rec(tp.topic, 1, o, b"{}") for o in (5, 6)]}, None, mark=(1, 0)))
        assert c.sought == [(tp, 5)] and chan.pending() == 0
        c = _Rebalanced(tp, committed=committed)
        fc._channels(c.app)[tp.topic] = chan
        c.app.consumer_generation_id = 2  # a new assignment: the consumer's own reset policy placed it
        asyncio.run(fc._hand_over(c, {tp: [Rec(tp.topic, 1, 9, b"{}")]}, None, mark=(1, 0)))
        assert c.sought == [] and chan.pending() == 0


def test_a_seek_while_a_fetch_is_handed_over_sends_the_rest_back():
    """A seek of Faust's (its recovery's, flow already resumed) that ends while an earlier partition of the same
    fetch is still being handed over: the later partitions' records are of the old position (a second read)."""
    a, b = TP("t.by-ip", 0), TP("t.by-ip", 1)
    c = _Rebalanced(a, committed=10)
    c.assignment = lambda: {a, b}
    c._committed_offset[b] = 20
    chan = fc.BatchChannel(faust.App("fc-mid", broker="kafka://127.0.0.1:1"), a.topic)
    fc._channels(c.app)[a.topic] = chan
    put = chan.put_many

    def put_then_seek(recs):
        put(recs)
        c._tollguard_seeks = 2  # the recovery's perform_seek ran meanwhile
    chan.put_many = put_then_seek
    asyncio.run(fc._hand_over(c, {a: [Rec(a.topic, 0, 10, b"{}")], b: [Rec(a.topic, 1, 60, b"{}")]}, None, mark=(1, 0)))
    assert [r.offset for r in chan.take(10)] == [10] and c.sought == [(b, 20)] and not c._gap.get(b)


class _Counted(_Rebalanced):
    """Its seeks counted as ``install`` counts Faust's."""
    _tollguard_seeks = 0
    seek = fc._counting(_Rebalanced.seek)


def test_this_modules_own_seeks_do_not_make_the_next_partitions_stale():
    """A partition paused meanwhile is given back by a seek that is not counted: the fetch's other partitions
    are still handed over (counted, every fetch with a paused partition would be read again)."""
    a, b = TP("t.by-ip", 0), TP("t.by-ip", 1)
    c = _Counted(a, committed=10)
    c.assignment = lambda: {a, b}
    chan = fc.BatchChannel(faust.App("fc-own", broker="kafka://127.0.0.1:1"), a.topic)
    fc._channels(c.app)[a.topic] = chan
    asyncio.run(fc._hand_over(c, {a: [Rec(a.topic, 0, 10, b"{}")], b: [Rec(a.topic, 1, 30, b"{}")]},
                              active={b}, mark=(1, 0)))
    assert c.sought == [(a, 10)] and [r.offset for r in chan.take(10)] == [30] and fc._mark(c) == (1, 0)
    asyncio.run(c.seek(a, 12))  # a seek of Faust's is counted, when it begins and when it ends
    assert fc._mark(c) == (1, 2)


def test_a_fetch_overtaken_by_a_seek_in_the_same_generation_is_read_again():
    """Faust's recovery resumes flow and then seeks the stream partitions to their committed offsets: a fetch
    begun in between returns records of the old position in the same generation."""
    tp = TP("t.by-ext", 0)
    c = _Rebalanced(tp, committed=40)
    chan = fc.BatchChannel(faust.App("fc-seek3", broker="kafka://127.0.0.1:1"), tp.topic)
    fc._channels(c.app)[tp.topic] = chan
    c._tollguard_seeks = 5  # one seek begun since the mark below was taken
    asyncio.run(fc._hand_over(c, {tp: [Rec(tp.topic, 0, 90, b"{}")]}, None, mark=(1, 4)))
    assert chan.pending() == 0 and c.sought == [(tp, 40)] and not c._gap.get(tp)


def test_install_counts_seeks_and_wraps_new_offset():
    from faust.transport.consumer import Consumer
    saved = {k: getattr(Consumer, k) for k in ("_drain_messages", "wait_empty", "_new_offset", "seek", "perform_seek")}
    try:
        fc.install()
        assert Consumer._new_offset is fc._new_offset and Consumer.seek.__wrapped__ is fc._original_seek
        assert Consumer.perform_seek.__wrapped__ is fc._original_perform_seek

        class C:
            _tollguard_seeks = 0

            async def inner(self, tp, off):
                return off
        counted = fc._counting(C.inner)
        c = C()
        assert asyncio.run(counted(c, "tp", 7)) == 7 and c._tollguard_seeks == 2
    finally:
        for k, v in saved.items():
            setattr(Consumer, k, v)


def test_changelog_records_fetched_before_a_rebalance_still_reach_the_recovery():
    """Only the batch channels' records are read again: a changelog's (the table recovery reads them from its
    own offsets, through the conductor) are handed over as before. Dropping them stalled the recovery."""
    tp, log = TP("t.by-ip", 0), TP("t-worker-state-ip-changelog", 0)
    c = _Rebalanced(tp, committed=7)
    fc._channels(c.app)[tp.topic] = fc.BatchChannel(faust.App("fc-log", broker="kafka://127.0.0.1:1"), tp.topic)
    got = []

    async def callback(message):
        got.append(message)
    c.callback, c._to_message, c.suspend_flow = callback, (lambda tp, r: r.offset), asyncio.Event()
    c._commit_every = None
    c._read_offset[log] = None
    c.app.consumer_generation_id = 2
    asyncio.run(fc._hand_over(c, {tp: [Rec(tp.topic, 0, 9, b"{}")], log: [Rec(log.topic, 0, o, b"") for o in (3, 4)]},
                              None, mark=(1, 0)))
    assert got == [3, 4] and c.sought == [(tp, 7)]


def test_a_gap_taken_across_a_seek_and_read_again_is_committed_in_one_round():
    """A worker's first assignment: Faust sought the partition to the committed offset it read (26), while the
    consumer's position came from the previous owner's later commit (66), so the first records looked like a
    gap 27..65. The seek back that follows reads 49..67 again. Faust fills the gap into ``_acked`` without its
    index: each of 49..65 then stood there twice, and Faust's own ``_new_offset`` moved one offset a round."""
    tp = TP("t.by-ext", 0)

    # the records read again *before* the commit round that fills the gap in
    def early(new_offset):
        c = _Fetching(tp, last_read=26, committed=26)
        c.new_offset = new_offset
        fc._channels(c.app)[tp.topic] = fc.BatchChannel(faust.App("fc-seek2", broker="kafka://127.0.0.1:1"), tp.topic)
        first = [Rec(tp.topic, 0, o, b"{}") for o in (66, 67)]
        asyncio.run(fc._deliver(c, tp, first, None, (1, 0)))
        fc.ack(c.app, first + [Rec(tp.topic, 0, o, b"{}") for o in range(49, 66)])
        return _commits_to_reach(c, tp, 68)

    assert early(fc._original_new_offset) > 10   # Faust's alone: one offset a round, reproduced
    assert early(fc._new_offset) <= 2            # duplicates dropped: the rest in the next round
