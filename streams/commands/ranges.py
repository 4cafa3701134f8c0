"""``tollguard ranges load FILE`` / ``tollguard ranges list``: the high-risk number ranges on the compacted
``<prefix>.ranges`` topic (key: the prefix; value: the range as JSON; a tombstone takes it off; docs/ranges.md).
The worker and the verdict follow that topic with ``streams.kafka.ranges``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from streams.kafka.ranges import apply
from streams.reference.ranges import RangeError, RangeTable
from streams.reference.text import safe

HELP = "manage the high-risk number ranges on <prefix>.ranges (docs/ranges.md)"

log = logging.getLogger("tollguard.ranges")


def _load(args, config) -> int:
    from kafka import KafkaProducer

    from streams.kafka.connect import kafka_python_kwargs
    try:
        table = RangeTable.load(args.file)
    except (OSError, RangeError, UnicodeDecodeError) as exc:
        print(f"ranges: {exc}", file=sys.stderr)
        return 2
    producer = KafkaProducer(**kafka_python_kwargs(config), acks="all")
    futures = []
    for r in table:
        value = None if args.remove else json.dumps(r.as_dict()).encode()
        futures.append((r, producer.send(config.ranges, key=r.prefix.encode(), value=value)))
    producer.flush()
    failed = [r.prefix for r, f in futures if f.exception is not None]
    producer.close()
    what = "taken off" if args.remove else "listed"
    print(f"ranges: {len(futures) - len(failed)} range(s) {what} on {config.ranges}"
          + (f"; {len(failed)} failed: {', '.join(failed[:5])}" if failed else ""))
    return 1 if failed else 0


def _list(args, config) -> int:
    from streams.kafka.topic_io import TopicReader
    reader = TopicReader(config, config.ranges)
    if not reader.tps:
        print(f"ranges: {config.ranges} does not exist yet (tollguard topics --create, or load a file)", file=sys.stderr)
        return 1
    table = RangeTable()
    c = reader.consumer
    ends = c.end_offsets(reader.tps)
    deadline = time.monotonic() + args.timeout
    while any(c.position(tp) < ends[tp] for tp in reader.tps) and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=300).values():
            for rec in records:
                apply(table, rec.key, rec.value)
    now = time.time()
    rows = [r for r in table if args.all or r.expires is None or r.expires > now]
    if args.format == "jsonl":
        for r in rows:
            print(json.dumps(r.as_dict()))
    else:
        print(f"{'prefix':<17} {'label':<28} {'source':<24} expires")
        for r in rows:
            d = r.as_dict()
            print(f"{r.prefix:<17} {safe(r.label, 28):<28} {safe(r.source, 24):<24} {d['expires'] or 'never'}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="ranges_cmd", required=True)
    r = sub.add_parser("load", help="list the ranges of a CSV file (prefix,label,source,expires) on the topic")
    r.add_argument("file", help="a CSV of prefix,label,source,expires (docs/ranges.md)")
    r.add_argument("--remove", action="store_true", help="take these prefixes off the list instead")
    r = sub.add_parser("list", help="the ranges listed now")
    r.add_argument("--all", action="store_true", help="expired ones too")
    r.add_argument("--format", choices=["table", "jsonl"], default="table", help="table (default) or jsonl")
    r.add_argument("--timeout", type=float, default=30.0, help="seconds to read the topic for (default 30)")


def main(args) -> int:
    from streams.kafka.config import Config
    config = Config.from_env()
    return _load(args, config) if args.ranges_cmd == "load" else _list(args, config)
