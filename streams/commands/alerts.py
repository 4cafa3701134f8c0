"""``tollguard alerts``: the analyst's tail of the alert topic (kafka-python)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timezone

from streams.domain.ruleids import SEVERITIES, SEVERITY_RANK
from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs, preflight
from streams.reference.text import safe

HELP = "tail the alert topic"

COLOURS = {"information": "\033[36m", "warning": "\033[33m", "alert": "\033[31m", "critical": "\033[1;41;97m"}


def row(a: dict, colour: bool) -> str:
    """One table line; every field comes off a topic anyone with write access fills, so each is escaped and cut."""
    sev = safe(a.get("severity", "?"), 11)
    who = f"{safe(a.get('subject_type', ''), 10)}:{safe(a.get('subject', ''), 64)}"
    text = f"{safe(str(a.get('ts', ''))[:19], 19).replace('T', ' ')}  {sev:<11} {safe(a.get('rule', ''), 26):<26} " \
           f"{who:<28} {safe(a.get('summary', ''), 240)}"
    if colour and sev in COLOURS:
        text = COLOURS[sev] + text + "\033[0m"
    return text


def keep(a: dict, args, since: float | None) -> bool:
    if args.rule and a.get("rule") not in args.rule:
        return False
    if args.severity and SEVERITY_RANK.get(a.get("severity"), -1) < SEVERITY_RANK[args.severity]:
        return False
    if args.tenant and a.get("tenant") not in args.tenant:
        return False
    if since is not None:
        try:
            if datetime.fromisoformat(a.get("ts", "").replace("Z", "+00:00")).timestamp() < since:
                return False
        except ValueError:
            return False
    return True


def parse_since(text: str | None) -> float | None:
    """An RFC 3339 time, or a duration back from now: 15m, 2h, 7d."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-beginning", action="store_true", help="read the topic from its start")
    p.add_argument("--since", metavar="TIME", help="alerts with event time from TIME (RFC 3339, or 15m/2h/7d ago)")
    p.add_argument("--rule", action="append", metavar="R", help="only this rule id (repeatable)")
    p.add_argument("--severity", choices=SEVERITIES, help="only this severity and above")
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop after this long without an alert (default: keep following)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="table (escaped, one line per alert; default) or jsonl (the records as they are)")


def main(args) -> int:
    from kafka import KafkaConsumer
    try:
        since = parse_since(args.since)
    except ValueError:
        print(f"alerts: --since must be RFC 3339 or like 15m/2h/7d, not {args.since!r}", file=sys.stderr)
        return 2
    from kafka.errors import KafkaError
    config = Config.from_env()
    if config.alerts not in preflight(config):
        print(f"alerts: {config.alerts} does not exist yet on {config.where}; waiting for a worker to create it",
              file=sys.stderr)
    try:
        from streams.kafka.topics import ensure_read
        ensure_read(config, [config.alerts])
        consumer = KafkaConsumer(config.alerts, **kafka_python_kwargs(config), allow_auto_create_topics=False,
                                 auto_offset_reset="earliest" if (args.from_beginning or since) else "latest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=500)
    except KafkaError as exc:
        print(config.redact(f"alerts: cannot reach Kafka at {config.where}: {exc}"), file=sys.stderr)
        return 1
    colour = sys.stdout.isatty()
    last = time.monotonic()
    n = unreadable = 0
    try:
        while True:
            got = False
            for msg in consumer:
                got = True
                try:
                    a = json.loads(msg.value)
                except ValueError:
                    a = None
                if not isinstance(a, dict):
                    unreadable += 1  # not an alert: counted and reported, never shown raw
                    continue
                if not keep(a, args, since):
                    continue
                n += 1
                print(json.dumps(a) if args.format == "jsonl" else row(a, colour), flush=True)
            if got:
                last = time.monotonic()
            elif args.idle_timeout is not None and time.monotonic() - last >= args.idle_timeout:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    print(f"alerts: {n} shown" + (f", {unreadable} records on {config.alerts} were not alerts" if unreadable else ""),
          file=sys.stderr)
    return 0
