"""The Faust app: topology, the batch agents, the commit protocol and the rebalance hooks.

Topology (every name under ``TOLLGUARD_TOPIC_PREFIX``)::

    <p>.cdr, <p>.security ──ingest──► <p>.by-ip    ──scope ip────┐
      (JSON events, one     │          <p>.by-ext   ──scope ext───┼─► <p>.alerts  (key: subject)
       or an array each)    │          <p>.by-trunk ──scope trunk─┘   <p>.actions (key: target)
                            └─► <p>.dlq (with topic/partition/offset/index/reason)    <p>.blocklist (compacted)

``ingest`` validates each event once and routes it to the partition of each scope key it has
(``ingest.Ingest``); each scope keeps its rule state in a changelog-backed Faust table
(``<p>-worker-state-<scope>-changelog``), so a worker that dies, or a second worker that takes
partitions over, continues with the same state. Marks carry event time from the input
partitions to the scope partitions (``records``, ``clock``). Each scope partition has two lanes,
``<p>.by-<scope>`` (the security topic's events) and ``<p>.by-<scope>-calls`` (the CDR topic's), read by
their own agents in turns, so a call is not queued behind a flood. docs/stream.md has the semantics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time

import faust
from faust.serializers import codecs
from faust.types import TP

from streams.kafka.config import Config
from streams.kafka.dlq import dead_letter
from streams.policy import Policy
from streams.state import StateVersionError
from streams.shells.worker import faust_compat as fc
from streams.shells.worker import records
from streams.shells.worker.checkpoint import Checkpoint
from streams.shells.worker.emit import Emitter
from streams.shells.worker.metrics import LAG_EVERY, WorkerMetrics
from streams.shells.worker.incidents import IncidentRunner
from streams.kafka.topics import LANES, lane_topic
from streams.shells.worker.ingest import Ingest, lane_marks, partition_of
from streams.shells.worker.scope import ScopeRunner
from streams.shells.worker.statecodec import decode_value, encode_value

log = logging.getLogger("tollguard.worker")

from streams.core.types import SCOPES
COMMIT_S = 1.0         # a scope writes its state and acknowledges at least this often
COMMIT_RECORDS = 200   # ... or after this many repartition records
TURN_BYTES = 64 * 1024  # a scope stage is held for at most this much of a batch before its other lane's turn
INGEST_TURN_BYTES = 256 * 1024  # ingest routes at most this much input before the other input topic's turn
MARK_EVERY = 0.1       # ingest announces what changed in its input partitions this often
IDLE_CHECK = 0.25
SWEEP_EVERY = 5.0      # incidents left behind by their tenant's later detections are closed this often


class StateCodec(codecs.Codec):
    """Rule state in the changelogs as versioned msgpack (streams.state.schema); keys as JSON."""

    def _dumps(self, obj) -> bytes:
        return encode_value(obj)

    def _loads(self, s: bytes):
        try:
            return decode_value(s)
        except StateVersionError as exc:
            StateCodec.refused += 1
            if StateCodec.refused <= 5:
                log.error("changelog value refused, its key starts empty: %s", exc)
            return None
    refused = 0


codecs.register("tollguard-state", StateCodec())


class StateTable(faust.Table):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("schema", faust.Schema(key_serializer="json", value_serializer="tollguard-state"))
        super().__init__(*args, **kwargs)
        self.value_serializer = "tollguard-state"


def create_app(config: Config | None = None, policy: Policy | None = None, model=None, model_trust=None) -> faust.App:
    """The Faust app. ``model`` is a loaded (estimator, card) pair for the anomaly rule, or None; ``model_trust``
    (models.signing.Trust) whose signed models on <prefix>.models it switches to (default: none)."""
    config = config or Config.from_env()
    policy = policy or Policy.default()
    fc.install()
    from streams.kafka.connect import faust_credentials
    app = faust.App(
        config.app_id, broker=config.broker, broker_credentials=faust_credentials(config),
        topic_allow_declare=config.create_topics,  # off: the topics exist (tollguard topics), Faust creates none
        store="memory://", topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor, value_serializer="raw", key_serializer="raw",
        web_enabled=False,  # /metrics and /health are streams.kafka.observe's (prometheus_client), on --web-port
        datadir=os.path.join(_datadir(), "{conf.name}"),  # not the working directory
        consumer_auto_offset_reset="earliest", producer_acks=-1, table_standby_replicas=0,
        broker_commit_every=50_000, broker_commit_interval=1.0,
        # a worker that dies is replaced within ~10 s rather than Faust's default 60 s session
        broker_session_timeout=10.0, broker_heartbeat_interval=3.0,
    )
    Worker(app, config, policy, model, model_trust)
    return app


class LaneLag:
    """How far behind each stage lane is: the wall-clock age of the last record it read (a gauge), and a
    warning, at most once a minute per lane, when that age passes ``warn`` seconds."""

    def __init__(self, gauge, warn: float, lane_of_topic: dict[str, str]):
        self.gauge, self.warn, self.lane_of_topic = gauge, warn, lane_of_topic
        self.warned: dict[tuple[str, str], float] = {}

    def read(self, stage: str, messages) -> None:
        stamp = getattr(messages[-1], "timestamp", None) if messages else None
        if not stamp or stamp < 0:
            return
        lane = self.lane_of_topic.get(messages[-1].topic, "detections")
        age = max(0.0, time.time() - stamp / 1000.0)
        self.gauge.labels(stage, lane).set(age)
        now = time.monotonic()
        if age > self.warn and now - self.warned.get((stage, lane), -1e9) >= 60:
            self.warned[(stage, lane)] = now
            log.warning("the %s stage's %s lane is %.0f s behind (TOLLGUARD_LANE_WARN_SECONDS=%g): it reads "
                        "records produced that long ago", stage, lane, age, self.warn)


def turns(messages, most: int = TURN_BYTES):
    """A batch cut into turns of at most ``most`` bytes (one record at least): a stage is held one turn at a time."""
    turn, size = [], 0
    for m in messages:
        n = len(m.value or b"")
        if turn and size + n > most:
            yield turn
            turn, size = [], 0
        turn.append(m)
        size += n
    if turn:
        yield turn


class Worker:
    """The wiring of one worker process (an object, so each piece is named and testable in isolation)."""

    def __init__(self, app: faust.App, config: Config, policy: Policy, model, model_trust=None):
        self.app, self.config, self.policy = app, config, policy
        self.model_trust = model_trust  # None: every published model is refused (models.signing.Trust())
        parts = config.partitions
        # each scope partition is fed by two lanes, so a call never waits behind a flood of security events
        self.lane_topics = {(s, lane): lane_topic(config, s, lane) for s in SCOPES for lane in LANES}
        self.scope_of = {t: s for (s, _), t in self.lane_topics.items()}
        self.inputs = {config.cdr: fc.BatchChannel(app, config.cdr), config.security: fc.BatchChannel(app, config.security)}
        self.scope_channels = {key: fc.BatchChannel(app, t) for key, t in self.lane_topics.items()}
        isr = {"min.insync.replicas": str(config.min_insync_replicas)} if config.min_insync_replicas else {}
        self.tables = {s: app.tables.add(StateTable(app, name=f"state-{s}", default=None, partitions=parts,
                                                     extra_topic_configs=isr, beacon=app.tables.beacon))
                       for s in SCOPES}
        scorer_factory = None
        self.scorer = None            # the model in use (one object, shared by the ext partitions)
        self.next_scorer = None       # (version, scorer) published on <prefix>.models, switched to between batches
        if model is not None:
            from models.score import Scorer
            self.scorer = Scorer(*model)
            scorer_factory = lambda: self.scorer  # noqa: E731
        self.runners = {s: ScopeRunner(s, policy, fc.table_data(self.tables[s]), parts,
                                       lambda key, p: partition_of(key.encode(), parts) == p,
                                       scorer_factory, config.lateness,
                                       -(-config.max_keys // parts)) for s in SCOPES}
        from streams.reference.ranges import RangeTable
        self.ranges = RangeTable()  # high-risk ranges from <prefix>.ranges, over each tenant's own file
        policy.add_ranges(self.ranges)
        self.ingest = Ingest(parts, policy, config.skew)
        self.metrics = WorkerMetrics()
        self.emitter = Emitter(self._send, config.alerts, config.actions, config.blocklist, config.detections,
                               config.incidents, observe=self.metrics.count_out, ranges=config.ranges)
        self.detections = fc.BatchChannel(app, config.detections)
        self.incident_table = app.tables.add(StateTable(app, name="incidents", default=None, partitions=parts,
                                                        extra_topic_configs=isr, beacon=app.tables.beacon))
        self.incidents = IncidentRunner(fc.table_data(self.incident_table),
                                        lambda key, p: partition_of(key.encode(), parts) == p,
                                        lambda tenant: policy.tenant(tenant).privacy)
        self.ingest_lock = asyncio.Lock()
        # each stage's commit protocol: records not yet acknowledged, sends in flight, state to write
        self.stages = {s: self._checkpoint(self.runners[s].flush, self.tables[s]) for s in SCOPES}
        self.incident_stage = self._checkpoint(lambda part: ([], self.incidents.flush(part)), self.incident_table)
        self.watchdog = fc.FetchWatchdog(app, set(self.inputs) | set(self.lane_topics.values()))
        self.stats = {"events": 0, "dead": 0, "late": 0}
        self.lanes = LaneLag(self.metrics.lane_lag, config.lane_warn_seconds,
                             {t: lane for (_, lane), t in self.lane_topics.items()})
        self._wire()
        app.tollguard = self

    async def _send(self, topic: str, key: bytes | None, value: bytes, partition: int | None):
        return await self.app.producer.send(topic, key, value, partition, None, None)

    def _checkpoint(self, flush, table) -> Checkpoint:
        async def write(key: str, value, part: int):
            return await fc.write_changelog(self.app, fc.changelog_topic(table), _key(key),
                                            None if value is None else encode_value(value), part)
        return Checkpoint(flush, self.emitter.send, write, lambda records: fc.ack(self.app, records))

    async def _apply(self, stage: Checkpoint, apply, messages, finish=None) -> int:
        """A batch into a stage: each record applied (``apply(partition, value, dead, out)``; ``finish(out)``
        after the last), what it caused sent, the records left for the stage's commit to acknowledge; the
        number of dead letters. A failure midway aborts the stage: what the batch caused may be missing, so
        it is never acknowledged."""
        out: list = []
        dead: list = []
        try:
            stage.read(messages, {m.partition for m in messages})
            for m in messages:
                apply(m.partition, m.value, dead, out)
            if finish is not None:
                finish(out)
            stage.sent(await self.emitter.send(out))
            stage.sent(await self._dead_letters(dead))
        except BaseException as exc:
            stage.abort(exc)
            raise
        return len(dead)

    async def _dead_letters(self, dead: list) -> list:
        """Records a stage could not apply, to <prefix>.dlq with their reason; the futures of the sends."""
        return [await self._send(self.config.dlq, None, dead_letter(raw, reason, privacy=self.policy.dlq_privacy), None)
                for raw, reason in dead]

    # -- ingest -------------------------------------------------------------------------------
    async def ingest_batch(self, messages) -> None:
        """Route a batch of input records, in turns of at most ``INGEST_TURN_BYTES``: the other input topic's
        agent routes between two turns, so a call is not routed after a whole flood's batch."""
        for turn in turns(messages, INGEST_TURN_BYTES):
            await self._ingest_turn(turn)
            await asyncio.sleep(0)

    async def _ingest_turn(self, messages) -> None:
        async with self.ingest_lock:
            t0 = time.perf_counter()
            routed = self.ingest.route(messages)
            futures = []
            for value in routed.dead:
                futures.append(await self._send(self.config.dlq, None, value, None))
            for (scope, part, lane), values in routed.out.items():
                for v in values:
                    futures.append(await self._send(self.lane_topics[(scope, lane)], None, v, part))
            for f in futures:
                await f
            self.stats["events"] += routed.events
            self.stats["dead"] += len(routed.dead)
            if messages:
                self.metrics.events.labels(messages[0].topic).inc(routed.events)
            self.metrics.dlq.inc(len(routed.dead))
            self.metrics.batch.labels("ingest").observe(time.perf_counter() - t0)
            fc.ack(self.app, messages)
            for m in messages:
                self.watchdog.seen_at[(m.topic, m.partition)] = time.monotonic()

    async def announce(self, full: bool = False) -> None:
        """Mark input partitions idle that have nothing left to read, and send what changed to every scope partition."""
        if self.ingest_lock.locked():
            return  # a batch is being routed: its records carry its marks, and the next tick sends the rest
        async with self.ingest_lock:
            if not self.ingest.expected:
                counts = {t: fc.partitions_of(self.app, t) for t in self.inputs}
                if all(counts.values()):
                    self.ingest.expect(counts)
            await self._idle_check()
            marks = self.ingest.marks(full)
            if not marks:
                return
            futures = []
            for lane, lmarks in lane_marks(marks).items():  # each source's marks on its own lane only
                value = records.encode(lmarks, [])
                futures += [await self._send(self.lane_topics[(s, lane)], None, value, p)
                            for s in SCOPES for p in range(self.config.partitions)]
            for f in futures:
                await f

    async def _idle_check(self) -> None:
        """A source is idle when nothing came for the idle timeout and the broker holds nothing more:
        its end offset (asked now, not the consumer's last view) is where ingest has read to."""
        wall = time.monotonic()
        quiet = [(tp, src) for tp, src in self.ingest.sources.items()
                 if not src.idle and wall - src.last_wall >= self.config.idle_seconds]
        if not quiet:
            return
        ends = await fc.end_offsets(self.app, [TP(*tp) for tp, _ in quiet])
        buffered = {(m.topic, m.partition) for chan in self.inputs.values() for m in chan.items}
        for tp, src in quiet:
            end = ends.get(TP(*tp))
            if end is None or tp in buffered:
                continue
            pos = src.last_offset + 1 if src.last_offset >= 0 else await fc.position(self.app, TP(*tp))
            if pos is not None and pos >= end:
                src.idle = True
            elif pos is not None and wall - src.last_wall > 30 and wall - src.warned > 30:
                # records wait on a partition that delivers nothing: it holds event time back, say so
                src.warned = wall
                log.warning("%s[%d] has %d records pending but delivered nothing for %.0f s (%s)", tp[0], tp[1],
                            end - pos, wall - src.last_wall, fc.describe(self.app, TP(*tp)))

    # -- scopes -------------------------------------------------------------------------------
    def scope_handler(self, scope: str):
        runner = self.runners[scope]

        stage = self.stages[scope]

        async def handle(messages) -> None:
            for turn in turns(messages):  # the scope's other lane gets the stage between two turns
                async with stage.lock:
                    t0 = time.perf_counter()
                    dead = await self._apply(stage, runner.apply, turn)  # rule alerts go out at once
                    now = time.monotonic()
                    for m in turn:
                        self.watchdog.seen_at[(m.topic, m.partition)] = now
                    self.metrics.dlq.inc(dead)
                    self.metrics.batch.labels(scope).observe(time.perf_counter() - t0)
                    self.lanes.read(scope, turn)
                    if stage.due(COMMIT_RECORDS, COMMIT_S):
                        await self._commit(scope)
                await asyncio.sleep(0)
        return handle

    async def commit(self, scope: str) -> None:
        """A scope's commit from a timer, a rebalance or the stop; a scope whose batch failed is left for a restart
        to read again (its handler raised, and said why)."""
        async with self.stages[scope].lock:
            if self.stages[scope].failed is None:
                await self._commit(scope)

    async def _commit(self, scope: str) -> None:
        """Score the model's micro-batch, make sure every alert is on Kafka, write the state, then acknowledge
        (``Checkpoint.commit``). Until the acknowledgement a crash repeats the records: the rules' state is
        idempotent (sets keyed by event identity), and alerts come back with the same ids."""
        # every queued call was scored by the model it was queued under: a published one from the next batch
        await self.stages[scope].commit(self._switch_if_published if scope == "ext" else None)
        self.metrics.oldest_pending = min((st.since for st in self.stages.values() if st.since is not None),
                                          default=None)
        self.stats["late"] = sum(r.late for r in self.runners.values())
        self.metrics.late.set(self.stats["late"])

    def _switch_if_published(self) -> None:
        if self.next_scorer is not None:
            self.switch_model()

    def switch_model(self) -> None:
        """Score with the model published on <prefix>.models from the next micro-batch on (the calls queued
        so far were scored by the one they were queued under)."""
        version, scorer = self.next_scorer
        self.next_scorer = None
        old = getattr(self.scorer, "version", None)
        if version == old:
            return
        self.scorer = scorer
        for w in self.runners["ext"].work.values():
            w.detector.scorer = scorer
        log.warning("model: switched from %s to %s (threshold %.4f) between micro-batches", old, version,
                    scorer.threshold)

    async def measure_lag(self) -> None:
        """Records on the broker not yet read, per assigned input partition (for /metrics); the model's figures."""
        self.metrics.observe_model(self.scorer)
        try:
            tps = [tp for tp in self.app.consumer.assignment() if tp.topic in self.inputs]
        except Exception:
            return
        ends = await fc.end_offsets(self.app, tps)
        for tp in tps:
            src = self.ingest.sources.get((tp.topic, tp.partition))
            end = ends.get(tp)
            if end is None:
                continue
            read = src.last_offset + 1 if src is not None and src.last_offset >= 0 else await fc.position(self.app, tp)
            if read is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, end - read))

    # -- incidents ----------------------------------------------------------------------------
    async def incident_batch(self, messages) -> None:
        """Fold detections and decisions into incidents; send the updates and new actions, then write
        the incident state and acknowledge (a crash in between folds the same records again: no change)."""
        stage = self.incident_stage
        async with stage.lock:
            t0 = time.perf_counter()
            dead = await self._apply(stage, self.incidents.apply, messages, self.incidents.finish)
            self.lanes.read("incidents", messages)
            await stage.commit()
            self.metrics.dlq.inc(dead)
            self.metrics.batch.labels("incidents").observe(time.perf_counter() - t0)

    async def sweep_incidents(self) -> None:
        """Close the incidents that later detections of their tenant have left behind."""
        stage = self.incident_stage
        async with stage.lock:
            if stage.failed is not None:
                return  # a batch failed: nothing more is acknowledged until a restart reads it again
            parts = set(self.incidents.books)
            try:  # after a restart a partition's incidents are in its table before any detection arrives
                parts |= {tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.config.detections}
            except Exception:
                pass
            for part in parts:
                stage.sent(await self.emitter.send(self.incidents.sweep(part, time.time())))
            stage.read([], parts)
            await stage.commit()

    # -- wiring -------------------------------------------------------------------------------
    def _wire(self) -> None:
        app = self.app
        for topic, chan in self.inputs.items():
            fc.batch_agent(app, chan, f"ingest-{topic.rsplit('.', 1)[-1]}")(self.ingest_batch)
        for (scope, lane), chan in self.scope_channels.items():
            fc.batch_agent(app, chan, f"scope-{scope}-{lane}")(self.scope_handler(scope))
        fc.batch_agent(app, self.detections, "incidents")(self.incident_batch)
        self._wire_timers(app)
        self._wire_rebalance(app)
        self._wire_tasks(app)

    def _wire_timers(self, app) -> None:
        """The incident sweep, the marks, idle commits, the lag gauge and the fetch watchdog: each a loop
        that waits its interval after the last run ended (``fc.every``), so a slow tick never overlaps the next."""
        async def incident_sweep():
            await self.sweep_incidents()

        async def marks():
            await self.announce()

        async def commit_points():
            for scope, stage in self.stages.items():
                if stage.records and time.monotonic() - stage.last >= COMMIT_S and not stage.lock.locked():
                    await self.commit(scope)  # a busy scope commits from its own handler

        async def input_lag():
            await self.measure_lag()

        async def fetch_watchdog():
            self.watchdog.check()
            await self.watchdog.check_stalled()

        for interval, job in ((SWEEP_EVERY, incident_sweep), (MARK_EVERY, marks), (IDLE_CHECK, commit_points),
                              (LAG_EVERY, input_lag), (self.watchdog.every, fetch_watchdog)):
            fc.every(app, interval, job)

    def _wire_rebalance(self, app) -> None:
        """Partitions revoked (state out first), assigned, and the drain before Faust stops its streams."""
        @app.on_partitions_revoked.connect
        async def on_revoked(app, revoked, **kwargs):
            for scope in SCOPES:  # state of partitions about to move goes out first
                await self.commit(scope)
            tps = set(revoked)
            async with self.incident_stage.lock:  # a batch still sending finishes its commit before its book goes
                for chan in (*self.inputs.values(), *self.scope_channels.values(), self.detections):
                    chan.drop(tps)
                self.incidents.forget(tp.partition for tp in revoked if tp.topic == self.config.detections)
            self.ingest.forget((tp.topic, tp.partition) for tp in revoked)
            for scope in SCOPES:
                self.runners[scope].forget(tp.partition for tp in revoked if self.scope_of.get(tp.topic) == scope)

        @app.on_partitions_assigned.connect
        async def on_assigned(app, assigned, **kwargs):
            fc.shorten_fetch_wait(app)
            wall = time.monotonic()
            for tp in assigned:
                if tp.topic in self.inputs:
                    src = self.ingest.source(tp.topic, tp.partition)
                    src.last_wall = max(src.last_wall, wall)

        async def drain_before_stop(deadline: float) -> None:
            """Before Faust waits for streams (a rebalance, or SIGTERM): finish the records already read
            (bounded), then write state and acknowledge."""
            chans = (*self.inputs.values(), *self.scope_channels.values(), self.detections)
            while time.monotonic() < deadline and any(ch.pending() for ch in chans):
                await asyncio.sleep(0.02)
            for scope in SCOPES:
                await self.commit(scope)
            async with self.incident_stage.lock:  # an incident batch in flight has finished its commit
                pass
            left = sum(ch.pending() for ch in chans)
            log.info("records read so far are processed, their state written and acknowledged%s",
                     f"; {left} left to read again" if left else "")
        fc.before_stop(app, drain_before_stop)

    def _wire_tasks(self, app) -> None:
        """The published models, the ranges topic, and the line that says the worker has started."""
        @app.task
        async def read_models():  # a thread loads a published model; the next commit switches to it
            if self.scorer is None:
                return  # --no-model: the rules alone, whatever is published
            from models.registry import ModelBook, start_following
            from models.signing import Trust

            def publish(version, scorer):
                self.next_scorer = (version, scorer)
                log.warning("model: %s loaded from %s; switching at the next micro-batch", version, self.config.models)
            start_following(self.config, ModelBook(trust=self.model_trust or Trust()), publish,
                            on_refused=lambda reason: self.metrics.model_refused.labels(reason).inc())

        @app.task
        async def read_ranges():  # on a thread of its own: Faust's event loop only reads the table
            from streams.kafka.ranges import start_following
            start_following(self.config, self.ranges)

        @app.task
        async def started():
            self.metrics.started = True
            log.info("tollguard worker %s consuming %s, %s (broker %s; lateness %g s, skew %g s)",
                        self.config.app_id, self.config.cdr, self.config.security, self.config.safe_broker,
                        self.config.lateness, self.config.skew)


def _datadir() -> str:
    """Where Faust keeps its (unused: tables are in memory) data directory: under the temp dir."""
    d = os.path.join(tempfile.gettempdir(), "tollguard-faust")
    os.makedirs(d, exist_ok=True)
    return d


def _key(key: str) -> bytes:
    import json
    return json.dumps(key).encode()
