"""``tollguard train``: fit the anomaly model on events (files or an export), with labels, into an artifact
and its card (models.train does the work; docs/models.md)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from models.train import build_matrix, fingerprint, fit, population, thin_data, training_split
from streams.policy import Policy

HELP = "train the anomaly model on event history"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", required=True, metavar="PATH", help="event files: JSONL, or Parquet (*.parquet)")
    p.add_argument("--out", required=True, metavar="FILE", help="models/<name>.skops (a .card.json is written beside it)")
    p.add_argument("--policy", metavar="FILE", help="policy of the PBXs the data comes from")
    p.add_argument("--labels", metavar="FILE",
                   help="the simulator's labels.json or a `tollguard labels` file: fraud is left out of the fit; "
                        "the SOC's false positives are repeated in it, and how many the new model still flags is reported")
    p.add_argument("--target-rate", type=float, default=None,
                   help="share of benign calls above the threshold (default 0.001, models.train.TARGET_RATE)")
    p.add_argument("--seed", type=int, default=0, help="the same seed and data give the same model (default 0)")


def main(args) -> int:
    from models import artifact
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    m = build_matrix(args.data, policy, progress=True)
    if len(m.X) < 50:
        print(f"train: only {len(m.X)} outbound calls in {', '.join(args.data)}; need at least 50", file=sys.stderr)
        return 2
    from models.labels import LabelError, Labels
    try:
        labels = Labels.load(args.labels)
    except LabelError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    benign, fp, extra = training_split(m, labels)
    for problem in thin_data(m, benign):
        print(f"train: WARNING: {problem}; the model may flag ordinary traffic", file=sys.stderr)
    pop = population(m.X[benign])
    riskier = m.riskier(np.asarray(pop["median"]))
    model, threshold = fit(m.X[benign], args.seed, args.target_rate, extra)
    scores = -model.score_samples(m.X)
    flagged = (scores > threshold) & riskier  # what the anomaly rule would alert on
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
    card = artifact.save(model, args.out, threshold, fingerprint(args.data), metrics, pop)
    print(f"train: {len(m.X)} calls, threshold {threshold:.4f}, metrics {json.dumps(card['metrics'])} -> {args.out}",
          file=sys.stderr)
    return 0
