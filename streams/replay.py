"""``tollguard replay``: the file shell around the detection core (no broker).

Reads JSONL events from files or stdin, runs them through one Detector with in-memory
state, and writes alerts and actions. Malformed lines are reported with file:line and reason
on stderr and counted; the run goes on.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from .adapters import decoded, read_events
from .core import Detector
from .events import Action, Alert, encode
from .policy import Policy


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


def run(lines: Iterable[tuple[str, int, bytes]], detector: Detector, on_output, on_reject,
        stats: ReplayStats | None = None) -> ReplayStats:
    stats = stats or ReplayStats()
    t0 = time.perf_counter()
    process = detector.process
    def emit(records) -> None:
        for rec in records:
            if isinstance(rec, Alert):
                stats.alerts[rec.rule] += 1
            else:
                stats.actions[rec.kind] += 1
            on_output(rec)

    for source, n, raw, event, error in decoded(lines):
        if error is not None:
            stats.rejected += 1
            on_reject(Rejected(source, n, error, raw))
            continue
        stats.events += 1
        if stats.events % MODEL_BATCH == 0:
            emit(detector.flush())
        for rec in process(event):
            if isinstance(rec, Alert):
                stats.alerts[rec.rule] += 1
            else:
                stats.actions[rec.kind] += 1
            on_output(rec)
    emit(detector.flush())
    stats.seconds = time.perf_counter() - t0
    return stats


def replay_file(paths: list[str], policy: Policy | None = None, fmt: str = "jsonl", tz: str = "UTC",
                scorer=None) -> tuple[list[Alert | Action], ReplayStats, list[Rejected]]:
    """Library entry point: everything a replay produced, in order (rules only unless a scorer is given)."""
    out: list = []
    rejects: list[Rejected] = []
    stats = run(read_events(paths, fmt, tz), Detector(policy, scorer=scorer), out.append, rejects.append)
    return out, stats, rejects


MODEL_BATCH = 10_000  # events between anomaly-model scoring calls (one call costs ~the same for 1 or 1,000s of rows)


def load_scorer(args):
    """The anomaly model of --model, else the shipped default (models/default.skops), unless --no-model."""
    if getattr(args, "no_model", False):
        return None
    from pathlib import Path

    from models.score import Scorer
    path = getattr(args, "model", None) or Path(__file__).resolve().parents[1] / "models" / "default.skops"
    if not getattr(args, "model", None) and not Path(path).exists():
        return None
    return Scorer.load(path)


def format_table_row(rec: Alert | Action) -> str:
    when = rec.ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(rec, Alert):
        return f"{when}  ALERT   {rec.severity:<11} {rec.rule:<26} {rec.subject_type}:{rec.subject:<18} {rec.summary}"
    dur = "permanent" if rec.duration_s is None else f"{rec.duration_s}s"
    return f"{when}  ACTION  {rec.kind:<11} {rec.target:<45} {dur:<10} ({rec.alert_id})"


def main(args) -> int:
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    detector = Detector(policy, scorer=load_scorer(args))
    out = sys.stdout.buffer
    if args.format == "jsonl":
        def on_output(rec):
            out.write(encode(rec) + b"\n")
    else:
        def on_output(rec):
            out.write((format_table_row(rec) + "\n").encode())

    def on_reject(r: Rejected):
        print(f"{r.source}:{r.line}: rejected: {r.reason}", file=sys.stderr)

    lines: Iterable = read_events(args.files, args.input, args.tz, args.tenant)
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm
        lines = tqdm(lines, unit=" ev", file=sys.stderr, mininterval=0.5)
    stats = run(lines, detector, on_output, on_reject)
    out.flush()
    if not args.quiet:
        rate = stats.events / stats.seconds if stats.seconds else 0.0
        print(f"replay: {stats.events} events, {stats.rejected} rejected, "
              f"{sum(stats.alerts.values())} alerts, {sum(stats.actions.values())} actions "
              f"in {stats.seconds:.2f} s ({rate:,.0f} events/s)", file=sys.stderr)
        if args.format == "table" and stats.alerts:
            print("alerts by rule: " + ", ".join(f"{k}={v}" for k, v in stats.alerts.most_common()), file=sys.stderr)
    return 0
