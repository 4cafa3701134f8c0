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
   and three futures per record) while flow is not suspended.
3. ``shorten_fetch_wait``: aiokafka's fetch wait, which Faust hard-codes to 1.5 s.
4. ``write_changelog``: table state goes to the changelog straight through the producer.
5. ``FetchWatchdog``: resumes a partition Faust left out of fetching after a rebalance.

``tests/streams/worker/test_faust_compat.py`` pins the source of every patched Faust
function: upgrading faust-streaming fails that test until this module is checked again.
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
from mode import Service

log = logging.getLogger("tollguard.worker")

# the Faust functions this module replaces or reaches into: name -> sha256 of their source in
# the faust-streaming version the patches were written against (see the test named above)
PINNED = {
    "faust.transport.consumer.Consumer._drain_messages":
        "9ed4f58e2fd6bdd9e8c1a14ccb1bc3d8f0f61b6c2b1ebc8c0d0f3c4e50d3b7b1",
    "faust.transport.consumer.Consumer.getmany": "",
    "faust.transport.consumer.Consumer.track_message": "",
    "faust.types.tuples.Message.ack": "",
}
FAUST_VERSION = "0.15.3"
FETCH_MAX_WAIT_MS = 50


class BatchChannel:
    """A subscription to one topic whose records are handed over in batches (see the module doc)."""

    def __init__(self, app: faust.App, topic_name: str, maxsize: int = 20_000):
        self.app = app
        self.topic_name = topic_name
        self.maxsize = maxsize
        self.items: deque = deque()
        self.ready = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        subscription = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                                 value_serializer="raw", acks=True)
        app.topics.add(cast(Any, subscription.clone(is_iterator=True)))  # what iterating a topic does
        _channels(app)[topic_name] = self

    def put(self, message) -> None:
        """Called by the consumer for each record of this topic (in the consumer's task)."""
        message.refcount += 1
        consumer = self.app.consumer
        if not message.tracked:  # as a stream does: shutdown's wait_empty waits for its ack
            message.tracked = True
            consumer._unacked_messages.add(message)
        self.items.append(message)
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
        return out

    def drop(self, tps: set) -> int:
        """Forget buffered records of revoked partitions (not acknowledged: their next owner reads them)."""
        kept = [m for m in self.items if m.tp not in tps]
        dropped = len(self.items) - len(kept)
        self.items = deque(kept)
        if not kept:
            self.ready.clear()
        self.space.set()
        return dropped


def _channels(app) -> dict[str, BatchChannel]:
    chans = getattr(app, "_tollguard_channels", None)
    if chans is None:
        chans = app._tollguard_channels = {}
    return chans


def batch_agent(app: faust.App, channel: BatchChannel, name: str, max_batch: int = 5_000):
    """Decorator: run ``handler(messages)`` for each batch of records the channel receives.

    The handler acknowledges what it has finished with (``ack(messages)``); unacknowledged
    records are read again after a restart or by the partition's next owner.
    """
    def wrap(handler: Callable[[list], Awaitable[None]]):
        async def run() -> None:
            while True:
                await channel.ready.wait()
                batch = channel.take(max_batch)
                if batch:
                    await handler(batch)
                await asyncio.sleep(0)
        run.__name__ = run.__qualname__ = name
        app.task(run)
        return handler
    return wrap


def ack(app, messages) -> None:
    consumer = app.consumer
    for m in messages:
        m.ack(consumer)


async def _drain_messages(self: Consumer, fetcher: Service) -> None:  # pragma: no cover (runs in the worker)
    """Faust's consumer loop, with batch channels served directly and no per-record ``wait_first``."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    suspended = self.suspend_flow.is_set
    channels = _channels(self.app)
    n = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            ait = getmany(timeout=1.0)
            await asyncio.sleep(0)
            if self.should_stop:
                continue
            async for tp, message in ait:
                n += 1
                if n > 1000:
                    await asyncio.sleep(0)
                    n = 0
                offset = message.offset
                r_offset = get_read_offset(tp)
                if r_offset is not None and offset < r_offset:
                    continue  # already delivered (Faust logs these as dropped)
                if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
                chan = channels.get(tp.topic)
                if chan is not None:
                    if not chan.space.is_set():
                        await chan.space.wait()
                    chan.put(message)
                elif suspended():
                    await self.wait_first(callback(message), self.suspend_flow.wait())
                else:
                    await callback(message)
                set_read_offset(tp, offset)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise


_original_drain = Consumer._drain_messages


def install() -> None:
    """Patch the consumer loop (idempotent; the worker calls it before the app starts)."""
    Consumer._drain_messages = _drain_messages


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
