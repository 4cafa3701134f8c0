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


def test_duplicate_acknowledgements_do_not_hold_the_commit_back():
    """The bookkeeping a stalled two-worker drain showed: 24,002 acknowledged entries over 20,412 offsets
    (duplicates), committed at 14,069. Faust's own computation moves the commit to the next duplicate;
    with duplicates dropped first it moves to the end."""
    from collections import defaultdict
    from types import SimpleNamespace

    from intervaltree import IntervalTree

    from streams.shells.worker import faust_compat as fc
    tp = ("t.security", 0)

    def consumer():
        acked = list(range(14068, 34480)) + list(range(14070, 34480, 6))
        return SimpleNamespace(_acked=defaultdict(list, {tp: acked}), _gap=defaultdict(IntervalTree),
                               _committed_offset=defaultdict(lambda: None, {tp: 14069}),
                               _acked_index=defaultdict(set, {tp: set(range(14069, 34480))}))
    assert fc._original_new_offset(consumer(), tp) < 14100  # the stall: a few offsets a commit
    assert fc._new_offset(consumer(), tp) == 34480
