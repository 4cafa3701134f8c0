"""``tollguard train``: fit the anomaly model on events (files or an export), with labels, into an artifact
and its card (models.train does the work; docs/models.md)."""

from __future__ import annotations

import json
import sys

import numpy as np

from models.train import build_matrix, fingerprint, fit, population, thin_data, training_split
from streams.policy import Policy


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
