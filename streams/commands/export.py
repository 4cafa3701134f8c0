"""``tollguard export``: a topic, or a time range of it, into a JSONL or Parquet file (kafka-python).

For data scientists: a month of ``<prefix>.cdr`` and ``<prefix>.security`` becomes the input of
``tollguard train`` or ``notebooks/retrain``.

- ``--since/--until`` pick records by the time they reached Kafka (their broker timestamps): each
  partition is *seeked* to the first offset at ``since`` and read up to the first offset at
  ``until`` with ``offsets_for_times``, not scanned from the start. Without ``--until`` the export
  stops at the end offsets as they were when it began (a snapshot, not a follow).
- A batch record (a JSON array of events) is written as one line per event.
- ``--join``: alerts come with the events they concern (the CDRs their evidence names, read from
  ``<prefix>.cdr`` over the same range), and incidents with their alerts and the SOC's decisions
  and verdict (the labels ``tollguard labels`` reads).
- ``--format parquet`` writes one column per top-level field (nested values as JSON text).

Unreadable records (not JSON) are counted and reported, never dropped silently: JSONL keeps them
as they are; Parquet cannot, so it refuses to write and says how many there were.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Iterator

from streams.domain.events import is_batch, split_batch
from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs, preflight

HELP = "a topic, or a time range of it, to JSONL or Parquet (for notebooks and retraining)"

SHORT = ("cdr", "security", "alerts", "actions", "dlq", "blocklist", "incidents", "detections")
JOIN_MARGIN = 6 * 3600.0  # how far before an alert's range its calls may have started


class ExportError(RuntimeError):
    """What stops an export, said to the user."""


def read_range(config: Config, topic: str, since: float | None = None, until: float | None = None,
               idle_timeout: float = 10.0) -> Iterator[bytes]:
    """Each record value of ``topic`` written in [since, until) (broker time, epoch seconds), partition
    by partition; batch records split into their events."""
    from kafka import KafkaConsumer, TopicPartition
    from streams.kafka.topics import ensure_read
    ensure_read(config, [topic])
    consumer = KafkaConsumer(**kafka_python_kwargs(config), enable_auto_commit=False, group_id=None,
                             allow_auto_create_topics=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        stop = dict(ends)
        if until is not None:
            for tp, hit in consumer.offsets_for_times({tp: int(until * 1000) for tp in tps}).items():
                stop[tp] = hit.offset if hit is not None else ends[tp]
        first = dict(starts)
        if since is not None:
            for tp, hit in consumer.offsets_for_times({tp: int(since * 1000) for tp in tps}).items():
                first[tp] = hit.offset if hit is not None else ends[tp]
        todo = {tp for tp in tps if first[tp] < stop[tp]}
        for tp in tps:
            consumer.seek(tp, first[tp])
        consumer.pause(*[tp for tp in tps if tp not in todo])
        last = time.monotonic()
        while todo:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if time.monotonic() - last > idle_timeout:
                    raise ExportError(f"no progress reading {topic} for {idle_timeout:g} s; "
                                      f"{len(todo)} partition(s) not read to their end")
                continue
            last = time.monotonic()
            for tp, msgs in batch.items():
                for msg in msgs:
                    if msg.offset >= stop[tp]:
                        break
                    value = msg.value or b""
                    if is_batch(value):
                        try:
                            yield from split_batch(value)
                            continue
                        except Exception:
                            pass  # not an array after all: written as it is
                    yield value
                if consumer.position(tp) >= stop[tp] and tp in todo:
                    todo.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()


def records(config: Config, topic: str, since: float | None, until: float | None, join: bool = False,
            idle_timeout: float = 10.0) -> Iterator[dict | bytes]:
    """Parsed records of the range (bytes for what is not JSON), joined when asked."""
    rows = (_parse(v) for v in read_range(config, topic, since, until, idle_timeout))
    if not join:
        yield from rows
        return
    if topic == config.alerts:
        yield from _alerts_with_events(config, list(rows), since, until, idle_timeout)
    elif topic == config.incidents:
        yield from _incidents_with_alerts(config, list(rows), idle_timeout)
    else:
        raise ExportError("--join is for alerts (with their events) and incidents (with their alerts and verdicts)")


def _parse(value: bytes) -> dict | bytes:
    try:
        rec = json.loads(value)
    except ValueError:
        return value
    return rec if isinstance(rec, dict) else value


def _alerts_with_events(config, alerts: list, since, until, idle_timeout) -> Iterator[dict | bytes]:
    wanted: dict[tuple, list[dict]] = {}
    for a in alerts:
        if isinstance(a, dict):
            ev = a.get("evidence") if isinstance(a.get("evidence"), dict) else {}
            for cid in ([ev.get("call_id")] if ev.get("call_id") else []) + list(ev.get("call_ids") or []):
                wanted.setdefault((a.get("tenant"), cid), [])
    if wanted:
        start = None if since is None else since - JOIN_MARGIN
        for v in read_range(config, config.cdr, start, until, idle_timeout):
            ev = _parse(v)
            if isinstance(ev, dict) and (ev.get("tenant", "default"), ev.get("call_id")) in wanted:
                wanted[(ev.get("tenant", "default"), ev.get("call_id"))].append(ev)
    for a in alerts:
        if isinstance(a, dict):
            ev = a.get("evidence") if isinstance(a.get("evidence"), dict) else {}
            ids = ([ev.get("call_id")] if ev.get("call_id") else []) + list(ev.get("call_ids") or [])
            a = {**a, "events": [e for cid in ids for e in wanted.get((a.get("tenant"), cid), [])]}
        yield a


def _incidents_with_alerts(config, incidents: list, idle_timeout) -> Iterator[dict | bytes]:
    from streams.kafka.topic_io import latest
    newest = latest(incidents)  # each incident's newest version, as `tollguard incidents` shows it
    kept = {id(r) for r in newest.values()}
    other = [r for r in incidents if id(r) not in kept and not (isinstance(r, dict) and r.get("incident_id") in newest)]
    ids = {a for r in newest.values() for a in r.get("alert_ids") or []}
    alerts = {}
    if ids:
        for v in read_range(config, config.alerts, None, None, idle_timeout):
            a = _parse(v)
            if isinstance(a, dict) and a.get("alert_id") in ids:
                alerts[a["alert_id"]] = a
    for r in newest.values():
        yield {**r, "alerts": [alerts[i] for i in r.get("alert_ids") or [] if i in alerts]}
    yield from other


def write_jsonl(rows, out) -> tuple[int, int]:
    n = bad = 0
    for r in rows:
        if isinstance(r, dict):
            out.write(json.dumps(r, separators=(",", ":")).encode() + b"\n")
        else:
            out.write(r.replace(b"\n", b" ") + b"\n")
            bad += 1
        n += 1
    return n, bad


def write_parquet(rows, path: str) -> tuple[int, int]:
    import pandas as pd
    kept, bad = [], 0
    for r in rows:
        if isinstance(r, dict):
            kept.append({k: json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else v
                         for k, v in r.items()})
        else:
            bad += 1
    if bad:
        raise ExportError(f"{bad} record(s) are not JSON objects and cannot be a Parquet row; "
                          "export them with --format jsonl to see them")
    pd.DataFrame(kept).to_parquet(path, index=False)
    return len(kept), 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topic", default="cdr",
                   help="cdr, security, alerts, actions, incidents, detections, dlq, or a full topic name")
    p.add_argument("--out", required=True, metavar="FILE", help="the file ('-' for stdout, JSONL only)")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl",
                   help="jsonl (default) or parquet (columns, for pandas)")
    p.add_argument("--since", metavar="TIME", help="records that reached Kafka from then on (RFC 3339, or 15m/2h/7d ago)")
    p.add_argument("--until", metavar="TIME", help="records that reached Kafka before then (default: the end as of now)")
    p.add_argument("--join", action="store_true",
                   help="alerts with the CDRs they concern; incidents with their alerts, decisions and verdict")
    p.add_argument("--max", type=int, default=None, help="stop after this many records")
    p.add_argument("--idle-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="give up when the broker sends nothing for this long before the range's end")


def main(args) -> int:
    from kafka.errors import KafkaError

    from streams.commands.alerts import parse_since
    try:
        since, until = parse_since(args.since), parse_since(args.until)
    except ValueError:
        print("export: --since and --until take RFC 3339 times or durations back from now (15m, 2h, 7d)",
              file=sys.stderr)
        return 2
    if since is not None and until is not None and until <= since:
        print("export: --until must be after --since", file=sys.stderr)
        return 2
    if args.format == "parquet" and args.out == "-":
        print("export: Parquet needs a file (--out FILE.parquet)", file=sys.stderr)
        return 2
    config = Config.from_env()
    topic = config.topic(args.topic) if args.topic in SHORT else args.topic
    existing = preflight(config)
    if topic not in existing:
        ours = sorted(t for t in existing if t.startswith(config.prefix + "."))
        print(f"export: no topic {topic} on {config.where}" + (f"; there are {', '.join(ours)}" if ours else ""),
              file=sys.stderr)
        return 2
    rows = records(config, topic, since, until, args.join, args.idle_timeout)
    if args.max is not None:
        rows = (r for i, r in zip(range(args.max), rows))
    try:
        if args.format == "parquet":
            n, bad = write_parquet(rows, args.out)
        else:
            out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
            try:
                n, bad = write_jsonl(rows, out)
            finally:
                if out is not sys.stdout.buffer:
                    out.close()
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    except KafkaError as exc:
        print(config.redact(f"export: cannot read {topic} on {config.where}: {exc}"), file=sys.stderr)
        return 1
    span = "" if since is None and until is None else " written " + " ".join(
        x for x in (f"from {args.since}" if since else "", f"until {args.until}" if until else "") if x)
    print(f"export: {n} records of {topic}{span} -> {args.out}"
          + (f" ({bad} not JSON objects, written as they were)" if bad else ""), file=sys.stderr)
    return 0
