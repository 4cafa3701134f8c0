"""Configuration from the environment, the same for every command.

``TOLLGUARD_BROKER``        Kafka bootstrap, ``kafka://host:port[;host:port]`` (default ``kafka://127.0.0.1:9092``)
``TOLLGUARD_TOPIC_PREFIX``  prefix of every topic and of the Faust app id (default ``tollguard``)
``TOLLGUARD_PARTITIONS``    partitions of the topics the worker creates (default 4)
``TOLLGUARD_IDLE_SECONDS``  wall seconds after which a caught-up, quiet input partition stops holding event time back (2)
``TOLLGUARD_LATENESS``      seconds a feed may run out of event-time order while live timers and the model still
                            judge it exactly as replay does (0: feeds in order per partition; docs/stream.md)
``TOLLGUARD_SKEW``          seconds an event may be ahead of the worker's clock; later ones go to the DLQ (900)
``TOLLGUARD_REPLICATION``   replication factor of the topics tollguard creates (1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    broker: str = "kafka://127.0.0.1:9092"
    prefix: str = "tollguard"
    partitions: int = 4
    idle_seconds: float = 2.0
    lateness: float = 0.0
    skew: float = 900.0
    replication_factor: int = 1

    @classmethod
    def from_env(cls) -> "Config":
        return cls(
            broker=os.environ.get("TOLLGUARD_BROKER", cls.broker),
            prefix=os.environ.get("TOLLGUARD_TOPIC_PREFIX", cls.prefix),
            partitions=int(os.environ.get("TOLLGUARD_PARTITIONS", cls.partitions)),
            idle_seconds=float(os.environ.get("TOLLGUARD_IDLE_SECONDS", cls.idle_seconds)),
            lateness=float(os.environ.get("TOLLGUARD_LATENESS", cls.lateness)),
            skew=float(os.environ.get("TOLLGUARD_SKEW", cls.skew)),
            replication_factor=int(os.environ.get("TOLLGUARD_REPLICATION", cls.replication_factor)),
        )

    @property
    def safe_broker(self) -> str:
        """The broker URL as it may be logged (credentials in it removed)."""
        scheme, _, rest = self.broker.rpartition("://")
        hosts = [h.rsplit("@", 1)[-1] for h in rest.replace(",", ";").split(";")]
        return (f"{scheme}://" if scheme else "") + ";".join(hosts)

    @property
    def bootstrap(self) -> list[str]:
        """host:port list for kafka-python/aiokafka."""
        hosts = self.broker.split("://", 1)[-1]
        return [h.strip() for h in hosts.replace(",", ";").split(";") if h.strip()]

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-worker"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    @property
    def cdr(self) -> str:
        return self.topic("cdr")

    @property
    def security(self) -> str:
        return self.topic("security")

    @property
    def alerts(self) -> str:
        return self.topic("alerts")

    @property
    def actions(self) -> str:
        return self.topic("actions")

    @property
    def blocklist(self) -> str:
        return self.topic("blocklist")

    @property
    def dlq(self) -> str:
        return self.topic("dlq")
