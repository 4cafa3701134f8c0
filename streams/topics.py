"""Create the public topics (idempotent) with kafka-python's admin client.

Faust creates the topics it owns (repartition and changelog topics) but not the source
topics it reads; a worker must not hang because no carrier has written to
``<prefix>.security`` yet, so ``worker`` and ``produce`` create them first.
"""

from __future__ import annotations

from .config import Config


def ensure_topics(config: Config, timeout_s: float = 30.0) -> list[str]:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=config.bootstrap, request_timeout_ms=int(timeout_s * 1000),
                             client_id=f"{config.prefix}-admin")
    try:
        existing = set(admin.list_topics())
        rf = config.replication_factor
        wanted = [NewTopic(t, config.partitions, rf) for t in (config.cdr, config.security)]
        wanted += [NewTopic(t, config.partitions, rf) for t in (config.alerts, config.actions, config.dlq)]
        wanted.append(NewTopic(config.blocklist, config.partitions, rf, topic_configs={"cleanup.policy": "compact"}))
        # the worker's repartition topics: one partition per scope partition, as many as the state tables
        wanted += [NewTopic(config.topic(f"by-{s}"), config.partitions, rf) for s in ("ip", "ext", "trunk")]
        missing = [t for t in wanted if t.name not in existing]
        created = []
        for t in missing:
            try:
                admin.create_topics([t])
                created.append(t.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
