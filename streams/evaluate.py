"""``tollguard evaluate DIR``: replay a simulated directory and score detections like a fraud manager.

Per scenario (labels.json): was it caught (an alert on one of its subjects between its start
and one hour after its end), how fast (event time from its start to the first such alert),
how many of its fraudulent calls started before the first enforcing action on its subjects,
and what they cost. Overall: detection rate, median time to detect, false alerts per 1,000
benign extension-days (alerts on subjects no scenario touched) and the loss prevented (cost
of the fraudulent calls that started after the block).
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta
from pathlib import Path

from . import keys as K
from .events import Action, Alert, Cdr, decode_event
from .policy import Policy
from .replay import replay_file

GRACE = timedelta(hours=1)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def subject_of(rec: Alert | Action) -> set[str]:
    """The label subjects an alert or action concerns (``ip:…``, ``ext:tenant/…``, ``trunk:tenant/…``)."""
    if isinstance(rec, Alert):
        st, s = rec.subject_type, rec.subject
        if st == "ip":
            return {K.ip(s)}
        if st in ("extension", "account"):
            return {K.ext(rec.tenant, s)}
        if st == "trunk":
            return {K.trunk(rec.tenant, s)}
        return {f"{st}:{s}"}
    if rec.kind == "block_ip":
        return {K.ip(rec.target)}
    if rec.kind in ("disable_outbound",):
        return {K.ext(rec.tenant, rec.target)}
    if rec.kind == "lock_account":
        return {f"ext:{rec.target}"}
    return set()


def score(labels: dict, records: list, calls: dict[str, dict]) -> dict:
    """Pure scoring: labels, the replay's alerts/actions, and the CDRs by call id (start, cost, src)."""
    alerts = [r for r in records if isinstance(r, Alert)]
    actions = [r for r in records if isinstance(r, Action)]
    scenarios = []
    touched: set[str] = set()
    for sc in labels["scenarios"]:
        subjects = set(sc["subjects"])
        fraud = [calls[c] for c in sc.get("fraud_calls", []) if c in calls]
        touched |= subjects | {K.ext(c["tenant"], c["src"]) for c in fraud}
    for sc in labels["scenarios"]:
        subjects = set(sc["subjects"])
        start, end = _t(sc["start"]), _t(sc["end"])
        mine = [a for a in alerts if subject_of(a) & subjects and start <= a.ts <= end + GRACE]
        fraud = [calls[c] for c in sc.get("fraud_calls", []) if c in calls]
        fraud_subjects = subjects | {K.ext(c["tenant"], c["src"]) for c in fraud}
        blocks = [a.ts for a in actions if subject_of(a) & fraud_subjects and start <= a.ts <= end + GRACE]
        hangups = {a.target for a in actions if a.kind == "hangup_call"}
        first_block = min(blocks) if blocks else None
        before = [c for c in fraud if c["call_id"] not in hangups and (first_block is None or c["start"] <= first_block)]
        first = min((a.ts for a in mine), default=None)
        scenarios.append({
            "name": sc["name"],
            "detected": bool(mine),
            "time_to_detect_s": round((first - start).total_seconds(), 3) if first else None,
            "fraud_calls": len(fraud),
            "fraud_calls_before_block": len(before),
            "fraud_cost_before_block": round(sum(c["cost"] for c in before), 2),
            "fraud_cost_total": round(sum(c["cost"] for c in fraud), 2),
            "rules": sorted({a.rule for a in mine}),
            "expected_rules": sc.get("expected_rules", []),
        })
    false_alerts = [a for a in alerts if not subject_of(a) & touched]
    ext_days = labels["extensions"] * labels["days"]
    attacked_exts = {s for s in touched if s.startswith("ext:")}
    benign_ext_days = max(ext_days - len(attacked_exts) * labels["days"], 1)
    ttd = [s["time_to_detect_s"] for s in scenarios if s["time_to_detect_s"] is not None]
    return {
        "scenarios": scenarios,
        "detection_rate": round(sum(s["detected"] for s in scenarios) / len(scenarios), 4) if scenarios else None,
        "median_time_to_detect_s": round(statistics.median(ttd), 3) if ttd else None,
        "false_alerts": len(false_alerts),
        "false_alerts_per_1k_extension_days": round(1000 * len(false_alerts) / benign_ext_days, 3),
        "loss_prevented": round(sum(s["fraud_cost_total"] - s["fraud_cost_before_block"] for s in scenarios), 2),
        "false_alert_rules": sorted({a.rule for a in false_alerts}),
    }


def evaluate(directory: str | Path, policy: Policy | None = None, scorer=None) -> dict:
    d = Path(directory)
    labels = json.loads((d / "labels.json").read_text())
    policy = policy or Policy.load(d / "policy.yaml")
    records, stats, _ = replay_file([str(d / "events.jsonl")], policy, scorer=scorer)
    calls: dict[str, dict] = {}
    for line in (d / "events.jsonl").read_bytes().splitlines():
        if b'"cdr"' not in line:
            continue
        ev = decode_event(line)
        if isinstance(ev, Cdr) and ev.phase == "end":
            calls[ev.call_id] = {"call_id": ev.call_id, "start": ev.start, "cost": ev.cost or 0.0, "src": ev.src,
                                 "tenant": ev.tenant}
    result = score(labels, records, calls)
    result["events"] = stats.events
    return result


def table(r: dict) -> str:
    rows = [f"{'scenario':<22} {'detected':<8} {'ttd s':>8} {'calls<blk':>9} {'cost<blk $':>11} {'total $':>9}  rules"]
    for s in r["scenarios"]:
        ttd = "-" if s["time_to_detect_s"] is None else f"{s['time_to_detect_s']:.1f}"
        rows.append(f"{s['name']:<22} {'yes' if s['detected'] else 'NO':<8} {ttd:>8} "
                    f"{s['fraud_calls_before_block']:>4}/{s['fraud_calls']:<4} {s['fraud_cost_before_block']:>11.2f} "
                    f"{s['fraud_cost_total']:>9.2f}  {', '.join(s['rules'])}")
    rows.append("")
    rows.append(f"detection rate {r['detection_rate']:.0%}   median time to detect {r['median_time_to_detect_s']} s   "
                f"false alerts {r['false_alerts']} ({r['false_alerts_per_1k_extension_days']} per 1k extension-days)   "
                f"loss prevented ${r['loss_prevented']:.2f}")
    return "\n".join(rows)


def main(args) -> int:
    from models.loading import load_scorer
    policy = Policy.load(args.policy) if args.policy else None
    r = evaluate(args.dir, policy, load_scorer(args))
    if args.format == "json":
        print(json.dumps(r, indent=2))
    else:
        print(table(r))
    return 0
