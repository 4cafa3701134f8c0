"""Configuration from the environment, the same for every command (worker, produce, alerts, export).

Topics and timing:

``TOLLGUARD_BROKER``        Kafka bootstrap, ``kafka://host:port[;host:port]`` (default ``kafka://127.0.0.1:9092``);
                            no credentials here (they would be logged): use the SASL settings below
``TOLLGUARD_TOPIC_PREFIX``  prefix of every topic and of the Faust app id (default ``tollguard``)
``TOLLGUARD_PARTITIONS``    partitions of the topics the worker creates (default 4)
``TOLLGUARD_IDLE_SECONDS``  wall seconds after which a caught-up, quiet input partition stops holding event time back (2)
``TOLLGUARD_LANE_WARN_SECONDS``  a stage lane (calls, security, incidents) this far behind, in wall seconds, is warned of (30)
``TOLLGUARD_LATENESS``      seconds a feed may run out of event-time order while live timers and the model still
                            judge it exactly as replay does (0: feeds in order per partition; docs/stream.md)
``TOLLGUARD_SKEW``          seconds an event may be ahead of the worker's clock; later ones go to the DLQ (900)
``TOLLGUARD_MAX_KEYS``      keys of state a worker holds per scope before the oldest is evicted (200000),
                            split evenly over the scope's partitions

A production cluster (docs/kafka-security.md):

``TOLLGUARD_SECURITY_PROTOCOL``   PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
``TOLLGUARD_SASL_MECHANISM``      PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default SCRAM-SHA-512)
``TOLLGUARD_SASL_USERNAME``       the SASL user
``TOLLGUARD_SASL_PASSWORD_FILE``  a file holding the password (preferred), or ``TOLLGUARD_SASL_PASSWORD``
``TOLLGUARD_SSL_CAFILE``          PEM bundle of the CAs that sign the brokers' certificates (default: the system's)
``TOLLGUARD_SSL_CERTFILE``, ``TOLLGUARD_SSL_KEYFILE``   client certificate and key (PEM), for brokers that ask for one
``TOLLGUARD_SSL_CHECK_HOSTNAME``  1 (default) or 0
``TOLLGUARD_REPLICATION``         replication factor of the topics tollguard creates (1)
``TOLLGUARD_MIN_INSYNC_REPLICAS`` ``min.insync.replicas`` of those topics (the broker's default when unset)
``TOLLGUARD_CREATE_TOPICS``       1 (default): create missing topics; 0: never create, a missing topic is an error
                                  (``tollguard topics`` lists them for the cluster's admins)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable and never holds a secret."""


@dataclass(frozen=True)
class Config:
    broker: str = "kafka://127.0.0.1:9092"
    prefix: str = "tollguard"
    partitions: int = 4
    idle_seconds: float = 2.0
    lane_warn_seconds: float = 30.0
    lateness: float = 0.0
    skew: float = 900.0
    max_keys: int = 200_000
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    create_topics: bool = True
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Config":
        env = os.environ if env is None else env
        get = env.get
        config = cls(
            broker=get("TOLLGUARD_BROKER", cls.broker),
            prefix=get("TOLLGUARD_TOPIC_PREFIX", cls.prefix),
            partitions=_int(env, "TOLLGUARD_PARTITIONS", cls.partitions),
            idle_seconds=_float(env, "TOLLGUARD_IDLE_SECONDS", cls.idle_seconds),
            lane_warn_seconds=_float(env, "TOLLGUARD_LANE_WARN_SECONDS", cls.lane_warn_seconds),
            lateness=_float(env, "TOLLGUARD_LATENESS", cls.lateness),
            skew=_float(env, "TOLLGUARD_SKEW", cls.skew),
            max_keys=_int(env, "TOLLGUARD_MAX_KEYS", cls.max_keys),
            replication_factor=_int(env, "TOLLGUARD_REPLICATION", cls.replication_factor),
            min_insync_replicas=_int(env, "TOLLGUARD_MIN_INSYNC_REPLICAS", None),
            create_topics=_flag(env, "TOLLGUARD_CREATE_TOPICS", True),
            security_protocol=get("TOLLGUARD_SECURITY_PROTOCOL", cls.security_protocol).strip().upper(),
            sasl_mechanism=get("TOLLGUARD_SASL_MECHANISM", cls.sasl_mechanism).strip().upper(),
            sasl_username=get("TOLLGUARD_SASL_USERNAME") or None,
            sasl_password=_password(env),
            ssl_cafile=get("TOLLGUARD_SSL_CAFILE") or None,
            ssl_certfile=get("TOLLGUARD_SSL_CERTFILE") or None,
            ssl_keyfile=get("TOLLGUARD_SSL_KEYFILE") or None,
            ssl_check_hostname=_flag(env, "TOLLGUARD_SSL_CHECK_HOSTNAME", True),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if _URL_USER.search(self.broker):
            raise ConfigError(f"TOLLGUARD_BROKER holds credentials ({self.safe_broker} with a user part): they would "
                              "be logged; set TOLLGUARD_SASL_USERNAME and TOLLGUARD_SASL_PASSWORD_FILE instead")
        if not self.bootstrap:
            raise ConfigError(f"TOLLGUARD_BROKER names no host:port ({self.safe_broker!r})")
        if self.security_protocol not in PROTOCOLS:
            raise ConfigError(f"TOLLGUARD_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, "
                              f"not {self.security_protocol!r}")
        if self.sasl:
            if self.sasl_mechanism not in MECHANISMS:
                raise ConfigError(f"TOLLGUARD_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, "
                                  f"not {self.sasl_mechanism!r}")
            if not self.sasl_username or self.sasl_password is None:
                raise ConfigError(f"{self.security_protocol} needs TOLLGUARD_SASL_USERNAME and a password "
                                  "(TOLLGUARD_SASL_PASSWORD_FILE or TOLLGUARD_SASL_PASSWORD)")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"TOLLGUARD_{name.upper()}: no such file: {path}")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ConfigError("TOLLGUARD_SSL_CERTFILE and TOLLGUARD_SSL_KEYFILE go together")
        if self.replication_factor < 1 or (self.min_insync_replicas or 1) < 1 or self.partitions < 1:
            raise ConfigError("TOLLGUARD_PARTITIONS, TOLLGUARD_REPLICATION and TOLLGUARD_MIN_INSYNC_REPLICAS must be ≥ 1")
        if self.min_insync_replicas and self.min_insync_replicas > self.replication_factor:
            raise ConfigError(f"TOLLGUARD_MIN_INSYNC_REPLICAS={self.min_insync_replicas} exceeds "
                              f"TOLLGUARD_REPLICATION={self.replication_factor}: no write could succeed")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def safe_broker(self) -> str:
        """The broker URL as it may be logged (credentials in it removed)."""
        scheme, _, rest = self.broker.rpartition("://")
        hosts = [h.rsplit("@", 1)[-1] for h in rest.replace(",", ";").split(";")]
        return (f"{scheme}://" if scheme else "") + ";".join(hosts)

    @property
    def where(self) -> str:
        """How the connection is described to humans: hosts, protocol, mechanism and user, never the password."""
        who = f", {self.sasl_mechanism} as {self.sasl_username!r}" if self.sasl else ""
        return f"{self.safe_broker} ({self.security_protocol}{who})"

    @property
    def bootstrap(self) -> list[str]:
        """host:port list for kafka-python/aiokafka."""
        hosts = self.broker.split("://", 1)[-1]
        return [h.strip() for h in hosts.replace(",", ";").split(";") if h.strip()]

    def redact(self, text: str) -> str:
        """``text`` with the password and any URL credentials taken out."""
        if self.sasl_password:
            text = text.replace(self.sasl_password, "***")
        return _URL_USER.sub(r"\1***@", text)

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
    def ranges(self) -> str:
        return self.topic("ranges")

    @property
    def models(self) -> str:
        return self.topic("models")

    @property
    def dlq(self) -> str:
        return self.topic("dlq")

    @property
    def incidents(self) -> str:
        return self.topic("incidents")

    @property
    def detections(self) -> str:
        """Internal: what the scopes detected, keyed by tenant and subject, folded into incidents."""
        return self.topic("detections")


_URL_USER = re.compile(r"(\w+://)[^/@\s;,]+@")


def _password(env) -> str | None:
    path = env.get("TOLLGUARD_SASL_PASSWORD_FILE")
    if path:
        try:
            return Path(path).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"TOLLGUARD_SASL_PASSWORD_FILE: cannot read {path}: {exc.strerror}") from None
    return env.get("TOLLGUARD_SASL_PASSWORD")


def _number(env, name: str, default, kind, what: str):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not {raw!r}") from None


def _int(env, name: str, default):
    return _number(env, name, default, int, "a whole number")


def _float(env, name: str, default: float) -> float:
    return _number(env, name, default, float, "a number of seconds")


def _flag(env, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")
