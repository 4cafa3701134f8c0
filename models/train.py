"""Training the anomaly model on event history (``tollguard train``).

Features come from ``models.features`` — the same code live scoring uses. The model is an
IsolationForest fitted on benign history (calls labelled as fraud are left out when labels
are given); the alert threshold is the score quantile that flags ``target_rate`` of the
training calls.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streams.intake import decoded, read_events
from streams.events import Cdr
from streams.policy import Policy
from streams.rates import RateTable
from streams.replay import ordered_records
from streams.state import Features

from .features import FEATURES, ExtensionFeatures, call_facts


@dataclass
class Matrix:
    X: np.ndarray
    keys: list[tuple[str, str, str, float]]  # tenant, extension, call id, start


def parquet_records(path: str):
    """Events stored as Parquet (one column per contract field) as contract JSON records."""
    import pandas as pd
    frame = pd.read_parquet(path)
    for i, row in enumerate(frame.to_dict("records"), 1):
        ev = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()
              if v is not None and not (isinstance(v, float) and v != v)}
        yield path, i, json.dumps(ev, default=str).encode(), None


def event_records(paths: list[str]):
    for p in paths:
        if p.endswith(".parquet"):
            yield from parquet_records(p)
        else:
            yield from read_events([p])


def build_matrix(paths: list[str], policy: Policy, rates: RateTable | None = None, progress: bool = False) -> Matrix:
    rates = rates or RateTable.load()
    state: dict[str, Features] = {}
    rows: list[list[float]] = []
    keys = []
    records = decoded(event_records(paths))
    if progress and sys.stderr.isatty():
        from tqdm import tqdm
        records = tqdm(records, unit=" ev", file=sys.stderr, desc="features")
    seen: set[tuple[str, str]] = set()
    # the same canonical event-time order replay and the worker learn in (streams.ordering)
    for (_, _, _, ev, err), _ in ordered_records(records):
        if err is not None or not isinstance(ev, Cdr):
            continue
        tenant = policy.tenant(ev.tenant)
        facts = call_facts(ev, tenant, rates)
        if facts is None or (ev.tenant, ev.call_id) in seen:
            continue
        seen.add((ev.tenant, ev.call_id))
        st = state.get(f"{ev.tenant}/{ev.src}")
        if st is None:
            st = state[f"{ev.tenant}/{ev.src}"] = Features()
        rows.append(ExtensionFeatures.update(st, facts))
        keys.append((ev.tenant, ev.src, ev.call_id, facts.ts))
    X = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return Matrix(X, keys)


def fingerprint(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def thin_data(m: Matrix, benign: np.ndarray) -> list[str]:
    """Why this training set may not say what is usual: too few benign calls, extensions or days, or one
    extension making most of the calls (empty when it looks usable)."""
    problems = []
    exts = {(k[0], k[1]) for k in m.keys}
    starts = [k[3] for k in m.keys]
    days = (max(starts) - min(starts)) / 86400 if starts else 0.0
    if benign.sum() < 2000:
        problems.append(f"only {int(benign.sum())} benign calls (want 2,000 or more)")
    if len(exts) < 20:
        problems.append(f"only {len(exts)} extensions (want 20 or more)")
    if days < 7:
        problems.append(f"only {days:.1f} days of calls (want a week: weekdays and a weekend)")
    if m.keys:
        from collections import Counter
        (_, top), = Counter((k[0], k[1]) for k in m.keys).most_common(1)
        if top / len(m.keys) > 0.5:
            problems.append(f"one extension made {top / len(m.keys):.0%} of the calls")
    return problems


def fit(X: np.ndarray, seed: int = 0, target_rate: float = 0.002, extra: np.ndarray | None = None):
    """An IsolationForest on ``X`` (plus ``extra`` rows, such as the SOC's false positives repeated, in the
    fit only); the threshold flags ``target_rate`` of ``X``."""
    from sklearn.ensemble import IsolationForest
    rows = X if extra is None or not len(extra) else np.vstack([X, extra])
    model = IsolationForest(n_estimators=100, max_samples=min(256, len(rows)), random_state=seed, n_jobs=1)
    model.fit(rows)
    scores = -model.score_samples(X)  # higher = more anomalous
    threshold = float(np.quantile(scores, 1.0 - target_rate))
    return model, threshold


def population(X: np.ndarray) -> dict:
    """What the population usually looks like: median and interquartile range per feature."""
    q1, med, q3 = np.quantile(X, [0.25, 0.5, 0.75], axis=0)
    return {"median": [round(float(v), 6) for v in med], "iqr": [round(float(v), 6) for v in (q3 - q1)]}


def fraud_call_ids(labels_path: str | None) -> set[str]:
    """The calls a simulator labels.json or a SOC label file names as fraud (models.labels)."""
    from .labels import Labels
    return Labels.load(labels_path).fraud_calls


def training_split(m: Matrix, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(benign mask, false-positive mask, the extra rows the fit gets) under ``labels`` (models.labels):
    each call the SOC cleared is repeated ``FALSE_POSITIVE_REPEAT`` times, so the forest learns it as normal."""
    from .labels import FALSE_POSITIVE_REPEAT
    fraud = np.array([labels.is_fraud(k) for k in m.keys], dtype=bool)
    fp = np.array([labels.is_false_positive(k) for k in m.keys], dtype=bool)
    return ~fraud, fp, np.repeat(m.X[fp], FALSE_POSITIVE_REPEAT, axis=0)


def main(args) -> int:
    from . import artifact
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    m = build_matrix(args.data, policy, progress=True)
    if len(m.X) < 50:
        print(f"train: only {len(m.X)} outbound calls in {', '.join(args.data)}; need at least 50", file=sys.stderr)
        return 2
    from .labels import LabelError, Labels
    try:
        labels = Labels.load(args.labels)
    except LabelError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    benign, fp, extra = training_split(m, labels)
    for problem in thin_data(m, benign):
        print(f"train: WARNING: {problem}; the model may flag ordinary traffic", file=sys.stderr)
    model, threshold = fit(m.X[benign], args.seed, args.target_rate, extra)
    scores = -model.score_samples(m.X)
    flagged = scores > threshold
    metrics = {"calls": int(len(m.X)), "benign_calls": int(benign.sum()), "flagged_benign_share":
               round(float(flagged[benign].mean()), 5) if benign.any() else None}
    if labels.false_positive_calls:
        metrics["soc_false_positives"] = {"calls": int(fp.sum()), "still_flagged": int((flagged & fp).sum())}
        print(f"train: the SOC marked {int(fp.sum())} call(s) false positives; the new model still flags "
              f"{int((flagged & fp).sum())} of them", file=sys.stderr)
    if (~benign).any():
        is_fraud = ~benign
        tp = int((flagged & is_fraud).sum())
        metrics.update({"fraud_calls": int(is_fraud.sum()), "precision": round(tp / max(int(flagged.sum()), 1), 4),
                        "recall": round(tp / max(int(is_fraud.sum()), 1), 4)})
    card = artifact.save(model, args.out, threshold, fingerprint(args.data), metrics, population(m.X[benign]))
    print(f"train: {len(m.X)} calls, threshold {threshold:.4f}, metrics {json.dumps(card['metrics'])} -> {args.out}",
          file=sys.stderr)
    return 0
