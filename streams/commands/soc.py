"""What the SOC's commands on incidents and blocks do (kafka-python); each has its home in streams/commands
(``incidents``, ``ack``, ``resolve``, ``unblock``: arguments and entry).

- ``incidents`` reads the compacted ``<prefix>.incidents`` and shows each incident as it stands
  (its latest version), or follows updates as they come;
- ``ack`` and ``resolve`` look the incident up there, then send the decision (who, when, note,
  verdict) to ``<prefix>.detections`` keyed by its subject, where the worker's incident stage
  records it on the incident; they wait until the incident topic shows it;
- ``unblock`` sends an ``unblock`` event on ``<prefix>.security``: the worker lifts the target's
  blocks from now on, takes an address off the blocklist, records it on the incident, and puts an
  ``unblock`` action on ``<prefix>.actions`` for every enforcer.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from datetime import datetime, timezone

from streams.domain.campaigns import describe
from streams.kafka.config import Config
from streams.kafka.connect import preflight
from streams.kafka.topic_io import TopicReader, latest, read_incidents, send_one
from streams.domain.events import Unblock, encode
from streams.domain.incidents import Decision, record_from_topic, subject_key
from streams.reference.text import safe

CLOSED = ("closed", "resolved")


def who(args) -> str:
    return args.by or os.environ.get("USER") or getpass.getuser() or "unknown"


def keep(rec: dict, args) -> bool:
    if getattr(args, "open", False) and rec.get("status") in CLOSED:
        return False
    tenants = getattr(args, "tenant", None)
    return not (tenants and rec.get("tenant") not in tenants)


def row(rec: dict) -> str:
    """One table line; subject and summary come from attackers: escaped and cut."""
    cost = rec.get("cost")
    who = f"{safe(rec.get('tenant', ''), 32)}/{safe(rec.get('subject_type', ''), 10)}:{safe(rec.get('subject', ''), 64)}"
    money = f"${cost:,.2f}" if isinstance(cost, (int, float)) else "-"
    return (f"{safe(str(rec.get('opened', ''))[:19], 19).replace('T', ' ')}  {safe(rec.get('incident_id', ''), 24):<24} "
            f"{safe(rec.get('severity', ''), 11):<9} {safe(rec.get('status', ''), 12):<12} {who:<36} "
            f"{len(rec.get('alert_ids') or []):>3} alerts {len(rec.get('action_ids') or []):>3} actions "
            f"{rec.get('events', 0):>5} events {money:>10}  {safe(', '.join(map(str, rec.get('rules') or [])), 200)}"
            + (f"\n    {safe(describe(rec['campaign']), 240)}" if isinstance(rec.get("campaign"), dict) else ""))


def list_incidents(args) -> int:
    config = Config.from_env()
    if config.incidents not in preflight(config):
        print(f"incidents: {config.incidents} does not exist yet on {config.where}; no worker has run", file=sys.stderr)
        return 0 if not args.follow else 1
    show = (lambda r: print(json.dumps(r), flush=True)) if args.format == "jsonl" else (lambda r: print(row(r), flush=True))
    if not args.follow:
        shown = 0
        for rec in sorted(read_incidents(config, args.timeout).values(), key=lambda r: str(r.get("opened"))):
            if keep(rec, args):
                show(rec)
                shown += 1
        print(f"incidents: {shown} shown", file=sys.stderr)
        return 0
    reader = TopicReader(config, config.incidents)
    try:  # every update as it comes
        while True:
            for rec in reader.to_end(time.monotonic() + 1.0):
                if latest([rec]) and keep(rec, args):
                    show(rec)
    except KeyboardInterrupt:
        return 0
    finally:
        reader.close()


# -- deciding ---------------------------------------------------------------------------------
def decide(args) -> int:
    """``ack`` / ``resolve``: the decision goes where the worker folds incidents; wait until it shows."""
    config = Config.from_env()
    if config.incidents not in preflight(config):
        print(f"{args.cmd}: {config.incidents} does not exist on {config.where}: no worker has run under prefix "
              f"{safe(config.prefix, 64)}", file=sys.stderr)
        return 1
    found = read_incidents(config).get(args.incident_id)
    if found is None:
        hint = "" if args.incident_id.startswith("i-") else " (incident ids start with i-; `tollguard incidents` lists them)"
        print(f"{args.cmd}: no incident {safe(args.incident_id, 64)} on {config.incidents}{hint}", file=sys.stderr)
        return 1
    status = "acknowledged" if args.cmd == "ack" else "resolved"
    d = Decision(incident_id=args.incident_id, tenant=found["tenant"], subject_type=found["subject_type"],
                 subject=found["subject"], status=status, by=who(args), at=datetime.now(timezone.utc),
                 note=args.note, verdict=getattr(args, "verdict", None), incident=record_from_topic(found))
    send_one(config, config.detections, subject_key(d.tenant, d.subject_type, d.subject).encode(), encode(d))
    if args.wait <= 0:
        print(f"{args.cmd}: sent for {args.incident_id}")
        return 0
    at = json.loads(encode(d))["at"]
    deadline = time.monotonic() + args.wait
    reader = TopicReader(config, config.incidents)
    try:
        seen: dict = {}
        while time.monotonic() < deadline:
            latest(reader.to_end(deadline), seen)
            rec = seen.get(args.incident_id)
            if rec and any(x.get("status") == status and x.get("by") == d.by and x.get("at") == at
                           for x in rec.get("decisions") or []):
                now = "" if rec["status"] == status else f"; the incident is {rec['status']}"
                print(f"{args.cmd}: {args.incident_id} {status} by {safe(d.by, 64)}, recorded as version "
                      f"{rec['version']}{now}")
                return 0
            time.sleep(0.2)
    finally:
        reader.close()
    print(f"{args.cmd}: sent, but {config.incidents} did not show it within {args.wait:g} s: is a worker running?",
          file=sys.stderr)
    return 3


def unblock(args) -> int:
    config = Config.from_env()
    ev = Unblock(ts=datetime.now(timezone.utc), target=args.target, reason=args.reason, tenant=args.tenant, by=who(args))
    send_one(config, config.security, args.target.encode(), encode(ev))
    print(f"unblock: {safe(args.target, 64)} of tenant {safe(args.tenant, 32)} sent; the worker lifts its blocks "
          f"and puts an unblock action on {config.actions} for the enforcers")
    return 0
