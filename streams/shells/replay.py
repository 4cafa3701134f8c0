"""``tollguard replay``: the file shell around the detection core (no broker).

Reads events from files or stdin, runs them through one Detector with in-memory state in
canonical event-time order (so a file sorted by call start, by call end or shuffled gives the
same alerts), and writes alerts and actions. Malformed lines are reported with file:line and
reason on stderr and counted; the run goes on.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import msgspec

from streams.domain.campaigns import describe
from streams.shells.gcpolicy import settle_after_startup
from streams.intake import decoded, files_by_time, merged, read_events, report
from streams.reference.text import safe
from streams.core.detector import Detector
from streams.core.epochs import iso
from streams.domain.events import Action, Alert, encode, event_time
from streams.domain.incidents import IncidentBook, IncidentRecord, published
from streams.core.ordering import LATENESS, ordered_records
from streams.policy import Policy
from models.loading import load_scorer


MODEL_BATCH = 10_000  # events between anomaly-model scoring calls (one call costs ~the same for 1 or 1,000s of rows)
SKEW = 900.0  # with --now: how far ahead of it an event may be


@dataclass
class Rejected:
    source: str
    line: int
    reason: str
    raw: bytes


@dataclass
class ReplayStats:
    events: int = 0
    rejected: int = 0
    alerts: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    late: int = 0  # events more than the lateness out of event-time order (judged all the same)
    incidents: int = 0


def run(lines: Iterable[tuple[str, int, bytes]] | None, detector: Detector, on_output, on_reject,
        stats: ReplayStats | None = None, lateness: float = LATENESS, now: float | None = None,
        skew: float = SKEW, summary=None, records=None) -> ReplayStats:
    """Judge every event of ``lines`` in canonical event-time order (streams.core.ordering), whatever the file order.

    Events are held until the latest event time read for their tenant is ``lateness`` past them;
    an event later than that is judged at once and counted late. With ``now`` (epoch seconds), an
    event more than ``skew`` ahead of it is rejected as the worker would dead-letter it.

    At the end of input each incident whose ``until`` its tenant's latest event time, or ``now``, has
    passed is closed: given the worker's wall clock as ``now``, replay ends in the incidents the worker
    shows once the same input has gone idle (docs/stream.md "The incident stage").
    """
    stats = stats or ReplayStats()
    t0 = time.perf_counter()
    judged = 0
    book = IncidentBook(privacy=lambda tenant: detector.policy.tenant(tenant).privacy)
    incidents: dict[str, IncidentRecord] = {}  # each incident's latest record, as a compacted topic keeps it

    def emit(records) -> None:
        for rec in published(records, book):
            if isinstance(rec, Alert):
                stats.alerts[rec.rule] += 1
            else:
                stats.actions[rec.kind] += 1
            on_output(rec)

    def checked():  # ``records``: already validated (intake.files_by_time); else ``lines`` are
        for rec in (records if records is not None else decoded(lines, summary)):
            if rec[4] is None and now is not None:
                why = ahead_of(event_time(rec[3]), now, skew)
                if why is not None:
                    rec = (*rec[:3], None, why)
            yield rec

    for (source, n, raw, event, error), late in ordered_records(checked(), lateness):
        if error is not None:
            stats.rejected += 1
            on_reject(Rejected(source, n, error, raw))
            continue
        stats.events += 1
        stats.late += late
        emit(detector.feed(event))
        judged += 1
        if judged % MODEL_BATCH == 0:
            emit(detector.flush())
    emit(detector.finish())
    emit(detector.flush())
    incidents.update((inc.incident_id, inc) for inc in book.updates())
    for tenant, clock in detector.clocks.items():  # the end of input: what its time (or ``now``) has passed is over
        incidents.update((inc.incident_id, inc) for inc in book.sweep(tenant, clock, floor=now))
    for inc in sorted(incidents.values(), key=lambda r: (r.opened, r.incident_id)):
        stats.incidents += 1
        on_output(inc)  # each incident as it stands at the end (what the compacted topic shows)
    stats.seconds = time.perf_counter() - t0
    return stats


def parse_now(text: str) -> float:
    """``--now``: RFC 3339 with an offset, epoch seconds, or ``wall`` for this machine's clock."""
    from datetime import datetime
    if text == "wall":
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if d.tzinfo is None:
        raise SystemExit(f"replay: --now {text!r} needs an offset or Z")
    return d.timestamp()


def ahead_of(ts: float, now: float, skew: float) -> str | None:
    """The reason an event too far in the future is refused (one tenant's bad clock must not move time)."""
    if ts > now + skew:
        return (f"event time {iso(ts).isoformat()} is {ts - now:,.0f} s ahead of the clock "
                f"({iso(now).isoformat()}); at most {skew:g} s are accepted")
    return None


def replay_file(paths: list[str], policy: Policy | None = None, fmt: str = "auto", tz: str = "UTC",
                scorer=None, tenant: str = "default") -> tuple[list[Alert | Action], ReplayStats, list[Rejected]]:
    """Library entry point: everything a replay produced, in order (rules only unless a scorer is given)."""
    out: list = []
    rejects: list[Rejected] = []
    meaning = policy.tenant(tenant).settings.cdr if policy is not None else None
    streams = [read_events([p], fmt, tz, tenant, meaning) for p in paths]  # side by side, by event time
    stats = run(None, Detector(policy, scorer=scorer), out.append, rejects.append, records=merged(streams))
    return out, stats, rejects


def format_table_row(rec: Alert | Action | IncidentRecord) -> str:
    """One line per record; attacker-controlled text escaped and cut (streams.reference.text)."""
    if isinstance(rec, IncidentRecord):
        cost = "" if rec.cost is None else f" cost ${rec.cost:,.2f}"
        return (f"{rec.opened.strftime('%Y-%m-%d %H:%M:%S')}  INCIDENT {rec.severity:<10} {rec.status:<12} "
                f"{safe(rec.tenant, 32)}/{rec.subject_type}:{safe(rec.subject, 64):<18} {len(rec.alert_ids)} alerts, "
                f"{len(rec.action_ids)} actions, {rec.events} events{cost}: {', '.join(rec.rules)} ({rec.incident_id})"
                + (f"\n    {safe(describe(msgspec.to_builtins(rec.campaign)), 240)}" if rec.campaign else ""))
    when = rec.ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(rec, Alert):
        return (f"{when}  ALERT   {rec.severity:<11} {rec.rule:<26} {rec.subject_type}:{safe(rec.subject, 64):<18} "
                f"{safe(rec.summary, 240)}")
    dur = "permanent" if rec.duration_s is None else f"{rec.duration_s}s"
    return f"{when}  ACTION  {rec.kind:<11} {safe(rec.target, 64):<45} {dur:<10} ({rec.alert_id})"


def main(args) -> int:
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    for w in policy.warnings:  # valid, but probably not meant (streams.policy.lint)
        print(f"policy warning: {w}", file=sys.stderr)
    if args.ranges:
        from streams.reference.ranges import RangeError, RangeTable
        try:
            policy.add_ranges(RangeTable.load(args.ranges))
        except (OSError, RangeError, UnicodeDecodeError) as exc:
            print(f"replay: --ranges: {exc}", file=sys.stderr)
            return 2
    detector = Detector(policy, scorer=load_scorer(args), max_keys=args.max_keys)
    out = sys.stdout.buffer
    if args.format == "jsonl":
        def on_output(rec):
            out.write(encode(rec) + b"\n")
    else:
        def on_output(rec):
            out.write((format_table_row(rec) + "\n").encode())

    def on_reject(r: Rejected):
        print(f"{safe(r.source, 200)}:{r.line}: rejected: {safe(r.reason, 300)}", file=sys.stderr)

    records, summary = files_by_time(args, policy)
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm
        records = tqdm(records, unit=" ev", file=sys.stderr, mininterval=0.5)
    now = parse_now(args.now) if getattr(args, "now", None) else None
    settle_after_startup()  # as the worker does (streams.shells.gcpolicy): the same core, the same collector
    stats = run(None, detector, on_output, on_reject, lateness=args.lateness, now=now, summary=summary, records=records)
    out.flush()
    status = report(summary, "replay", sys.stderr if not args.quiet else _Null())
    if not args.quiet:
        rate = stats.events / stats.seconds if stats.seconds else 0.0
        late = (f"; {stats.late} arrived more than {args.lateness:g} s out of order and were still judged, when they "
                "arrived: a window still held counts them as on time, but a key forgotten since (docs/stream.md) "
                "starts again; raise --lateness to judge them in order") if stats.late else ""
        print(f"replay: {stats.events} events, {stats.rejected} rejected, "
              f"{sum(stats.alerts.values())} alerts, {sum(stats.actions.values())} actions, "
              f"{stats.incidents} incidents "
              f"in {stats.seconds:.2f} s ({rate:,.0f} events/s){late}", file=sys.stderr)
        if args.format == "table" and stats.alerts:
            print("alerts by rule: " + ", ".join(f"{k}={v}" for k, v in stats.alerts.most_common()), file=sys.stderr)
        keys = detector.keys
        print(f"state: {len(keys):,} keys held, {keys.expired:,} forgotten once their windows were over"
              + (f", {keys.evicted:,} evicted over the budget of {keys.max_keys:,} per scope "
                 "(their counts started again; raise --max-keys)" if keys.evicted else ""), file=sys.stderr)
    return status


class _Null:
    def write(self, _):
        return 0
