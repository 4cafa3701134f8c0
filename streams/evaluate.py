"""``tollguard evaluate DIR``: replay a simulated directory and score detections like a fraud manager.

Per scenario (labels.json): was it caught (an alert on one of its subjects between its start
and one hour after its end), how fast (event time from its start to the first such alert),
how many of its fraudulent calls started before the first enforcing action on its subjects,
and what they cost (a call hung up while it ran counts what it cost until the hang-up). Overall: detection rate, median time to detect, false alerts per 1,000
benign extension-days (alerts on subjects no scenario touched) and the loss prevented (cost
of the fraudulent calls that started after the block).
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime, timedelta
from pathlib import Path

from . import keys as K
from .events import Action, Alert, Cdr, decode_event
from .policy import Policy
from .replay import replay_file
from .ruleids import RULE_IDS

GRACE = timedelta(hours=1)
WIDE = ("tenant", "country")  # alert subjects that sum over many extensions (spend_limit)


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
    hangups: dict[str, datetime] = {}
    for a in actions:
        if a.kind == "hangup_call" and (a.target not in hangups or a.ts < hangups[a.target]):
            hangups[a.target] = a.ts
    explained: set[str] = set()  # tenant-wide alerts that name numbers a scenario's fraud calls dialled
    for sc in labels["scenarios"]:
        subjects = set(sc["subjects"])
        start, end = _t(sc["start"]), _t(sc["end"])
        fraud = [calls[c] for c in sc.get("fraud_calls", []) if c in calls]
        dialled = {(c["tenant"], c.get("e164")) for c in fraud}
        wide = [a for a in alerts if a.subject_type in WIDE and start <= a.ts <= end + _reach(a)
                and any((a.tenant, n) in dialled for n in _numbers(a))]
        explained.update(a.alert_id for a in wide)
        mine = [a for a in alerts if subject_of(a) & subjects and start <= a.ts <= end + GRACE] + wide
        fraud_subjects = subjects | {K.ext(c["tenant"], c["src"]) for c in fraud}
        blocks = [a.ts for a in actions if subject_of(a) & fraud_subjects and start <= a.ts <= end + GRACE]
        # a number blocked before the fraud calls it (a Wangiri callback) stops them too
        numbers = [a for a in actions if a.kind == "block_number" and start <= a.ts <= end + GRACE]
        if numbers:
            blocks += [a.ts for a in numbers for c in fraud
                       if c["tenant"] == a.tenant and c.get("e164", "").startswith(a.target) and a.ts <= c["start"]]
        first_block = min(blocks) if blocks else None
        before = [c for c in fraud if c["call_id"] not in hangups and (first_block is None or c["start"] <= first_block)]
        # a call cut while it ran still cost what it spent until the hang-up
        cut = sum(_spent_until(c, hangups[c["call_id"]]) for c in fraud if c["call_id"] in hangups)
        first = min((a.ts for a in mine), default=None)
        scenarios.append({
            "name": sc["name"],
            "detected": bool(mine),
            "time_to_detect_s": round((first - start).total_seconds(), 3) if first else None,
            "fraud_calls": len(fraud),
            "fraud_calls_before_block": len(before),
            "fraud_cost_before_block": round(sum(c["cost"] for c in before) + cut, 2),
            "fraud_cost_total": round(sum(c["cost"] for c in fraud), 2),
            "rules": sorted({a.rule for a in mine}),
            "expected_rules": sc.get("expected_rules", []),
        })
    false_alerts = [a for a in alerts if not subject_of(a) & touched and a.alert_id not in explained]
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


def _numbers(a: Alert) -> list[str]:
    """The numbers a tenant-wide alert names: a spend limit's top destinations, a Wangiri burst's callers."""
    ev = a.evidence if isinstance(a.evidence, dict) else {}
    out = [d.get("destination") for d in ev.get("top_destinations", []) if isinstance(d, dict)]
    return [n for n in out + list(ev.get("callers", [])) if isinstance(n, str)]


def _reach(a: Alert) -> timedelta:
    """How long after a scenario a tenant-wide alert may still be its doing: a spend window keeps the
    scenario's money in its sum for the window's length."""
    window = a.evidence.get("window_seconds") if isinstance(a.evidence, dict) else None
    return max(GRACE, timedelta(seconds=float(window))) if isinstance(window, (int, float)) else GRACE


def _spent_until(call: dict, cut: datetime) -> float:
    """What a call had cost when it was hung up (its talk time up to ``cut``, at its average rate)."""
    talk, answer = call.get("billsec"), call.get("answer")
    if not talk or answer is None:
        return 0.0
    return call["cost"] * min(1.0, max(0.0, (cut - answer).total_seconds() / talk))


def evaluate(directory: str | Path, policy: Policy | None = None, scorer=None, without: list[str] | None = None) -> dict:
    """Score a simulated directory. ``without``: rule ids to switch off in a second replay, so each
    scenario also shows what its fraud cost before a block without them (what those rules saved)."""
    d = Path(directory)
    labels = json.loads((d / "labels.json").read_text())
    policy = policy or Policy.load(d / "policy.yaml")
    result = _evaluate(d, labels, policy, scorer)
    if without:
        base = _evaluate(d, labels, policy.with_rules_off(without), scorer)
        for sc, other in zip(result["scenarios"], base["scenarios"]):
            sc["fraud_cost_before_block_without"] = other["fraud_cost_before_block"]
            sc["saved_by"] = round(other["fraud_cost_before_block"] - sc["fraud_cost_before_block"], 2)
            sc["detected_without"] = other["detected"]
        result["without"] = sorted(without)
        result["loss_prevented_without"] = base["loss_prevented"]
        result["loss_prevented_by_rules"] = round(result["loss_prevented"] - base["loss_prevented"], 2)
    return result


def _evaluate(d: Path, labels: dict, policy: Policy, scorer) -> dict:
    records, stats, _ = replay_file([str(d / "events.jsonl")], policy, scorer=scorer)
    calls: dict[str, dict] = {}
    for line in (d / "events.jsonl").read_bytes().splitlines():
        if b'"cdr"' not in line:
            continue
        ev = decode_event(line)
        if isinstance(ev, Cdr) and ev.phase == "end":
            talk = ev.billsec or 0.0
            answer = ev.answer or (ev.start + timedelta(seconds=(ev.duration or talk) - talk))
            calls[ev.call_id] = {"call_id": ev.call_id, "start": ev.start, "cost": ev.cost or 0.0, "src": ev.src,
                                 "tenant": ev.tenant, "billsec": talk, "answer": answer,
                                 "e164": policy.tenant(ev.tenant).numbers.classify(ev.dst).e164 or ev.dst}
    result = score(labels, records, calls)
    result["events"] = stats.events
    return result


def table(r: dict) -> str:
    rows = [f"{'scenario':<23} {'detected':<8} {'ttd s':>8} {'calls<blk':>9} {'cost<blk $':>11} {'total $':>9}  rules"]
    for s in r["scenarios"]:
        ttd = "-" if s["time_to_detect_s"] is None else f"{s['time_to_detect_s']:.1f}"
        rows.append(f"{s['name']:<23} {'yes' if s['detected'] else 'NO':<8} {ttd:>8} "
                    f"{s['fraud_calls_before_block']:>4}/{s['fraud_calls']:<4} {s['fraud_cost_before_block']:>11.2f} "
                    f"{s['fraud_cost_total']:>9.2f}  {', '.join(s['rules'])}")
    if "without" in r:
        rows.append("")
        rows.append(f"the same without {', '.join(r['without'])}:")
        rows.append(f"{'scenario':<23} {'detected':<8} {'cost<blk $':>11} {'saved $':>9}")
        for s in r["scenarios"]:
            rows.append(f"{s['name']:<23} {'yes' if s['detected_without'] else 'NO':<8} "
                        f"{s['fraud_cost_before_block_without']:>11.2f} {s['saved_by']:>9.2f}")
    rows.append("")
    rows.append(f"detection rate {r['detection_rate']:.0%}   median time to detect {r['median_time_to_detect_s']} s   "
                f"false alerts {r['false_alerts']} ({r['false_alerts_per_1k_extension_days']} per 1k extension-days)   "
                f"loss prevented ${r['loss_prevented']:.2f}"
                + (f" (${r['loss_prevented_by_rules']:.2f} of it by {', '.join(r['without'])})" if "without" in r else ""))
    return "\n".join(rows)


def main(args) -> int:
    from models.loading import load_scorer
    policy = Policy.load(args.policy) if args.policy else None
    without = [x.strip() for x in (args.without or "").split(",") if x.strip()]
    unknown = sorted(set(without) - set(RULE_IDS))
    if unknown:
        print(f"evaluate: --without names unknown rule ids: {', '.join(unknown)} (see docs/rules.md)", file=sys.stderr)
        return 2
    r = evaluate(args.dir, policy, load_scorer(args), without)
    if args.format == "json":
        print(json.dumps(r, indent=2))
    else:
        print(table(r))
    return 0
