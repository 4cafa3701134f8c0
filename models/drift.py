"""Drift: live scoring against the model card (``tollguard model drift``).

The worker exports, over the latest calls it scored, each feature's median, the score quantiles and
the share above the threshold (``tollguard_model_*`` on ``/metrics``). The card holds the training
population's median and interquartile range per feature. A feature whose live median moved more
than ``--iqr`` interquartile ranges from the card's is flagged. A feature whose training IQR was 0
(most calls alike: no premium calls at all, say) is measured against a floor for its unit instead
(5 points of a share, 1 call, 30 s, 0.50 an hour), so one odd call does not flag it.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from models.explain import WORDS, amount
from models.features import FEATURES

FLOORS = {"share": 0.05, "count": 1.0, "seconds": 30.0, "money": 0.5}


def compare(card: dict, live_median: list[float], iqrs: float = 1.0) -> list[dict]:
    """Per feature: the card's median, the live one, how far apart in IQRs, and whether that is drift."""
    pop = card.get("population") or {}
    med, iqr = pop.get("median") or [0.0] * len(FEATURES), pop.get("iqr") or [0.0] * len(FEATURES)
    out = []
    for name, m, q, live in zip(FEATURES, med, iqr, live_median):
        scale = max(float(q), FLOORS[WORDS.get(name, (name, "count"))[1]])
        moved = abs(float(live) - float(m)) / scale
        out.append({"feature": name, "card_median": m, "live_median": live, "card_iqr": q,
                    "iqrs_moved": round(moved, 2), "drift": moved > iqrs})
    return out


def parse_metrics(text: str) -> dict:
    """The model figures a worker's /metrics holds."""
    live: dict = {"median": {}, "quantiles": {}, "version": None, "above": None, "scored": None}
    for line in text.splitlines():
        if not line.startswith("tollguard_model_") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        base, _, labels = name.partition("{")
        label = labels.split('"')[1] if '"' in labels else None
        try:
            v = float(value)
        except ValueError:
            continue
        if base == "tollguard_model_feature_median" and label:
            live["median"][label] = v
        elif base == "tollguard_model_score_quantile" and label:
            live["quantiles"][label] = v
        elif base == "tollguard_model_info" and label and v == 1:
            live["version"] = label
        elif base == "tollguard_model_above_threshold_share":
            live["above"] = v
        elif base == "tollguard_model_scored_calls":
            live["scored"] = v
    return live


def main(args) -> int:
    from models.artifact import card_path
    from models.loading import default_model
    path = args.model or str(default_model())
    card = json.loads(card_path(path).read_text())
    try:
        with urllib.request.urlopen(args.metrics, timeout=10) as r:
            live = parse_metrics(r.read(4_000_000).decode("utf-8", "replace"))
    except OSError as exc:
        print(f"model drift: cannot read {args.metrics}: {exc}", file=sys.stderr)
        return 2
    if not live["median"]:
        print(f"model drift: {args.metrics} has no live model figures yet (no call scored, or --no-model)",
              file=sys.stderr)
        return 2
    version = str(card.get("artifact_sha256", ""))[:12]
    if live["version"] and live["version"] != version:
        print(f"model drift: the worker scores with {live['version']}, the card given is {version}; "
              "comparing with the card given", file=sys.stderr)
    rows = compare(card, [live["median"].get(f, 0.0) for f in FEATURES], args.iqr)
    target = (card.get("metrics") or {}).get("flagged_benign_share")
    if args.format == "json":
        print(json.dumps({"model": version, "worker_model": live["version"], "calls": live["scored"],
                          "above_threshold": live["above"], "trained_above_threshold": target, "features": rows}))
    else:
        print(f"model {version}; live: the worker's latest {int(live['scored'] or 0):,} calls scored "
              f"(version {live['version']}); above the threshold {100 * (live['above'] or 0):.2f}% "
              f"(in training {100 * (target or 0):.2f}%)")
        for r in rows:
            mark = "DRIFT" if r["drift"] else "ok   "
            print(f"{mark} {r['feature']:<24} card {amount(r['feature'], r['card_median']):>10}  live "
                  f"{amount(r['feature'], r['live_median']):>10}  moved {r['iqrs_moved']:>6.2f} IQR")
    return 1 if any(r["drift"] for r in rows) else 0
