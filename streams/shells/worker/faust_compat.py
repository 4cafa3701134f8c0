"""Everything the worker does below Faust's public API, in one place, each with its reason.

faust-streaming gives every Kafka record its own trip through the conductor, an asyncio
queue, an ``Event`` and the stream iterator; with the consumer's per-record ``wait_first``
that is ~250 µs a record (3,000 one-event records/s for an agent that does nothing). The
worker keeps Faust's consumer group, offsets and commits, rebalances, tables, changelogs,
recovery and producer, and replaces only that per-record path:

1. ``BatchChannel``: a topic subscription whose records the consumer hands straight to a
   list (no conductor, queue, Event or stream), drained by ``batch_agent`` tasks that take
   whatever arrived as one batch. Records are tracked as Faust tracks a stream's, so
   shutdown waits for them to be acknowledged, and acknowledged through ``Message.ack``, so
   Faust's commit logic is unchanged.
2. ``Consumer._drain_messages`` (patched once per process): hands those topics' records to
   their channel, and calls the conductor directly instead of through ``wait_first`` (a task
   and three futures per record) while flow is not suspended. The records of a fetch that one of
   Faust's seeks overtook (a rebalance's, the recovery's) are read again from the committed offset
   (``_hand_over``, ``_read_again``), not handed over from the position before the seek.
3. ``shorten_fetch_wait``: aiokafka's fetch wait, which Faust hard-codes to 1.5 s. And a gap in
   a partition's offsets is registered without the record after it (``_deliver``): Faust's
   ``_add_gap`` keeps both ends and ``_new_offset`` counts a gap as done, so the first record
   after a gap was counted before it was processed and, once acknowledged, stood twice in
   ``_acked``. That was the first cause of the duplicate acknowledgements that stalled commits. A
   gap can still be taken wrongly across a rebalance's seek, so ``_new_offset`` (wrapped) also
   drops duplicates before Faust takes its run of offsets (2026-12-07).
4. ``write_changelog``: table state goes to the changelog straight through the producer.
5. ``FetchWatchdog``: resumes a partition Faust left out of fetching after a rebalance, and warns
   about one whose committed offset stays behind while the worker is idle.

``tests/streams/shells/worker/test_faust_compat.py`` pins the source of every patched Faust
function: upgrading faust-streaming fails that test until this module is checked again.

Private Faust attributes still used, and why no public API serves:

- ``Consumer._acked``, ``_acked_index``, ``_n_acked``, ``_waiting_for_ack``, ``_committed_offset``
  (``ack``): the public ``Message.ack`` needs a Message with a stream's reference count, which the
  batch channels do not make; ``ack`` keeps the same bookkeeping for plain records, so Faust's own
  commit logic decides the offsets.
- ``_read_offset``, ``_add_gap``, ``_buffered_partitions``, ``_commit_every``, ``_to_message``,
  ``_wait_next_records`` (``_drain_messages``, ``_deliver``): the consumer loop has no public hook;
  these are what Faust's own loop uses, so the replacement keeps its meaning.
- ``_get_active_partitions``, ``_paused_partitions``, ``_gap``, ``_thread``, the fetcher's
  ``_fetch_max_wait_ms``: the fetch watchdog, ``shorten_fetch_wait`` and the diagnostics
  (``describe``, ``bookkeeping``); Faust exposes neither the fetch wait nor which partitions it
  stopped fetching.
- ``app._tollguard_channels``, ``app._tollguard_before_stop``: this module's own attributes on the
  app (no Faust API holds per-app extension state).

The worker's stages do not touch any of this: they commit through ``checkpoint.Checkpoint``, given
``write_changelog`` and ``ack`` from here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Awaitable, Callable, cast

import faust
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.futures import notify

log = logging.getLogger("tollguard.worker")

# The Faust functions this module replaces, copies the bookkeeping of, or relies on: their
# name -> sha256 of their source in the faust-streaming version these patches were written
# against. tests/streams/shells/worker/test_faust_compat.py fails when one changes.
PINNED = {
    # replaced by _drain_messages (batch channels fed per partition, no wait_first per record)
    "faust.transport.consumer.Consumer._drain_messages": "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417",
    # called by it: returns (records by partition, active partitions)
    "faust.transport.consumer.Consumer._wait_next_records": "6218e1969a636b3ff504ad1b8e7ad58a113572e43d746cc96d684ed5153032c6",
    # wrapped by _wait_empty (the shutdown drain runs first)
    "faust.transport.consumer.Consumer.wait_empty": "e4662fe24f094819add590b2d75f233840e77823b432aea6504539768572102f",
    # ack() repeats its bookkeeping (_acked, _acked_index, _n_acked, _waiting_for_ack) for offsets
    "faust.transport.consumer.Consumer.ack": "5fcf41cf45153475de3790dc56fec1b83335956dc8b3bf7ff6bbb2b57627f03f",
    # reads that bookkeeping to decide what to commit; wrapped by _new_offset (duplicates dropped)
    "faust.transport.consumer.Consumer._new_offset": "1d2c7ea89a7ad4f1a216c1d51936e569162cd66bd56f889e13fd29c910b58eb0",
    # wrapped to count the seeks begun (a fetch that a seek overtook is read again, _hand_over)
    "faust.transport.consumer.Consumer.seek": "b86a9fe05f956b30cf299c787b6787c6e0349cbf1ae556f2456a1e97b15dbb22",
    "faust.transport.consumer.Consumer.perform_seek": "0e8c130ff4b0afd82c0be9c5fd831316e10febc62c94032833911096e156d7c6",
    # FetchWatchdog undoes what a lost call to this leaves behind
    "faust.transport.consumer.Consumer.on_buffer_drop": "4b57e8a418d5ad9c58632b13b58b377ae185855520fd1280870cf7141ac0d1d0",
    "faust.transport.consumer.Consumer._get_active_partitions": "b24897f3c7afdb5d02e5741d1a3d3c2bacf595802ed204231544cd7fde4e7eab",
    # end_offsets() asks the broker through it (idleness is decided against a fresh high watermark)
    "faust.transport.consumer.Consumer.highwaters": "ee8dff0cbfd96aea1d7c7492a64295a8f591a4cd5f03dbad5ea55e939aa286f2",
}
FAUST_VERSION = "0.15.3"
FETCH_MAX_WAIT_MS = 50


def originals() -> dict:
    """The pinned functions as Faust ships them (before ``install``)."""
    from faust.transport.consumer import Consumer as C
    return {
        "faust.transport.consumer.Consumer._drain_messages": _original_drain,
        "faust.transport.consumer.Consumer._wait_next_records": C._wait_next_records,
        "faust.transport.consumer.Consumer.wait_empty": _original_wait_empty,
        "faust.transport.consumer.Consumer.ack": C.ack,
        "faust.transport.consumer.Consumer._new_offset": _original_new_offset,
        "faust.transport.consumer.Consumer.seek": _original_seek,
        "faust.transport.consumer.Consumer.perform_seek": _original_perform_seek,
        "faust.transport.consumer.Consumer.on_buffer_drop": C.on_buffer_drop,
        "faust.transport.consumer.Consumer._get_active_partitions": C._get_active_partitions,
        "faust.transport.consumer.Consumer.highwaters": C.highwaters,
    }


class BatchChannel:
    """A subscription to one topic whose records are handed over in batches (see the module doc).

    Holds aiokafka's records as fetched (no Faust ``Message`` per record); ``ack`` marks their
    offsets done in Faust's own bookkeeping, which commits them as it commits everything else.
    """

    def __init__(self, app: faust.App, topic_name: str, maxsize: int = 20_000):
        self.app = app
        self.topic_name = topic_name
        self.maxsize = maxsize
        self.items: deque = deque()
        self.ready = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.busy = 0  # records taken by a handler and not yet acknowledged
        subscription = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                                 value_serializer="raw", acks=True)
        app.topics.add(cast(Any, subscription.clone(is_iterator=True)))  # what iterating a topic does
        _channels(app)[topic_name] = self

    def put_many(self, records) -> None:
        """Called by the consumer loop with one partition's fetched records, in offset order."""
        self.items.extend(records)
        self.ready.set()
        if len(self.items) >= self.maxsize:
            self.space.clear()

    def take(self, limit: int) -> list:
        items = self.items
        n = min(limit, len(items))
        out = [items.popleft() for _ in range(n)]
        if not items:
            self.ready.clear()
        if len(items) < self.maxsize:
            self.space.set()
        self.busy += n
        return out

    def drop(self, tps: set) -> int:
        """Forget buffered records of revoked partitions (not acknowledged: their next owner reads them)."""
        kept = [m for m in self.items if (m.topic, m.partition) not in tps]
        dropped = len(self.items) - len(kept)
        self.items = deque(kept)
        if not kept:
            self.ready.clear()
        self.space.set()
        return dropped

    def pending(self) -> int:
        return len(self.items) + self.busy


def _channels(app) -> dict[str, BatchChannel]:
    chans = getattr(app, "_tollguard_channels", None)
    if chans is None:
        chans = app._tollguard_channels = {}
    return chans


def batch_agent(app: faust.App, channel: BatchChannel, name: str, max_batch: int = 5_000):
    """Decorator: run ``handler(records)`` for each batch of records the channel receives.

    The handler acknowledges what it has finished with (``ack(app, records)``); unacknowledged
    records are read again after a restart or by the partition's next owner.
    """
    def wrap(handler: Callable[[list], Awaitable[None]]):
        async def run() -> None:
            while True:
                await channel.ready.wait()
                batch = channel.take(max_batch)
                try:
                    if batch:
                        await handler(batch)
                finally:
                    channel.busy -= len(batch)
                await asyncio.sleep(0)
        run.__name__ = run.__qualname__ = name
        app.task(run)
        return handler
    return wrap


def ack(app, records) -> None:
    """Mark records done in Faust's offset bookkeeping (what ``Consumer.ack`` does for a Message)."""
    consumer = app.consumer
    by_tp: dict = {}
    for r in records:
        by_tp.setdefault((r.topic, r.partition), []).append(r.offset)
    with ack_lock:
        for (topic, part), offsets in by_tp.items():
            tp = TP(topic, part)
            committed = consumer._committed_offset[tp]
            index = consumer._acked_index[tp]
            acked = consumer._acked[tp]
            for off in offsets:
                if (committed is None or off >= committed) and off not in index:
                    index.add(off)
                    acked.append(off)
                    consumer._n_acked += 1
        notify(consumer._waiting_for_ack)


async def _drain_messages(self: Consumer, fetcher: Service) -> None:  # pragma: no cover (runs in the worker)
    """Faust's consumer loop: batch channels get each partition's fetched records in one call; other
    topics go through the conductor as before, without a ``wait_first`` per record while flow runs.

    Records fetched but not handed over (a rebalance began, flow stopped, the partition was paused)
    are not skipped: the partition is sought back to the first of them. Faust relies on a later
    seek to the committed offset instead, which for a partition never committed leaves the
    position past records nobody processed (seen as a worker that took over a partition and read
    nothing of what was produced before it did).
    """
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            if not self.flow_active:
                await self.wait(self.can_resume_flow)  # as _wait_next_records does, before the mark is taken
            mark = _mark(self)  # before the fetch: a seek after it makes what the fetch returns stale
            records, active = await self._wait_next_records(1.0)
            await asyncio.sleep(0)
            if not records or self.should_stop:
                continue
            await _hand_over(self, records, active, mark)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise


def _mark(consumer: Consumer) -> tuple[int, int]:
    """The consumer's generation and how many seeks it has begun (``install`` counts them)."""
    return consumer.app.consumer_generation_id, getattr(consumer, "_tollguard_seeks", 0)


async def _hand_over(self: Consumer, records: dict, active, mark: tuple[int, int]) -> None:
    """One fetch's records (fetched after ``mark``) to their partitions' channels, or read again."""
    if not self.flow_active:
        await _give_back(self, records)
        # only while flow is stopped, and a revoke (which clears _gap and _acked) or the stop follows:
        # a gap filled before cannot be registered a second time by reading back past it
        await self.perform_seek()
        return
    if _mark(self) != mark:
        records = await _read_again(self, records, mark)
        mark = _mark(self)
    items = list(records.items())
    for n, (tp, recs) in enumerate(items):
        if not await _deliver(self, tp, recs, active, mark):
            rest = dict(items[n:])
            if _mark(self) != mark:
                rest = await _read_again(self, rest, mark)
            await _give_back(self, rest)  # a rebalance began (or a seek moved the rest): read these again
            break


async def _read_again(consumer: Consumer, records: dict, mark: tuple[int, int]) -> dict:
    """Records of a fetch that a seek overtook (one of Faust's, or a new generation's, which comes with
    one): those of the batch channels' topics are dropped and each of their partitions this worker still
    holds is sought to its committed offset; the others (changelogs, which the table recovery reads from
    its own offsets; the conductor's topics) are returned, to be handed over or given back as before.

    A fetch that began before a seek may return records of the old position. Handed over, they looked like
    a gap up to them (which Faust counts as done), and the records of that gap, read again from the new
    position and acknowledged, then stood twice in ``_acked``: each commit moved one offset (a two-worker
    drain whose commits lagged 20 to 40 s behind its work after a rebalance). The fetch may also hold
    records of the new position; those are read again too (reading again is idempotent).

    Without a committed offset (Faust keeps none for a partition never committed, or committed at 0, and
    clears it at a revoke until the assignment's recovery seeks): in the same generation no seek of Faust's
    moved the partition (``perform_seek`` leaves it), so it is sought back to the first record dropped; in
    a new generation the assignment positions it (the committed offset, or the reset policy)."""
    chans = _channels(consumer.app)
    same_generation = consumer.app.consumer_generation_id == mark[0]
    targets = {}
    for tp, recs in records.items():
        if recs and tp.topic in chans:
            committed = consumer._committed_offset.get(tp)
            if committed:
                targets[tp] = committed
            elif same_generation:
                targets[tp] = recs[0].offset
    await _seek_quietly(consumer, targets)
    return {tp: recs for tp, recs in records.items() if tp.topic not in chans}


async def _seek_quietly(consumer: Consumer, targets: dict) -> None:
    """Seek partitions this worker holds (a partition revoked meanwhile is its next owner's), without counting
    the seeks: this module's own seeks are of records it has not handed over, and do not overtake a fetch."""
    seek = getattr(type(consumer).seek, "__wrapped__", None)  # Faust's own, under install's count
    for tp, offset in targets.items():
        try:
            if tp in consumer.assignment():
                await (seek(consumer, tp, offset) if seek is not None else consumer.seek(tp, offset))
        except Exception as exc:  # revoked meanwhile: its next owner reads from the committed offset
            log.info("could not seek %s[%d] back to %d: %r", tp.topic, tp.partition, offset, exc)


async def _deliver(self: Consumer, tp: TP, recs: list, active, mark: tuple[int, int]) -> bool:
    """One partition's fetched records to its batch channel, or through the conductor; False: stop (flow
    stopped, or a seek since ``mark``: the records may be of the old position)."""
    if _mark(self) != mark or not self.flow_active:
        return False
    if not recs:
        return True
    if active is not None and tp not in active and tp not in self._buffered_partitions:
        await _give_back(self, {tp: recs})  # paused meanwhile: read again when resumed
        return True
    r_offset = self._read_offset[tp]
    if r_offset is not None and recs[0].offset < r_offset:
        recs = [r for r in recs if r.offset >= r_offset]
        if not recs:
            return True
    if r_offset and recs[0].offset - r_offset > 1 and self.app.topics.acks_enabled_for(tp.topic):
        # the offsets skipped, and not the record after them: Faust's _add_gap(tp, a, b) keeps [a, b], and
        # its _new_offset counts a gap as done, so b = recs[0].offset let a commit pass that record before it
        # was processed, and, once it was acknowledged, left it twice in _acked (each commit then stopped at
        # the duplicate: the stalled two-worker drain). Faust's own drain has the same off-by-one.
        await self._add_gap(tp, r_offset + 1, recs[0].offset - 1)
    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
    chan = _channels(self.app).get(tp.topic)
    if chan is not None:
        if not chan.space.is_set():
            await chan.space.wait()
        if _mark(self) != mark or not self.flow_active:
            return False
        chan.put_many(recs)
        self._read_offset[tp] = recs[-1].offset
        return True
    for record in recs:
        message = self._to_message(tp, record)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        if self.suspend_flow.is_set():
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
        else:
            await self.callback(message)
        self._read_offset[tp] = record.offset
    return True


async def _give_back(consumer: Consumer, records: dict) -> None:
    """Seek each partition back to the first record fetched and not handed over."""
    await _seek_quietly(consumer, {tp: recs[0].offset for tp, recs in records.items() if recs})


async def _wait_empty(self: Consumer) -> None:  # pragma: no cover (runs in the worker)
    """Before Faust's shutdown wait: let the batch channels finish what they hold (bounded), so what
    was read is processed and acknowledged rather than read again by the next start."""
    deadline = time.monotonic() + SHUTDOWN_DRAIN_S
    for hook in getattr(self.app, "_tollguard_before_stop", ()):
        await hook(deadline)
    await _original_wait_empty(self)


SHUTDOWN_DRAIN_S = 6.0
STALL_S = 20.0  # FetchWatchdog.check_stalled: an idle worker's partition with uncommitted records this long
_original_drain = Consumer._drain_messages
_original_wait_empty = Consumer.wait_empty
_original_new_offset = Consumer._new_offset
_original_seek = Consumer.seek
_original_perform_seek = Consumer.perform_seek


def _new_offset(self: Consumer, tp: TP) -> int | None:
    """Faust's ``_new_offset`` over acknowledged offsets held once each.

    Faust commits up to the end of the first run of consecutive offsets in ``_acked[tp]``, and fills
    a registered gap into that list without its index (``_acked_index``), so an offset of a gap that
    is also acknowledged stands there twice and ends the run: each commit round then moves one
    offset. A gap can be taken wrongly across a seek: after a rebalance Faust seeks to the committed
    offset it read, while the consumer's position may already come from a later commit of the
    partition's previous owner, so the first records seem to skip offsets (seen in two-worker drains:
    a gap 27..65 taken on a worker's first assignment, then 49..65 read again). The offsets in such a
    gap were done by the previous owner or are read again, so counting them is right; only the
    duplicates are dropped, before the run is taken and after Faust filled the gaps in."""
    _held_once(self, tp)
    offset = _original_new_offset(self, tp)
    _held_once(self, tp)  # a gap filled in over offsets acknowledged: the next round takes the rest
    return offset


def _held_once(consumer: Consumer, tp: TP) -> None:
    with ack_lock:  # as ack() changes the list under it
        acked = consumer._acked.get(tp)
        if acked:
            once = set(acked)
            if len(once) != len(acked):
                acked[:] = sorted(once)


def _counting(seek):
    """``Consumer.seek`` or ``perform_seek``, counted when it begins and again when it ends (``_mark``): a
    fetch that overlaps a seek at all (``perform_seek`` asks the broker before it moves each partition) is
    taken as overtaken."""
    async def counted(self, *args, **kwargs):
        self._tollguard_seeks = getattr(self, "_tollguard_seeks", 0) + 1
        try:
            return await seek(self, *args, **kwargs)
        finally:
            self._tollguard_seeks += 1
    counted.__wrapped__ = seek
    counted.__doc__ = seek.__doc__
    return counted


def install() -> None:
    """Patch the consumer loop and its shutdown wait (idempotent; the worker calls it before the app starts)."""
    Consumer._drain_messages = _drain_messages
    Consumer.wait_empty = _wait_empty
    Consumer._new_offset = _new_offset
    Consumer.seek = _counting(_original_seek)
    Consumer.perform_seek = _counting(_original_perform_seek)


def before_stop(app, hook: Callable[[float], Awaitable[None]]) -> None:
    """Run ``hook(deadline)`` when the worker stops, before Faust's last commit."""
    hooks = getattr(app, "_tollguard_before_stop", None)
    if hooks is None:
        hooks = app._tollguard_before_stop = []
    hooks.append(hook)


def every(app, seconds: float, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Run ``job`` every ``seconds`` while the app runs, as a task of the app.

    Unlike ``app.timer`` (mode's ``Timer``), the next tick is counted from the end of the last one: a tick
    slower than its interval (a busy host, a slow broker) delays the next, instead of mode logging a
    WARNING "Timer ... is overlapping" for each one. Returns the loop, which is registered with ``app.task``."""
    async def loop() -> None:
        while not app.should_stop:
            await app.sleep(seconds)
            if not app.should_stop:
                await job()
    loop.__name__ = loop.__qualname__ = getattr(job, "__name__", "every")
    app.task(loop)
    return loop


def shorten_fetch_wait(app) -> None:
    """Faust builds its aiokafka consumer with fetch_max_wait_ms=1500 and offers no setting.

    A fetch in flight for partitions with nothing new holds back records that arrive on a
    partition left out of it for up to that long. 50 ms bounds the stall; an idle worker then
    sends ~20 small fetch requests a second, which the broker does not notice.
    """
    try:
        fetcher = app.consumer._thread._ensure_consumer()._fetcher
    except Exception:  # another transport or not started: nothing to tune
        return
    if getattr(fetcher, "_fetch_max_wait_ms", None) != FETCH_MAX_WAIT_MS:
        fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS


def changelog_topic(table) -> str:
    return table.changelog_topic.get_topic_name()


async def write_changelog(app, topic: str, key: bytes, value: bytes | None, partition: int):
    """One changelog record straight to the producer (Faust's send_changelog costs ~100 µs a record)."""
    return await app.producer.send(topic, key, value, partition, None, None)


def table_data(table) -> dict:
    """The table's in-memory store (Faust recovery fills it from the changelog)."""
    return table.data


async def position(app, tp: TP) -> int | None:
    try:
        return await app.consumer.position(tp)
    except Exception:
        return None


def partitions_of(app, topic: str) -> int | None:
    """How many partitions a topic has, from the consumer's metadata (None until it knows)."""
    try:
        return app.consumer.topic_partitions(topic)
    except Exception:
        return None


async def end_offsets(app, tps: list[TP]) -> dict[TP, int]:
    """The broker's end offsets now (not the consumer's last fetch view, which can be behind)."""
    try:
        return dict(await app.consumer.highwaters(*tps))
    except Exception:  # broker unreachable: nobody is idle until we know
        return {}


def describe(app, tp: TP) -> str:
    """What the consumer says about a partition (for a warning a person will read)."""
    c = app.consumer
    try:
        return (f"assigned={tp in c.assignment()} active={tp in c._get_active_partitions()} "
                f"paused={tp in c._paused_partitions} buffered={tp in c._buffered_partitions} "
                f"read_offset={c._read_offset.get(tp)} highwater={c.highwater(tp)} flow_active={c.flow_active}")
    except Exception as exc:  # mid-rebalance
        return f"consumer state unavailable: {exc!r}"


def bookkeeping(consumer, tp: TP) -> str:
    """Faust's acknowledgement bookkeeping of a partition (what its next commit is computed from)."""
    try:
        acked = consumer._acked.get(tp) or []
        index = consumer._acked_index.get(tp) or set()
        gaps = consumer._gap.get(tp)
        return (f"acked={len(acked)} [{min(acked, default=None)}..{max(acked, default=None)}] "
                f"duplicates={len(acked) - len(set(acked))} "
                f"index={len(index)} [{min(index, default=None)}..{max(index, default=None)}] "
                f"gaps={sorted((i.begin, i.end) for i in gaps)[:5] if gaps else []}")
    except Exception as exc:
        return f"bookkeeping unavailable: {exc!r}"


class FetchWatchdog:
    """Put back a partition Faust stopped fetching and never resumed.

    Faust takes a partition out of fetching while a stream buffer is under pressure and puts
    it back when the buffer drains; a rebalance in between can lose the "drained" callback,
    and the partition is then never fetched again (a worker that is "ready" but reads
    nothing). A partition out of fetching for ``2 * every`` seconds while none of its records
    reached the worker in that time is resumed, with a warning.
    """

    def __init__(self, app, topics: set[str], every: float = 5.0):
        self.app, self.topics, self.every = app, topics, every
        self.left_out: dict[TP, float] = {}
        self.seen_at: dict[tuple[str, int], float] = {}
        self.warned: dict[TP, float] = {}  # when check_stalled last warned about a partition
        self.stalled = 0

    def check(self) -> None:
        app = self.app
        consumer = app.consumer
        if app.in_recovery or app.rebalancing:
            self.left_out.clear()
            return
        try:
            assigned = consumer.assignment()
            active = consumer._get_active_partitions()
        except Exception:  # not started / mid-rebalance: look again next time
            return
        wall = time.monotonic()
        for tp in assigned:
            if tp.topic not in self.topics:
                continue  # changelogs are Faust's own business (paused outside recovery on purpose)
            if tp in active:
                self.left_out.pop(tp, None)
                continue
            since = self.left_out.setdefault(tp, wall)
            quiet = wall - self.seen_at.get((tp.topic, tp.partition), 0.0)
            if wall - since >= 2 * self.every and quiet >= 2 * self.every:
                log.warning("partition %s[%d] was left out of fetching for %.0f s; resuming it",
                            tp.topic, tp.partition, wall - since)
                consumer._buffered_partitions.discard(tp)
                consumer.resume_partitions({tp})
                self.left_out.pop(tp, None)

    async def check_stalled(self) -> None:
        """Warn about a partition whose committed offset stays behind while the worker is idle.

        Seen in two-worker benchmark drains after a rebalance: a partition assigned and fetched,
        Faust's read offset at its end (the records were delivered and processed), its committed
        offset half-way and moving one offset a commit round: duplicates in Faust's acknowledged
        offsets (``duplicates`` below), each of which ends the run a commit may take. The causes found
        are fixed or made harmless (the gap that counted the record after it, ``_deliver``; a fetch a
        seek overtook, ``_hand_over``; duplicates dropped before each commit, ``_new_offset``).
        Re-reading is idempotent but costly, so this only says so, once a minute per partition, with
        the consumer's view (the records are read again after a restart).
        """
        app = self.app
        consumer = app.consumer
        if app.in_recovery or app.rebalancing or not getattr(consumer, "flow_active", False):
            return
        if any(ch.pending() for ch in _channels(app).values()):
            return
        try:
            assigned = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        except Exception:
            return
        wall = time.monotonic()
        quiet = [tp for tp in assigned if wall - self.seen_at.get((tp.topic, tp.partition), 0.0) >= STALL_S
                 and wall - self.warned.get(tp, -3600.0) >= 60.0]
        if not quiet:
            return
        ends = await end_offsets(app, quiet)
        for tp in quiet:
            committed = consumer._committed_offset.get(tp)
            end = ends.get(tp)
            if committed is None or end is None or committed >= end:
                continue
            self.warned[tp] = wall
            self.stalled += 1
            log.warning("partition %s[%d]: the committed offset %d is %d behind the end and has not moved while the "
                        "worker was idle for %.0f s (%s; %s); those records are read again after a restart",
                        tp.topic, tp.partition, committed, end - committed, STALL_S, describe(app, tp),
                        bookkeeping(consumer, tp))
