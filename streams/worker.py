"""``tollguard worker``: the Faust shell around the detection core.

Topology (every name under ``TOLLGUARD_TOPIC_PREFIX``):

    <p>.cdr, <p>.security ──ingest──► <p>.by-ip    ──scope ip────┐
      (raw JSON events)     │          <p>.by-ext   ──scope ext───┼─► <p>.alerts  (key: subject)
                            │          <p>.by-trunk ──scope trunk─┘   <p>.actions (key: target)
                            └─► <p>.dlq (malformed, with topic/partition/offset/reason)   <p>.blocklist (compacted)

``ingest`` validates each record once and forwards the original bytes (unknown fields kept)
to one repartition topic per scope, keyed by the scope's key, like ``group_by``. Each scope
agent owns a changelog-backed table (``<p>-worker-state-<scope>-changelog``): a worker that
dies, or a second worker that takes over partitions, continues with the same counts. A timer
advances event time for live call-duration hang-ups. Block actions also go to the compacted
``<p>.blocklist`` topic, read as a global table by every worker.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from functools import lru_cache

import faust
from faust.serializers import codecs
from faust.types import TP
from aiokafka.partitioner import murmur2
import msgspec
from msgspec import msgpack

from .config import Config
from .core import Detector
from .dlq import dead_letter
from .events import Action, Alert, EventError, decode_event, encode, record_events
from .ordering import Reorderer
from .policy import Policy
from .state import BufferedState

log = logging.getLogger("tollguard.worker")

SCOPES = ("ip", "ext", "trunk")
TICK = b"\x00tick:"
BATCH = b"\x00batch:"  # repartitioned record: msgpack [[origin "topic|partition|position", raw event], ...]
COMMIT_RECORDS, COMMIT_S = 200, 1.0  # scope agents write state and ack after this many records or seconds
RELEASE_EVERY, RELEASE_WITHIN = 500, 0.02  # ingest forwards when this many are held or this long passed
WATCHDOG_S = 5.0  # how often the fetch watchdog looks (a partition must be left out for twice this)
REPARTITION_BYTES = 256 * 1024  # a repartition batch record is cut at this size


@lru_cache(maxsize=1 << 18)
def partition_of(key: bytes, partitions: int) -> int:
    """The Java client's default partitioner (murmur2), so every shell agrees where a key lives.

    Cached: aiokafka's murmur2 is pure Python and the same keys come back all the time.
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class StateCodec(codecs.Codec):
    """Rule state in the changelogs as msgpack (msgspec, C): a fifth of stdlib JSON's time and
    about two thirds of its bytes; the worker writes one changelog record per changed key."""

    def _dumps(self, obj) -> bytes:
        return _state_encode(obj)

    def _loads(self, s: bytes):
        return _state_decode(s)


_state_encode, _state_decode = msgpack.Encoder().encode, msgpack.Decoder().decode
_key_encode = msgspec.json.Encoder().encode  # the bytes Faust's json key codec reads back
codecs.register("tollguard-state", StateCodec())


class BlocklistTable(faust.GlobalTable):
    """A global table whose changelog is the public, compacted ``<prefix>.blocklist`` topic.

    faust-streaming 0.15's partition assignor looks a global table's changelog up by the
    default name (``<app id>-<table>-changelog``) and hangs the rebalance when a custom
    changelog topic is given; naming the real topic here keeps the two in step.
    """

    def _changelog_topic_name(self) -> str:
        return self.changelog_topic.get_topic_name()


class Held:
    """A consumed record whose events wait in the reorderer; acknowledged when the last one leaves."""

    __slots__ = ("ev", "left")

    def __init__(self, ev):
        self.ev, self.left = ev, 0


class StateTable(faust.Table):
    """A rule-state table whose changelog carries msgpack values (StateCodec), keys as JSON."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("schema", faust.Schema(key_serializer="json", value_serializer="tollguard-state"))
        super().__init__(*args, **kwargs)
        self.value_serializer = "tollguard-state"


FETCH_MAX_WAIT_MS = 50


def shorten_fetch_wait(app) -> None:
    """Faust builds its aiokafka consumer with fetch_max_wait_ms=1500 and offers no setting.

    A fetch in flight for partitions with nothing new holds back records that arrive on a
    partition left out of it (one whose previous records were still buffered) for up to that
    long: the 100-450 ms stalls seen in the latency benchmark. 50 ms bounds the stall; an idle
    worker then sends ~20 small fetch requests a second, which the broker does not notice.
    """
    try:
        fetcher = app.consumer._thread._ensure_consumer()._fetcher  # private: no public knob exists
    except Exception:  # another transport or not started: nothing to tune
        return
    if getattr(fetcher, "_fetch_max_wait_ms", None) != FETCH_MAX_WAIT_MS:
        fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS


def already_applied(state, key: str, origin: str) -> bool:
    """Has this key's state already taken in the source event at ``origin`` (topic|partition|position)?

    The position is the record's offset shifted left 20 bits plus the event's index inside a
    batch record. Per key and source partition the last applied position is kept; events of
    one key within a source partition arrive in order, so anything at or below it was applied
    before a crash.
    """
    st = state.get(key)
    if not st:
        return False
    tp, _, off = origin.rpartition("|")
    seen = st.get("_src")
    return bool(seen) and seen.get(tp, -1) >= int(off)


def mark_applied(state, key: str, origin: str) -> None:
    st = state.get(key)
    if st is None:
        st = {}
    tp, _, off = origin.rpartition("|")
    st.setdefault("_src", {})[tp] = int(off)
    state[key] = st


def create_app(config: Config | None = None, policy: Policy | None = None, model=None) -> faust.App:
    """The Faust app. ``model`` is a loaded (estimator, card) pair for the anomaly check, or None."""
    config = config or Config.from_env()
    policy = policy or Policy.default()
    app = faust.App(
        config.app_id,
        broker=config.broker,
        store="memory://",
        topic_partitions=config.partitions,
        topic_replication_factor=1,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        table_standby_replicas=0,
        broker_commit_every=200,
        broker_commit_interval=1.0,
        # a worker that dies is replaced within ~10 s rather than Faust's default 60 s session
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    inputs = {"cdr": app.topic(config.cdr, **raw), "security": app.topic(config.security, **raw)}
    scope_topics = {s: app.topic(config.topic(f"by-{s}"), partitions=config.partitions, internal=True, **raw)
                    for s in SCOPES}
    alerts = app.topic(config.alerts, **raw)
    actions = app.topic(config.actions, **raw)
    dlq = app.topic(config.dlq, **raw)
    blocklist_topic = app.topic(config.blocklist, partitions=config.partitions, compacting=True, internal=True,
                                key_serializer="json", value_serializer="json")
    blocklist = app.tables.add(BlocklistTable(app, name="blocklist", default=None, partitions=config.partitions,
                                              changelog_topic=blocklist_topic, beacon=app.tables.beacon))
    tables = {s: app.tables.add(StateTable(app, name=f"state-{s}", default=None, partitions=config.partitions,
                                           beacon=app.tables.beacon))
              for s in SCOPES}
    # one detector per (scope, partition): each partition has its own event-time clock and timers, so a
    # partition that is ahead in event time never fires another partition's timers early
    detectors: dict[tuple[str, int], Detector] = {}

    def detector(scope: str, part: int) -> Detector:
        det = detectors.get((scope, part))
        if det is None:
            scorer = None
            if model is not None and scope == "ext":
                from models.score import Scorer
                scorer = Scorer(*model)
            det = detectors[(scope, part)] = Detector(policy, state=BufferedState(tables[scope]), scopes=(scope,),
                                                      scorer=scorer)
            det.rebuild_timers(lambda key: partition_of(key.encode(), nparts) == part)
        return det
    clock = {"now": float("-inf"), "released": 0.0}

    nparts = config.partitions

    reorder = Reorderer(idle_s=config.idle_seconds)
    seen_at: dict[tuple[str, int], float] = {}  # wall time our agents last took a record of (topic, partition)
    left_out: dict[tuple[str, int], float] = {}
    warned: dict[tuple[str, int], float] = {}
    agent_topics = {config.cdr, config.security} | {t.get_topic_name() for t in scope_topics.values()}
    last_offset: dict[tuple[str, int], int] = {}

    async def confirm_idle() -> None:
        """A quiet input partition counts as idle only if the broker says nothing is pending on it."""
        wall = time.monotonic()
        quiet = reorder.idle_sources(wall)
        if not quiet:
            return
        try:
            ends = await app.consumer.highwaters(*(TP(t, p) for t, p in quiet))
        except Exception as exc:  # broker unreachable: nobody is idle until we know
            log.info("cannot read end offsets (%s); holding event time", exc)
            ends = {}
        for src in quiet:
            end = ends.get(TP(*src))
            if end is None or last_offset.get(src, -1) + 1 < end:
                reorder.touch(src, wall)
                # records wait on a partition that delivers nothing: say so (it holds event time back)
                since = seen_at.get(src, 0.0)
                if end is not None and wall - since > 6 * WATCHDOG_S and wall - warned.get(src, 0.0) > 6 * WATCHDOG_S:
                    warned[src] = wall
                    log.warning("%s[%d] has %d records pending but delivered nothing for %.0f s",
                                src[0], src[1], end - last_offset.get(src, -1) - 1, wall - since)

    async def ingest(stream):
        """Validate each record once and hold its events for event-time ordering.

        A record is one event, or a batch: a JSON array of events (one Kafka record per
        export chunk, which spares Kafka's and Faust's per-record cost). A bad element is
        dead-lettered alone; the record is acknowledged once all of its events went on.
        """
        async for ev in stream.noack().events():
            msg = ev.message
            value = ev.value if ev.value is not None else b""
            source = (msg.topic, msg.partition)
            wall = time.monotonic()
            seen_at[source] = wall
            last_offset[source] = msg.offset
            try:
                judged = list(record_events(value))
            except Exception as exc:  # EventError, or anything else: bad input never stops the worker
                judged = []
                reason = exc.reason if isinstance(exc, EventError) else f"unreadable record: {exc!r}"
                await dlq.send(key=None, value=dead_letter(value, reason, topic=msg.topic,
                                                          partition=msg.partition, offset=msg.offset))
            held = Held(ev)
            base = msg.offset << 20  # an event's position: offset and index inside its record
            for i, raw, event, reason in judged:
                if event is None:
                    await dlq.send(key=None, value=dead_letter(raw, reason, topic=msg.topic, partition=msg.partition,
                                                              offset=msg.offset, index=i))
                    continue
                held.left += 1
                reorder.add(source, event.ts.timestamp(),
                            (held, raw, Detector.keys_for(event), f"{msg.topic}|{msg.partition}|{base | (i or 0)}"),
                            wall)
            if not held.left:
                reorder.touch(source, wall)
                ev.ack()
                continue
            if len(reorder) >= RELEASE_EVERY or wall - clock["released"] >= RELEASE_WITHIN:
                await release(allow_idle=False)

    async def release(allow_idle: bool = True) -> None:
        """Forward, in event-time order, what every active input partition has moved past.

        Released events go out as one batch record per (scope, partition): [[origin, raw event], ...]
        in event-time order, so the scope agents pay Kafka's per-record cost once per batch.
        """
        clock["released"] = time.monotonic()
        items = reorder.release(clock["released"], allow_idle)
        if not items:
            return
        batches: dict[tuple[str, int], list] = {}
        sizes: dict[tuple[str, int], int] = {}
        for _, value, keys, origin in items:
            for scope, key in keys.items():
                dest = (scope, partition_of(key.encode(), nparts))
                batch = batches.setdefault(dest, [])
                batch.append((origin, value))
                sizes[dest] = sizes.get(dest, 0) + len(value) + len(origin) + 8
                if sizes[dest] >= REPARTITION_BYTES:  # stay far below Kafka's 1 MB record limit
                    await scope_topics[scope].send(key=None, value=BATCH + msgpack.encode(batch), partition=dest[1])
                    batches[dest], sizes[dest] = [], 0
        for (scope, part), batch in batches.items():
            if batch:
                await scope_topics[scope].send(key=None, value=BATCH + msgpack.encode(batch), partition=part)
        for held, *_ in items:
            held.left -= 1
            if not held.left:
                held.ev.ack()
        clock["now"] = reorder.released_until

    # one agent per source topic: carriers may give cdr and security different partition counts
    for name, topic in inputs.items():
        app.agent(topic, name=f"ingest-{name}")(ingest)

    alerts_name, actions_name = alerts.get_topic_name(), actions.get_topic_name()

    async def emit(records) -> None:
        """Send alerts and actions and wait until Kafka has them (state is written only after)."""
        pending = []
        for rec in records:
            if isinstance(rec, Alert):
                pending.append(await app.producer.send(alerts_name, rec.subject.encode(), encode(rec), None, None, None))
            else:
                pending.append(await app.producer.send(actions_name, rec.target.encode(), encode(rec), None, None, None))
                if isinstance(rec, Action) and rec.kind == "block_ip":
                    entry = {"tenant": rec.tenant, "alert_id": rec.alert_id,
                             "until": None if rec.duration_s is None else rec.ts.timestamp() + rec.duration_s}
                    blocklist.data[rec.target] = entry
                    blocklist.send_changelog(partition_of(rec.target.encode(), nparts), rec.target, entry)
        for fut in pending:
            await fut

    def make_scope_agent(scope: str):
        table = tables[scope]
        topic_name = scope_topics[scope].get_topic_name()

        async def write_state(part: int, det: Detector) -> None:
            """Apply a detector's pending state to the table and send one changelog record per key.

            Straight to the producer with our own encoding (key JSON, value msgpack: what the
            table's codecs read back in recovery): Faust's send_changelog costs ~100 µs a record.
            """
            sends = []

            def collect(key: str, value) -> None:
                if value is None:
                    table.data.pop(key, None)
                else:
                    table.data[key] = value
                sends.append((_key_encode(key), None if value is None else _state_encode(value)))
            det.state.flush(collect)
            changelog = table.changelog_topic.get_topic_name()
            for k, v in sends:  # the key's own partition: the partition of the records it came from
                await app.producer.send(changelog, k, v, part, None, None)

        pending: dict = {"events": [], "parts": set(), "since": time.monotonic()}
        lock = asyncio.Lock()

        async def commit_locked() -> None:
            """Score the model's queue, write the state, then acknowledge the records it came from.

            State changes are coalesced between commit points (one changelog record per changed
            key, not per event, as Kafka Streams' record cache does). Until the acks, a crash
            repeats the records; rule alerts were already sent and come back with the same ids.
            """
            if not pending["events"]:
                pending["since"] = time.monotonic()
                return
            out: list = []
            dets = [(part, detectors.get((scope, part))) for part in pending["parts"]]
            for _, det in dets:
                if det is not None:
                    out += det.flush()  # anomaly model: one scoring call per commit point
            await emit(out)
            for part, det in dets:
                if det is not None:
                    await write_state(part, det)
            for ev in pending["events"]:
                ev.ack()
            pending["events"].clear()
            pending["parts"].clear()
            pending["since"] = time.monotonic()

        async def commit_point() -> None:
            async with lock:
                await commit_locked()
        commit_points.append(commit_point)

        async def scope_agent(stream):
            async for ev in stream.noack().events():
                async with lock:
                    out: list = []
                    value = ev.value
                    part = ev.message.partition
                    seen_at[(topic_name, part)] = time.monotonic()
                    det = detector(scope, part)
                    if value.startswith(TICK):
                        out += det.advance(float(value[len(TICK):]))
                        records = ()
                    else:
                        records = msgpack.decode(value[len(BATCH):]) if value.startswith(BATCH) else [(None, value)]
                    for origin, raw in records:
                        try:
                            event = decode_event(raw)
                        except EventError as exc:  # cannot happen after ingest; never stop on bad input
                            await dlq.send(key=None, value=dead_letter(raw, exc.reason, topic=ev.message.topic,
                                                                      partition=part, offset=ev.message.offset))
                            continue
                        key = Detector.keys_for(event)[scope]
                        if origin is not None and already_applied(det.state, key, origin):
                            continue  # re-delivered after a restart: its effect is in the recovered table
                        out += det.process(event, (scope,))
                        if origin is not None:
                            mark_applied(det.state, key, origin)
                    await emit(out)  # rule alerts go out at once, before any state that records them
                    pending["events"].append(ev)
                    pending["parts"].add(part)
                    if len(pending["events"]) >= COMMIT_RECORDS or time.monotonic() - pending["since"] >= COMMIT_S:
                        await commit_locked()

        scope_agent.__name__ = f"scope_{scope}"
        scope_agent.__qualname__ = f"scope_{scope}"
        return app.agent(scope_topics[scope], name=f"scope-{scope}")(scope_agent)

    commit_points: list = []
    for s in SCOPES:
        make_scope_agent(s)

    @app.timer(interval=1.0)
    async def clock_tick():
        """Release what idle partitions held back; event time reaches every ext partition (live hang-ups)."""
        await confirm_idle()
        await release()
        for commit_point in commit_points:
            await commit_point()
        if clock["now"] == float("-inf") or clock["now"] == clock.get("ticked"):
            return
        clock["ticked"] = clock["now"]
        for p in range(nparts):
            await scope_topics["ext"].send(key=None, value=TICK + repr(clock["now"]).encode(), partition=p)

    @app.timer(interval=WATCHDOG_S)
    async def fetch_watchdog():
        """Put back a partition Faust stopped fetching and never resumed.

        Faust takes a partition out of fetching while its stream buffer is under pressure and
        puts it back when the buffer drains; a rebalance or queue reset in between can lose
        the "drained" callback, and the partition is then never fetched again (seen as a worker
        that is "ready" but reads nothing). A partition out of fetching for WATCHDOG_S*2 while
        none of its records reached an agent in that time is not under pressure: resume it.
        """
        consumer = app.consumer
        if app.in_recovery or app.rebalancing:
            left_out.clear()
            return
        try:
            assigned = consumer.assignment()
            active = consumer._get_active_partitions()  # private: Faust offers no public view
        except Exception:  # not started / mid-rebalance: look again next time
            return
        wall = time.monotonic()
        for tp in assigned:
            key = (tp.topic, tp.partition)
            if tp.topic not in agent_topics:
                continue  # changelogs are Faust's own business (paused outside recovery on purpose)
            if tp in active:
                left_out.pop(key, None)
                continue
            since = left_out.setdefault(key, wall)
            if wall - since >= 2 * WATCHDOG_S and wall - seen_at.get(key, 0.0) >= 2 * WATCHDOG_S:
                log.warning("partition %s[%d] was left out of fetching for %.0f s (paused=%s, buffered=%s); "
                            "resuming it", tp.topic, tp.partition, wall - since,
                            tp in consumer._paused_partitions, tp in consumer._buffered_partitions)
                consumer._buffered_partitions.discard(tp)
                consumer.resume_partitions({tp})
                left_out.pop(key, None)

    @app.on_partitions_assigned.connect
    async def on_assigned(app, assigned, **kwargs):
        shorten_fetch_wait(app)
        for commit_point in commit_points:  # nothing pending may outlive the detectors it belongs to
            await commit_point()
        detectors.clear()  # timers of partitions taken over come back from the table
        wall = time.monotonic()
        for tp in assigned:
            if tp.topic in (config.cdr, config.security):
                reorder.register((tp.topic, tp.partition), wall)
                seen_at.setdefault((tp.topic, tp.partition), wall)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        for commit_point in commit_points:  # state of partitions about to move goes out first
            await commit_point()
        reorder.forget((tp.topic, tp.partition) for tp in revoked)

    @app.task
    async def announce():
        log.warning("tollguard worker %s consuming %s, %s (broker %s)", config.app_id, config.cdr,
                    config.security, config.broker)

    app.tollguard = {"config": config, "detectors": detectors, "tables": tables, "blocklist": blocklist}
    return app


def main(args) -> int:
    from faust.worker import Worker

    from .topics import ensure_topics

    from .replay import load_scorer

    policy = Policy.load(args.policy) if args.policy else Policy.default()
    scorer = load_scorer(args)
    config = Config.from_env()
    ensure_topics(config)
    app = create_app(config, policy, (scorer.model, scorer.card) if scorer else None)
    # Start-up objects (libraries, the model, phone metadata) never die: keep them out of the
    # collector's full passes, and collect young objects less often. Full passes over a few
    # hundred MB of heap stalled the event loop for 100-300 ms (the latency tail).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    worker = Worker(app, loglevel=args.loglevel.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0
