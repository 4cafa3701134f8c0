"""Every topic tollguard uses, declared once; created here (idempotent) unless the cluster forbids it.

Faust creates the topics it owns (its leader topic and the state tables' changelogs) but not the
source topics it reads; a worker must not hang because no carrier has written to
``<prefix>.security`` yet, so ``worker`` and ``produce`` create them first. With
``TOLLGUARD_CREATE_TOPICS=0`` (clusters that do not grant topic-CREATE rights) nothing is created,
Faust included: ``tollguard topics`` prints the list for the cluster's admins, and a command
that finds one missing stops with its name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from streams.kafka.config import Config
from streams.kafka.connect import KafkaProblem, kafka_python_kwargs, preflight

from streams.core.types import SCOPES


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict = field(default_factory=dict)
    purpose: str = ""


LANES = ("calls", "security")  # streams.shells.worker.ingest: a scope partition's two input lanes


def lane_topic(config: Config, scope: str, lane: str) -> str:
    """A scope's repartition topic for one lane: ``by-<scope>`` (security), ``by-<scope>-calls`` (calls)."""
    return config.topic(f"by-{scope}" if lane == "security" else f"by-{scope}-calls")


def declared(config: Config) -> list[TopicSpec]:
    """The topics a worker needs, with the settings tollguard would create them with."""
    n = config.partitions
    base = {"min.insync.replicas": str(config.min_insync_replicas)} if config.min_insync_replicas else {}
    compact = {**base, "cleanup.policy": "compact"}
    specs = [
        TopicSpec(config.cdr, n, base, "input: CDRs and call-start events"),
        TopicSpec(config.security, n, base, "input: SIP registration and login events"),
        TopicSpec(config.alerts, n, base, "output: alerts"),
        TopicSpec(config.actions, n, base, "output: block actions"),
        TopicSpec(config.dlq, n, base, "output: records that could not be applied, with the reason"),
        TopicSpec(config.blocklist, n, compact, "output: the global IP blocklist (compacted)"),
        TopicSpec(config.ranges, 1, compact, "input: high-risk number ranges (compacted, key prefix; tollguard ranges)"),
        TopicSpec(config.models, 1, {**compact, "max.message.bytes": str(32 * 1024 * 1024)},
                  "input: anomaly models and which one is active (compacted; tollguard model publish)"),
        TopicSpec(config.incidents, n, compact, "output: incidents, one record per update (compacted, key incident_id)"),
        TopicSpec(config.detections, n, base,
                  "internal: detections and the SOC's decisions by tenant and subject, folded into incidents"),
    ]
    specs += [TopicSpec(lane_topic(config, s, lane), n, base, f"internal: {lane} events repartitioned by {s}")
              for s in SCOPES for lane in LANES]
    specs += [TopicSpec(f"{config.app_id}-state-{s}-changelog", n, compact, f"internal: {s} state (compacted)")
              for s in SCOPES]
    specs.append(TopicSpec(f"{config.app_id}-incidents-changelog", n, compact, "internal: incident state (compacted)"))
    specs.append(TopicSpec(f"{config.app_id}-__assignor-__leader", 1, base, "internal: Faust's leader election"))
    return specs


def ensure_topics(config: Config, timeout_s: float = 30.0, names: list[str] | None = None) -> list[str]:
    """Create the declared topics that are missing (only ``names`` if given); return those created.

    With ``create_topics`` off, raise :class:`KafkaProblem` naming the missing ones instead.
    """
    specs = [s for s in declared(config) if names is None or s.name in names]
    existing = preflight(config, [s.name for s in specs])
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = KafkaAdminClient(request_timeout_ms=int(timeout_s * 1000), client_id=f"{config.prefix}-admin",
                             **kafka_python_kwargs(config))
    created = []
    try:
        for s in missing:
            try:
                admin.create_topics([NewTopic(s.name, s.partitions, config.replication_factor, topic_configs=s.configs)])
                created.append(s.name)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise KafkaProblem(config.redact(
                    f"cannot create topic {s.name} on {config.where}: {exc} (without topic-CREATE rights, "
                    "set TOLLGUARD_CREATE_TOPICS=0 and have the topics from `tollguard topics` created)")) from None
    finally:
        admin.close()
    return created


def ensure_read(config: Config, names: list[str]) -> None:
    """Before a reader subscribes: create the declared ones among ``names`` with their settings. A broker
    with ``auto.create.topics.enable`` (the default, and the local one's) would otherwise create a topic
    on the first subscription, with one partition and no compaction, and an incidents topic that is not
    compacted loses its state (found by ``tollguard doctor`` on the demo: notify and the console
    subscribed before the worker had made it). Nothing when TOLLGUARD_CREATE_TOPICS=0."""
    if config.create_topics:
        ensure_topics(config, names=list(names))


def main(args) -> int:
    """``tollguard topics``: list the topics with their settings, or ``--create`` them."""
    config = Config.from_env()
    specs = declared(config)
    if args.create:
        created = ensure_topics(config)
        print(f"topics: created {len(created)} of {len(specs)} on {config.where}" +
              "".join(f"\n  {t}" for t in created), file=sys.stderr)
        return 0
    if args.check:
        existing = preflight(config)
        missing = [s.name for s in specs if s.name not in existing]
        for name in missing:
            print(f"missing: {name}")
        print(f"topics: {len(specs) - len(missing)} of {len(specs)} present on {config.where}", file=sys.stderr)
        return 1 if missing else 0
    rf = config.replication_factor
    for s in specs:
        conf = ",".join(f"{k}={v}" for k, v in s.configs.items()) or "-"
        print(f"{s.name}\tpartitions={s.partitions}\treplication={rf}\t{conf}\t# {s.purpose}")
    return 0
