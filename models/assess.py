"""How well the anomaly model does on labelled simulator directories (``python -m models.assess``).

``tollguard evaluate`` asks whether each scenario was caught by any rule; this asks what the model
itself adds, on the calls it is shown (``models.train.build_matrix``: the calls no rule holds):

- **calls**: precision and recall of the calls it would alert on (score above the threshold and a
  feature riskier than usual), against the simulator's fraud calls; recall both over the fraud
  calls it is shown and over every fraud call, and how many fraud calls the rules hold instead;
- **alerts**: the anomaly alerts a replay raises; precision is the share on a scenario's subject
  between its start and an hour after its end (as ``tollguard evaluate`` counts a detection), and
  the share that names a feature riskier than both the extension's usual and the population's (the
  model speaks only of risk: it must be 1);
- **slow pumping**: the scenario only the model is meant to catch, caught or not.

    python -m models.assess --model models/default.skops DIR [DIR...] [--format json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

GRACE = timedelta(hours=1)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def names_riskier(alert) -> bool:
    """Does an anomaly alert name a feature above both the extension's usual and the population's?"""
    for w in alert.evidence.get("top_features", []):
        usual = w.get("extension_usual")
        if w["value"] > max(w["population_usual"], float("-inf") if usual is None else usual):
            return True
    return False


def completed_calls(path: Path) -> set[str]:
    """Call ids of the completed outbound calls in an events file (what the model could ever see)."""
    from streams.domain.events import Cdr, decode_event
    out = set()
    for line in path.read_bytes().splitlines():
        if b'"cdr"' in line and b'"outbound"' in line:
            ev = decode_event(line)
            if isinstance(ev, Cdr) and ev.phase == "end" and ev.direction == "outbound":
                out.add(ev.call_id)
    return out


def assess_dir(d: Path, scorer) -> dict:
    from streams.domain.events import Alert
    from streams.policy import Policy
    from streams.shells.replay import replay_file
    from models.train import build_matrix
    labels = json.loads((d / "labels.json").read_text())
    policy = Policy.load(d / "policy.yaml")
    fraud = {c for sc in labels["scenarios"] for c in sc.get("fraud_calls", [])} & completed_calls(d / "events.jsonl")
    m = build_matrix([str(d / "events.jsonl")], policy, scorer.rates)
    scores = -scorer.model.score_samples(m.X) if len(m.X) else np.zeros(0)
    flagged = (scores > scorer.threshold) & m.riskier(scorer.pop)
    shown = {k[2] for k in m.keys}
    hit = {k[2] for k, f in zip(m.keys, flagged) if f}
    out, _, _ = replay_file([str(d / "events.jsonl")], policy, scorer=scorer)
    alerts = [a for a in out if isinstance(a, Alert) and a.rule == "anomaly"]
    windows = [(set(sc["subjects"]), _t(sc["start"]), _t(sc["end"]) + GRACE) for sc in labels["scenarios"]]
    on_fraud = [a for a in alerts if any(f"ext:{a.tenant}/{a.subject}" in s and lo <= a.ts <= hi for s, lo, hi in windows)]
    slow = [w for sc, w in zip(labels["scenarios"], windows) if sc["name"] == "slow_pumping"]
    return {
        "dir": d.name, "fraud_calls": len(fraud), "fraud_shown": len(fraud & shown), "fraud_held": len(fraud - shown),
        "calls_flagged": len(hit), "calls_flagged_fraud": len(hit & fraud),
        "alerts": len(alerts), "alerts_on_fraud": len(on_fraud), "alerts_riskier": sum(map(names_riskier, alerts)),
        "slow_pumping": None if not slow else any(f"ext:{a.tenant}/{a.subject}" in s and lo <= a.ts <= hi
                                                  for s, lo, hi in slow for a in alerts),
    }


def totals(rows: list[dict]) -> dict:
    t = {k: sum(r[k] for r in rows) for k in ("fraud_calls", "fraud_shown", "fraud_held", "calls_flagged",
                                              "calls_flagged_fraud", "alerts", "alerts_on_fraud", "alerts_riskier")}
    div = lambda a, b: round(a / b, 3) if b else None  # noqa: E731
    t.update({
        "call_precision": div(t["calls_flagged_fraud"], t["calls_flagged"]),
        "call_recall_shown": div(t["calls_flagged_fraud"], t["fraud_shown"]),
        "call_recall_all": div(t["calls_flagged_fraud"], t["fraud_calls"]),
        "alert_precision": div(t["alerts_on_fraud"], t["alerts"]),
        "alerts_riskier_share": div(t["alerts_riskier"], t["alerts"]),
        "slow_pumping_caught": f"{sum(bool(r['slow_pumping']) for r in rows)}/{sum(r['slow_pumping'] is not None for r in rows)}",
    })
    return t


def main(argv: list[str] | None = None) -> int:
    from models.loading import default_model
    from models.score import Scorer
    ap = argparse.ArgumentParser(prog="python -m models.assess", description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR", help="simulator directories (events.jsonl, labels.json, policy.yaml)")
    ap.add_argument("--model", help="the artifact (default: the shipped one)")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)
    scorer = Scorer.load(args.model or default_model())
    rows = [assess_dir(Path(d), scorer) for d in args.dirs]
    t = totals(rows)
    if args.format == "json":
        print(json.dumps({"model": scorer.version, "dirs": rows, "total": t}, indent=2))
        return 0
    print(f"{'dir':<12} {'fraud':>5} {'held':>5} {'shown':>5} {'flagged':>7} {'tp':>4} {'alerts':>6} {'on fraud':>8} "
          f"{'riskier':>7}  slow pumping")
    for r in rows:
        print(f"{r['dir']:<12} {r['fraud_calls']:>5} {r['fraud_held']:>5} {r['fraud_shown']:>5} {r['calls_flagged']:>7} "
              f"{r['calls_flagged_fraud']:>4} {r['alerts']:>6} {r['alerts_on_fraud']:>8} {r['alerts_riskier']:>7}  "
              f"{'-' if r['slow_pumping'] is None else 'caught' if r['slow_pumping'] else 'MISSED'}")
    print(f"model {scorer.version}: calls precision {t['call_precision']}, recall {t['call_recall_shown']} of the fraud "
          f"calls it is shown ({t['call_recall_all']} of all; the rules hold {t['fraud_held']}); alerts precision "
          f"{t['alert_precision']}, naming a riskier feature {t['alerts_riskier_share']}; slow pumping caught "
          f"{t['slow_pumping_caught']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
