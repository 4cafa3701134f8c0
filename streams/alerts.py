"""``tollguard alerts``: the analyst's tail of the alert topic (kafka-python)."""

from __future__ import annotations

import json
import sys
import time

from .config import Config

COLOURS = {"information": "\033[36m", "warning": "\033[33m", "alert": "\033[31m", "critical": "\033[1;41;97m"}


def row(a: dict, colour: bool) -> str:
    sev = a.get("severity", "?")
    text = f"{a.get('ts', '')[:19].replace('T', ' ')}  {sev:<11} {a.get('rule', ''):<26} " \
           f"{a.get('subject_type', '')}:{a.get('subject', ''):<18} {a.get('summary', '')}"
    if colour and sev in COLOURS:
        text = COLOURS[sev] + text + "\033[0m"
    return text


def main(args) -> int:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError
    config = Config.from_env()
    try:
        consumer = KafkaConsumer(config.alerts, bootstrap_servers=config.bootstrap,
                                 auto_offset_reset="earliest" if args.from_beginning else "latest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=500)
    except KafkaError as exc:
        print(f"alerts: cannot reach Kafka at {config.broker}: {exc}", file=sys.stderr)
        return 1
    colour = sys.stdout.isatty()
    last = time.monotonic()
    n = 0
    try:
        while True:
            got = False
            for msg in consumer:
                got = True
                try:
                    a = json.loads(msg.value)
                except ValueError:
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
    print(f"alerts: {n} shown", file=sys.stderr)
    return 0
