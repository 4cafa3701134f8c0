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
import logging
import sys

import faust
from aiokafka.partitioner import murmur2

from .config import Config
from .core import Detector
from .dlq import dead_letter
from .events import Action, Alert, EventError, decode_event, encode
from .policy import Policy

log = logging.getLogger("tollguard.worker")

SCOPES = ("ip", "ext", "trunk")
TICK = b"\x00tick:"


def partition_of(key: bytes, partitions: int) -> int:
    """The Java client's default partitioner (murmur2), so every shell agrees where a key lives."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class BlocklistTable(faust.GlobalTable):
    """A global table whose changelog is the public, compacted ``<prefix>.blocklist`` topic.

    faust-streaming 0.15's partition assignor looks a global table's changelog up by the
    default name (``<app id>-<table>-changelog``) and hangs the rebalance when a custom
    changelog topic is given; naming the real topic here keeps the two in step.
    """

    def _changelog_topic_name(self) -> str:
        return self.changelog_topic.get_topic_name()


def create_app(config: Config | None = None, policy: Policy | None = None) -> faust.App:
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
    tables = {s: app.Table(f"state-{s}", default=None, partitions=config.partitions) for s in SCOPES}
    detectors = {s: Detector(policy, state=tables[s], scopes=(s,)) for s in SCOPES}
    clock = {"now": float("-inf"), "rearm": True}

    nparts = config.partitions

    async def ingest(stream):
        async for ev in stream.events():
            msg = ev.message
            value = ev.value
            try:
                event = decode_event(value if value is not None else b"")
            except EventError as exc:
                await dlq.send(key=None, value=dead_letter(value, exc.reason, topic=msg.topic,
                                                          partition=msg.partition, offset=msg.offset))
                continue
            t = event.ts.timestamp()
            if t > clock["now"]:
                clock["now"] = t
            for scope, key in Detector.keys_for(event).items():
                k = key.encode()
                await scope_topics[scope].send(key=k, value=value, partition=partition_of(k, nparts))

    # one agent per source topic: carriers may give cdr and security different partition counts
    for name, topic in inputs.items():
        app.agent(topic, name=f"ingest-{name}")(ingest)

    async def emit(records) -> None:
        for rec in records:
            if isinstance(rec, Alert):
                await alerts.send(key=rec.subject.encode(), value=encode(rec))
            else:
                await actions.send(key=rec.target.encode(), value=encode(rec))
                if isinstance(rec, Action) and rec.kind == "block_ip":
                    blocklist[rec.target] = {"tenant": rec.tenant, "until": None if rec.duration_s is None
                                             else rec.ts.timestamp() + rec.duration_s, "alert_id": rec.alert_id}

    def make_scope_agent(scope: str):
        det = detectors[scope]

        async def scope_agent(stream):
            async for ev in stream.events():
                value = ev.value
                part = ev.message.partition

                def mine(key: str) -> bool:
                    return partition_of(key.encode(), nparts) == part

                if value.startswith(TICK):
                    if clock["rearm"]:
                        det.rebuild_timers()
                        clock["rearm"] = False
                    await emit(det.advance(float(value[len(TICK):]), timers_for=mine))
                    continue
                try:
                    event = decode_event(value)
                except EventError as exc:  # cannot happen after ingest, but never stop on bad input
                    await dlq.send(key=None, value=dead_letter(value, exc.reason, topic=ev.message.topic,
                                                              partition=part, offset=ev.message.offset))
                    continue
                await emit(det.process(event, (scope,), timers_for=mine))

        scope_agent.__name__ = f"scope_{scope}"
        scope_agent.__qualname__ = f"scope_{scope}"
        return app.agent(scope_topics[scope], name=f"scope-{scope}")(scope_agent)

    for s in SCOPES:
        make_scope_agent(s)

    @app.timer(interval=1.0)
    async def clock_tick():
        """Event time reaches every ext partition, even one no event arrives on (live hang-ups)."""
        if clock["now"] == float("-inf"):
            return
        for p in range(nparts):
            await scope_topics["ext"].send(key=None, value=TICK + repr(clock["now"]).encode(), partition=p)

    @app.on_partitions_assigned.connect
    async def on_assigned(app, assigned, **kwargs):
        clock["rearm"] = True  # timers of partitions taken over come back from the table

    @app.task
    async def announce():
        log.warning("tollguard worker %s consuming %s, %s (broker %s)", config.app_id, config.cdr,
                    config.security, config.broker)

    app.tollguard = {"config": config, "detectors": detectors, "tables": tables, "blocklist": blocklist}
    return app


def main(args) -> int:
    from faust.worker import Worker

    from .topics import ensure_topics

    policy = Policy.load(args.policy) if args.policy else Policy.default()
    config = Config.from_env()
    ensure_topics(config)
    app = create_app(config, policy)
    worker = Worker(app, loglevel=args.loglevel.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0
