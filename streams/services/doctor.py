"""``tollguard doctor``: one command that checks a deployment and explains each finding with its fix.

Each check gives ``Finding``s: ✔ (fine), ✘ (broken: exit 1) or · (not checked, and why). A check never
stops the others: a broker that cannot be reached still lets the policy, the model and the enforcers be
checked. Everything read from the cluster, the files and the programs is printed escaped.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

from streams.reference.text import safe

OK, BAD, SKIP = "✔", "✘", "·"


@dataclass
class Finding:
    mark: str
    what: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f"\n    fix: {safe(self.fix, 600)}" if self.fix and self.mark == BAD else ""
        return f"{self.mark} {self.what}: {safe(self.detail, 800)}{fix}"


# -- Kafka ---------------------------------------------------------------------------------------
def broker(config, timeout: float) -> tuple[list[Finding], object | None]:
    """Reach the cluster as every command does (TLS and SASL from the TOLLGUARD_* settings)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    from streams.kafka.connect import kafka_python_kwargs
    try:
        admin = KafkaAdminClient(request_timeout_ms=int(timeout * 1000), client_id=f"{config.prefix}-doctor",
                                 **kafka_python_kwargs(config))
        cluster = admin.describe_cluster()
    except (KafkaError, OSError, ValueError) as exc:
        fix = ("check TOLLGUARD_BROKER (host:port), TOLLGUARD_SECURITY_PROTOCOL and, for SASL, "
               "TOLLGUARD_SASL_USERNAME/PASSWORD and TOLLGUARD_SASL_MECHANISM; for TLS the CA file "
               "(docs/stream.md, 'Connecting')")
        return [Finding(BAD, "broker", f"cannot reach {config.redact(config.where)}: {config.redact(str(exc))}", fix)], None
    brokers = cluster.get("brokers") or []
    how = config.security_protocol + (f", {config.sasl_mechanism} as {config.sasl_username!r}" if config.sasl else "")
    return [Finding(OK, "broker", f"{config.safe_broker}: {len(brokers)} broker(s), cluster {cluster.get('cluster_id')}, "
                                  f"over {how}")], admin


def topics(config, admin) -> list[Finding]:
    """Every declared topic: present, with its partitions, compaction and replication."""
    from kafka.admin import ConfigResource, ConfigResourceType

    from streams.kafka.topics import declared
    specs = declared(config)
    have = set(admin.list_topics())
    missing = [s.name for s in specs if s.name not in have]
    out = []
    if missing:
        out.append(Finding(BAD, "topics", f"{len(missing)} of {len(specs)} missing: {', '.join(missing[:8])}"
                           + (" …" if len(missing) > 8 else ""),
                           "`tollguard topics --create` (or have your admins create what `tollguard topics` lists); "
                           "a worker creates them itself unless TOLLGUARD_CREATE_TOPICS=0"))
    present = [s for s in specs if s.name in have]
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in present])} if present else {}
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]) if present else {}
    configs = configs.get("topic", {}) if isinstance(configs, dict) else {}
    wrong = []
    for s in present:
        parts = described.get(s.name, {}).get("partitions") or []
        if s.partitions > 1 and len(parts) < s.partitions:
            wrong.append(f"{s.name} has {len(parts)} partitions, {s.partitions} wanted (TOLLGUARD_PARTITIONS)")
        rf = min((len(p.get("replica_nodes") or []) for p in parts), default=0)
        if parts and rf < config.replication_factor:
            wrong.append(f"{s.name} has replication {rf}, {config.replication_factor} wanted")
        want = s.configs.get("cleanup.policy")
        got = ((configs.get(s.name) or {}).get("cleanup.policy") or {}).get("value", "delete")
        if want == "compact" and "compact" not in got:
            wrong.append(f"{s.name} is not compacted (cleanup.policy={got}): its latest record per key is its state")
    if wrong:
        out.append(Finding(BAD, "topic settings", "; ".join(wrong[:6]) + (" …" if len(wrong) > 6 else ""),
                           "alter them (kafka-configs.sh --alter --add-config cleanup.policy=compact; "
                           "kafka-topics.sh --alter --partitions N), or recreate them with `tollguard topics --create`"))
    if not missing and not wrong:
        out.append(Finding(OK, "topics", f"all {len(specs)} present, with their partitions, compaction and replication"))
    return out


def lag(config, admin, max_lag: int) -> list[Finding]:
    """Each tollguard consumer group's lag: what it has committed against the topics' ends."""
    groups = [g["group_id"] for g in admin.list_groups()
              if isinstance(g.get("group_id"), str) and g["group_id"].startswith(config.prefix)]
    if not groups:
        return [Finding(SKIP, "consumer lag", f"no consumer group of prefix {config.prefix!r} yet (no worker has run)")]
    out = []
    offsets = admin.list_group_offsets(groups)
    for group in sorted(groups):
        committed = {tp: om.offset for tp, om in (offsets.get(group) or {}).items() if om.offset >= 0}
        if not committed:
            continue
        ends = admin.list_partition_offsets({tp: -1 for tp in committed})
        behind = sum(max(0, ends[tp].offset - off) for tp, off in committed.items() if tp in ends)
        worst = max(((ends[tp].offset - off, tp.topic) for tp, off in committed.items() if tp in ends), default=(0, ""))
        if behind > max_lag:
            out.append(Finding(BAD, f"lag of {group}", f"{behind:,} records behind (most on {worst[1]}: {worst[0]:,})",
                               "start more workers (up to one per partition) or find what slows the running ones "
                               "(their /metrics: tollguard_lane_lag_seconds)"))
        else:
            out.append(Finding(OK, f"lag of {group}", f"{behind:,} records behind"))
    return out or [Finding(SKIP, "consumer lag", "no committed offsets yet")]


def skew(config, admin, max_skew: float, clock=time.time) -> list[Finding]:
    """The broker's clock against this host's: a record appended to a LogAppendTime topic carries the
    broker's time. Event time is the PBX's; a skewed host still makes lag and idleness figures wrong."""
    from kafka import KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from streams.kafka.connect import kafka_python_kwargs
    name = config.topic("doctor")
    try:
        if name not in set(admin.list_topics()):
            if not config.create_topics:
                return [Finding(SKIP, "clock skew", f"{name} is missing and TOLLGUARD_CREATE_TOPICS=0")]
            try:
                admin.create_topics([NewTopic(name, 1, config.replication_factor, topic_configs={
                    "message.timestamp.type": "LogAppendTime", "retention.ms": str(3600_000)})])
            except TopicAlreadyExistsError:
                pass
        producer = KafkaProducer(acks="all", **kafka_python_kwargs(config))
        try:
            sent = clock()
            meta = producer.send(name, b"doctor").get(timeout=15)
            back = clock()
        finally:
            producer.close(timeout=5)
    except KafkaError as exc:
        return [Finding(SKIP, "clock skew", f"could not write to {name}: {exc}")]
    return [judge_skew(meta.timestamp / 1000.0, sent, back, max_skew)]


def judge_skew(broker_time: float, sent: float, back: float, max_skew: float) -> Finding:
    """The broker's append time against the middle of the round trip that carried it."""
    offset = broker_time - (sent + back) / 2
    margin = (back - sent) / 2
    text = f"the broker's clock is {offset:+.2f} s from this host's (± {margin:.2f} s)"
    if abs(offset) - margin > max_skew:
        return Finding(BAD, "clock skew", text, "run NTP (chrony, systemd-timesyncd) on this host and on the brokers")
    return Finding(OK, "clock skew", text)


# -- files ---------------------------------------------------------------------------------------
def policy(path: str | None) -> list[Finding]:
    from streams.policy import Policy, PolicyError
    if path is None:
        return [Finding(SKIP, "policy", "none given (--policy FILE): the built-in guide defaults would apply")]
    try:
        p = Policy.load(path)
    except OSError as exc:
        return [Finding(BAD, "policy", f"cannot read {path}: {exc.strerror}", "give the policy file the worker uses")]
    except PolicyError as exc:
        return [Finding(BAD, "policy", "; ".join(exc.problems[:5]), "fix the lines named (docs/policy.md)")]
    warned = f"; {len(p.warnings)} warning(s): " + "; ".join(p.warnings[:3]) if p.warnings else ""
    return [Finding(OK, "policy", f"{path} is valid{warned}")]


def model(path: str | None, keys: list[str], no_model: bool) -> list[Finding]:
    """The model the worker would start with loads; with public keys, they load, and say what they accept."""
    if no_model:
        return [Finding(SKIP, "model", "--no-model: rules only")]
    from models.errors import ModelError
    from models.loading import load_scorer
    from models.signing import Trust
    import argparse
    try:
        scorer = load_scorer(argparse.Namespace(model=path, no_model=False))
    except (ModelError, OSError, ValueError) as exc:
        return [Finding(BAD, "model", str(exc), "pass --model FILE (a `tollguard train` artifact) or --no-model")]
    out = [Finding(OK, "model", f"version {scorer.version}, threshold {scorer.threshold:g}")]
    try:
        trust = Trust.from_files(keys)
    except (OSError, ValueError) as exc:
        out.append(Finding(BAD, "model signatures", f"cannot read a public key: {exc}",
                           "give the Ed25519 public key file from `tollguard model keygen`"))
        return out
    out.append(Finding(OK if trust.keys else SKIP, "model signatures", trust.describe()))
    return out


def notify(path: str | None, send_test: bool, env: dict) -> list[Finding]:
    from streams.kafka.config import ConfigError
    if path is None:
        return [Finding(SKIP, "notify", "no --notify FILE given")]
    from streams.services.notify.settings import load
    try:
        loaded = load(path, env)
    except (ConfigError, OSError) as exc:
        return [Finding(BAD, "notify", str(exc), "fix the notify file (docs/notify.md)")]
    names = ", ".join(f"{c.name} ({c.type})" for c in loaded.channels)
    out = [Finding(OK, "notify", f"{len(loaded.channels)} channel(s): {names}")]
    if not send_test:
        out.append(Finding(SKIP, "notify delivery", "not tried (--send-test sends one test message per channel)"))
        return out
    from streams.services.notify.render import Message
    from streams.services.notify.senders import broadcast
    msg = Message(kind="alert", severity="information", title="tollguard doctor: test message",
                  text="tollguard doctor: a test message; nothing happened.", body={"type": "doctor_test"})
    for name, why in broadcast(loaded, msg).items():
        out.append(Finding(OK, f"notify {name}", "test message accepted") if why is None else
                   Finding(BAD, f"notify {name}", why, "check the channel's address, credentials and that it answers 2xx"))
    return out


def enforcers(path: str | None) -> list[Finding]:
    """Each enforce backend can do its work here: nft runs and may list the ruleset; fail2ban answers."""
    if path is None:
        return [Finding(SKIP, "enforce", "no --enforce FILE given")]
    from streams.kafka.config import ConfigError
    from streams.services.enforce.settings import Settings
    try:
        settings = Settings.load(path)
    except (ConfigError, OSError) as exc:
        return [Finding(BAD, "enforce", str(exc), "fix enforce.yaml (docs/enforce.md)")]
    out = []
    for b in settings.backends:
        argv = None
        if b.TYPE == "nftables":
            argv = [*b.prefix, b.nft, "list", "tables"]
        elif b.TYPE == "fail2ban":
            argv = [*b.client, "ping"]
        elif b.TYPE == "command":
            prog = b.argv[0]
            ok = shutil.which(prog) is not None
            out.append(Finding(OK if ok else BAD, f"enforce {b.name}", f"{prog} {'found' if ok else 'not found'}",
                               "install the script or fix its path in enforce.yaml"))
            continue
        else:
            out.append(Finding(SKIP, f"enforce {b.name}", f"{b.TYPE}: reached only when an action is sent"))
            continue
        out.append(_runs(f"enforce {b.name}", argv, "nftables needs root or CAP_NET_ADMIN (the systemd unit in "
                         "deploy/systemd grants it to enforce only)" if b.TYPE == "nftables" else
                         "is fail2ban running, and may this user use its socket?"))
    return out


def _runs(what: str, argv: list[str], fix: str) -> Finding:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return Finding(BAD, what, f"no such program: {argv[0]}", fix)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(BAD, what, f"{argv[0]}: {exc}", fix)
    if p.returncode != 0:
        said = (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or [""]
        return Finding(BAD, what, f"{' '.join(argv)} exited {p.returncode}: {said[0]}", fix)
    return Finding(OK, what, f"{' '.join(argv)} works")
