"""``tollguard evaluate DIR``: replay a simulated directory and score detections like a fraud manager.

Each alert is credited to the scenarios that did what it names (docs/evaluate.md, "Which scenario an
alert belongs to"): within a scenario's window (its start to one hour after its end, or the alert's own
window when longer), an alert is that scenario's when its evidence names one of the scenario's calls or
source addresses; failing that, when its subject is one of the scenario's subjects or source addresses,
or an account it attacked (for an alert that is not about a call); and a tenant- or country-wide alert
also when its evidence names a number the scenario dialled or called from. An alert no scenario claims
is a false alert, printed with the reason.

Per scenario (labels.json): was it caught, how fast (event time from its start to the first alert it is
credited with), which of the rules its kind is meant to trigger did not fire, how many of its fraudulent
calls started before the first enforcing action on its subjects, and what they cost (a call hung up
while it ran counts what it cost until the hang-up). Per rule: precision (its alerts that a scenario
claims) and recall (the scenarios meant to trigger it that it caught). Overall: detection rate, median
time to detect, precision and recall, false alerts per 1,000 benign extension-days and the loss
prevented (cost of the fraudulent calls that started after the block).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from streams.commands.common import policy_args
from streams.core import keys as K
from streams.core.epochs import z
from streams.domain.events import Action, Alert, Cdr, decode_event
from streams.domain.ruleids import RULE_IDS
from streams.policy import Policy
from streams.reference.text import safe
from streams.shells.replay import replay_file

HELP = "replay a simulated directory and score detections against its labels"

GRACE = timedelta(hours=1)
WIDE = ("tenant", "country")  # alert subjects that sum over many extensions (spend_limit, wangiri_inbound)
LABELS_VERSION = 2  # 2: each scenario also lists its tenant, sources, accounts, calls and numbers
LISTS = ("subjects", "expected_rules", "fraud_calls", "sources", "accounts", "calls", "numbers")
EVIDENCE_STRINGS = 20_000  # an alert's evidence is read this far for names, no further
SHOWN_FALSE = 50  # false alerts printed in the table (--format json lists them all)


class LabelsError(ValueError):
    """labels.json is not one this evaluator can score against."""


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_labels(labels, where: str = "labels.json") -> dict:
    """``labels`` if it is a labels document this version reads, else :class:`LabelsError` naming the field."""
    if not isinstance(labels, dict) or not isinstance(labels.get("scenarios"), list):
        raise LabelsError(f"{where}: expected an object with a `scenarios` list")
    version = labels.get("labels_version", 1)
    if version not in (1, LABELS_VERSION):
        raise LabelsError(f"{where}: labels_version {version!r} is not one this tollguard reads "
                          f"(1 or {LABELS_VERSION}); evaluate with the tollguard that simulated it")
    for key in ("days", "extensions"):
        if not isinstance(labels.get(key), int) or isinstance(labels.get(key), bool) or labels[key] < 0:
            raise LabelsError(f"{where}: `{key}` must be a whole number")
    for i, sc in enumerate(labels["scenarios"]):
        _check_scenario(sc, f"{where}: scenario {i}")
    return labels


def _check_scenario(sc, where: str) -> None:
    if not isinstance(sc, dict) or not isinstance(sc.get("name"), str):
        raise LabelsError(f"{where}: expected an object with a `name`")
    where = f"{where} ({safe(sc['name'], 40)})"
    for key in ("start", "end"):
        try:
            _t(sc[key])
        except (KeyError, TypeError, ValueError):
            raise LabelsError(f"{where}: `{key}` must be an RFC 3339 time") from None
    for key in LISTS:
        value = sc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise LabelsError(f"{where}: `{key}` must be a list of strings")
    if not isinstance(sc.get("tenant", ""), str):
        raise LabelsError(f"{where}: `tenant` must be a string")


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


@dataclass
class Acts:
    """What one scenario did, as its labels say: the things an alert may name to be its."""
    name: str
    start: datetime
    end: datetime
    subjects: set[str]
    tenant: str | None = None
    sources: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)   # ext:tenant/account keys it attacked or called from
    calls: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)    # E.164

    @classmethod
    def of(cls, sc: dict, calls: dict[str, dict]) -> "Acts":
        """From a scenario's labels; version 1 labels (no acts listed) give what their subjects and
        fraud calls say: ``ip:`` subjects are sources, ``ext:`` subjects and the fraud calls' callers
        accounts, the fraud calls' numbers its numbers."""
        subjects = set(sc["subjects"])
        fraud = [calls[c] for c in sc.get("fraud_calls", []) if c in calls]
        tenant = sc.get("tenant") or None
        acts = cls(sc["name"], _t(sc["start"]), _t(sc["end"]), subjects, tenant)
        acts.sources = {_ip(s.split(":", 1)[1]) for s in subjects if s.startswith("ip:")} | {
            _ip(s) for s in sc.get("sources", [])}
        acts.accounts = {s for s in subjects if s.startswith("ext:")} | {K.ext(c["tenant"], c["src"]) for c in fraud}
        if tenant:
            acts.accounts |= {K.ext(tenant, a) for a in sc.get("accounts", [])}
        acts.calls = set(sc.get("fraud_calls", [])) | set(sc.get("calls", []))
        # a scenario lasts until its last call ends, not until its last call starts (its labels' end): a
        # spend window still sums the money of a pump whose calls ran on (seed 60606's fast_pumping started
        # its calls within 3 s and talked for 10 min; spend_limit alerted on the sum an hour after the start)
        ends = [c["end"] for c in (calls.get(i) for i in acts.calls) if c and c.get("end")]
        acts.end = max([acts.end, *ends])
        acts.numbers = {n for n in sc.get("numbers", [])} | {c["e164"] for c in fraud if c.get("e164")}
        return acts

    def window(self, a: Alert) -> tuple[datetime, datetime]:
        return self.start, self.end + _reach(a)


@dataclass
class Named:
    """What an alert's evidence names: strings anywhere in it, read as addresses, calls and numbers."""
    ips: set[str]
    calls: set[str]       # call ids of the simulated day (any CDR) or of a scenario
    numbers: set[str]     # E.164

    @classmethod
    def of(cls, a: Alert, known_calls) -> "Named":
        strings = _strings(a.evidence)
        return cls({ip for s in strings if (ip := _ip_or_none(s))}, {s for s in strings if s in known_calls},
                   {n for s in strings if (n := _e164_or_none(s))})


def _strings(evidence) -> list[str]:
    """Every string in the evidence (values and keys, at any depth), at most ``EVIDENCE_STRINGS``."""
    out: list[str] = []
    stack = [evidence]
    while stack and len(out) < EVIDENCE_STRINGS:
        x = stack.pop()
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return out


def _ip_or_none(s: str) -> str | None:
    if len(s) > 45 or not s or not (s[0].isdigit() or ":" in s):
        return None
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return None


def _ip(s: str) -> str:
    return _ip_or_none(s) or s


def _e164_or_none(s: str) -> str | None:
    digits = s[1:] if s.startswith("+") else s[2:] if s.startswith("00") else None
    return f"+{digits}" if digits and digits.isdigit() and 6 <= len(digits) <= 15 else None


def claims(a: Alert, acts: list[Acts], calls: dict[str, dict]) -> tuple[list[int], str | None]:
    """The scenarios (indexes) an alert belongs to, and if none, why (docs/evaluate.md)."""
    named = Named.of(a, calls)
    inside = [i for i, sc in enumerate(acts) if sc.window(a)[0] <= a.ts <= sc.window(a)[1]]
    by_acts = {i for i, sc in enumerate(acts) if named.calls & sc.calls or named.ips & sc.sources}
    owners = [i for i in inside if i in by_acts]
    if not by_acts:  # the evidence names nobody's act: the subject decides
        trunk = _trunk_owners(a, acts, calls)
        owners = [i for i in inside if _by_subject(a, acts[i], named) or i in trunk]
    if a.subject_type in WIDE or a.subject_type == "number":
        owners += [i for i in inside if i not in owners and _by_number(a, acts[i], named)]
    return sorted(owners), None if owners else _why_false(a, acts, named, by_acts)


def _by_subject(a: Alert, sc: Acts, named: Named) -> bool:
    subject = subject_of(a)
    if subject & sc.subjects or (a.subject_type == "ip" and _ip(a.subject) in sc.sources):
        return True
    # an account it only attacked (guessed, scanned) still places its owner's calls
    return a.subject_type in ("extension", "account") and bool(subject & sc.accounts) and not named.calls


def _trunk_owners(a: Alert, acts: list[Acts], calls: dict[str, dict]) -> set[int]:
    """A trunk alert counts the calls up on the trunk at its instant. It is the doing of the scenario
    with the most of them, when the trunk would have been within its limit without the scenarios' calls
    (their staff's calls alone did not fill it); a scenario with one call up among thirty is not."""
    if a.subject_type != "trunk":
        return set()
    up = [c for c in calls.values() if c and c.get("trunk") == a.subject and c["tenant"] == a.tenant
          and c.get("end") and c["start"] <= a.ts <= c["end"]]
    mine = [sum(1 for c in up if c["call_id"] in sc.calls) for sc in acts]
    limit = a.evidence.get("limit") if isinstance(a.evidence, dict) else None
    benign = len(up) - sum(1 for c in up if any(c["call_id"] in sc.calls for sc in acts))
    if not max(mine, default=0) or (isinstance(limit, int) and benign > limit):
        return set()
    return {i for i, n in enumerate(mine) if n == max(mine)}


def _by_number(a: Alert, sc: Acts, named: Named) -> bool:
    return (sc.tenant is None or sc.tenant == a.tenant) and bool(named.numbers & sc.numbers)


def _why_false(a: Alert, acts: list[Acts], named: Named, by_acts: set[int]) -> str:
    def late(sc: Acts) -> str:
        lo, hi = sc.window(a)
        return f"{sc.name}'s window ({z(lo)} to {z(hi)})"
    if by_acts:
        sc = acts[min(by_acts)]
        what = sorted(named.calls & sc.calls) or sorted(named.ips & sc.sources)
        return f"it names {', '.join(what[:3])} of {sc.name}, but at {z(a.ts)} it is outside {late(sc)}"
    subject = f"{a.subject_type} {a.subject}"
    foreign = sorted(named.calls)
    judged = f"; it names call {', '.join(foreign[:3])}, which no scenario placed" if foreign else ""
    for sc in acts:
        if _by_subject(a, sc, named):
            return f"its subject {subject} was {sc.name}'s, but at {z(a.ts)} it is outside {late(sc)}{judged}"
    for sc in acts:
        if subject_of(a) & sc.accounts and foreign:
            return (f"{subject} was attacked by {sc.name}, but the alert is about call {', '.join(foreign[:3])}, "
                    "which no scenario placed")
    why = f"{subject} is no scenario's subject, source address or attacked account"
    why += ", and its evidence names no scenario's call, source address or number"
    return why + (f" (it names call {', '.join(foreign[:3])}, which no scenario placed)" if foreign else "")



def score(labels: dict, records: list, calls: dict[str, dict]) -> dict:
    """Pure scoring: labels, the replay's alerts/actions, and the CDRs by call id (start, cost, src)."""
    check_labels(labels)
    alerts = [r for r in records if isinstance(r, Alert)]
    actions = [r for r in records if isinstance(r, Action)]
    acts = [Acts.of(sc, calls) for sc in labels["scenarios"]]
    known = dict.fromkeys(set().union(*(sc.calls for sc in acts)), {}) | calls  # every call id, for Named
    credited: list[list[Alert]] = [[] for _ in acts]
    false_alerts: list[dict] = []
    for a in alerts:
        owners, why = claims(a, acts, known)
        for i in owners:
            credited[i].append(a)
        if why:
            false_alerts.append({"alert_id": a.alert_id, "ts": z(a.ts), "tenant": a.tenant, "rule": a.rule,
                                 "subject_type": a.subject_type, "subject": a.subject, "reason": why})
    hangups: dict[str, datetime] = {}
    for a in actions:
        if a.kind == "hangup_call" and (a.target not in hangups or a.ts < hangups[a.target]):
            hangups[a.target] = a.ts
    scenarios = [_scenario(sc, labels["scenarios"][i], credited[i], actions, calls, hangups)
                 for i, sc in enumerate(acts)]
    # every extension-day: an alert on an attacked extension outside its scenario's window is false too
    ext_days = max(labels["extensions"] * labels["days"], 1)
    ttd = [s["time_to_detect_s"] for s in scenarios if s["time_to_detect_s"] is not None]
    rules = per_rule(alerts, false_alerts, scenarios)
    expected = sum(r["expected"] for r in rules.values())
    return {
        "scenarios": scenarios,
        "detection_rate": round(sum(s["detected"] for s in scenarios) / len(scenarios), 4) if scenarios else None,
        "median_time_to_detect_s": round(statistics.median(ttd), 3) if ttd else None,
        "precision": round(1 - len(false_alerts) / len(alerts), 4) if alerts else None,
        "recall": round(sum(r["caught"] for r in rules.values()) / expected, 4) if expected else None,
        "false_alerts": len(false_alerts),
        "false_alerts_per_1k_extension_days": round(1000 * len(false_alerts) / ext_days, 3),
        "loss_prevented": round(sum(s["fraud_cost_total"] - s["fraud_cost_before_block"] for s in scenarios), 2),
        "false_alert_rules": sorted({f["rule"] for f in false_alerts}),
        "false_alert_list": false_alerts,
        "rules": rules,
    }


def _scenario(sc: Acts, label: dict, mine: list[Alert], actions: list[Action], calls: dict[str, dict],
              hangups: dict[str, datetime]) -> dict:
    """One scenario's row: detection, time to detect, and the fraud calls and cost before a block."""
    start, end = sc.start, sc.end
    fraud = [calls[c] for c in label.get("fraud_calls", []) if c in calls]
    fraud_subjects = sc.subjects | {K.ext(c["tenant"], c["src"]) for c in fraud}
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
    rules = sorted({a.rule for a in mine})
    expected = label.get("expected_rules", [])
    return {
        "name": sc.name,
        "detected": bool(mine),
        "time_to_detect_s": round((first - start).total_seconds(), 3) if first else None,
        "fraud_calls": len(fraud),
        "fraud_calls_before_block": len(before),
        "fraud_cost_before_block": round(sum(c["cost"] for c in before) + cut, 2),
        "fraud_cost_total": round(sum(c["cost"] for c in fraud), 2),
        "rules": rules,
        "expected_rules": expected,
        "missed_rules": [r for r in expected if r not in rules],
    }


def per_rule(alerts: list[Alert], false_alerts: list[dict], scenarios: list[dict]) -> dict[str, dict]:
    """Per rule that alerted or that a scenario is meant to trigger: precision (its alerts a scenario
    claims) and recall (the scenarios whose kind is meant to trigger it that it caught)."""
    names = sorted({a.rule for a in alerts} | {r for s in scenarios for r in s["expected_rules"]})
    out: dict[str, dict] = {}
    for rule in names:
        n = sum(1 for a in alerts if a.rule == rule)
        wrong = sum(1 for f in false_alerts if f["rule"] == rule)
        meant = [s for s in scenarios if rule in s["expected_rules"]]
        missed = [s["name"] for s in meant if rule not in s["rules"]]
        out[rule] = {"alerts": n, "true_alerts": n - wrong, "false_alerts": wrong,
                     "precision": round((n - wrong) / n, 4) if n else None,
                     "expected": len(meant), "caught": len(meant) - len(missed),
                     "recall": round((len(meant) - len(missed)) / len(meant), 4) if meant else None,
                     "missed": missed}
    return out


def _reach(a: Alert) -> timedelta:
    """How long after a scenario an alert may still be its doing: an hour, or the alert's own window when
    longer (a 24 h spend window keeps the scenario's money in its sum for 24 h). At most 31 days."""
    window = a.evidence.get("window_seconds") if isinstance(a.evidence, dict) else None
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 <= window <= 31 * 86400:
        return GRACE
    return max(GRACE, timedelta(seconds=float(window)))


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
    labels = load_labels(d / "labels.json")
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


def load_labels(path: Path) -> dict:
    """labels.json, checked (:class:`LabelsError` with the line of a JSON error or the field at fault)."""
    try:
        return check_labels(json.loads(path.read_text(encoding="utf-8")), str(path))
    except json.JSONDecodeError as e:
        raise LabelsError(f"{path}:{e.lineno}: not JSON ({e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LabelsError(f"{path}: cannot be read ({e})") from None


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
            end = ev.end or ev.start + timedelta(seconds=ev.duration or talk)
            calls[ev.call_id] = {"call_id": ev.call_id, "start": ev.start, "end": end, "cost": ev.cost or 0.0,
                                 "src": ev.src, "tenant": ev.tenant, "trunk": ev.trunk, "billsec": talk,
                                 "answer": answer,
                                 "e164": policy.tenant(ev.tenant).numbers.classify(ev.dst).e164 or ev.dst}
    result = score(labels, records, calls)
    result["events"] = stats.events
    return result


def table(r: dict) -> str:
    rows = [f"{'scenario':<23} {'detected':<8} {'ttd s':>8} {'calls<blk':>9} {'cost<blk $':>11} {'total $':>9}  rules"]
    for s in r["scenarios"]:
        ttd = "-" if s["time_to_detect_s"] is None else f"{s['time_to_detect_s']:.1f}"
        rows.append(f"{safe(s['name'], 40):<23} {'yes' if s['detected'] else 'NO':<8} {ttd:>8} "
                    f"{s['fraud_calls_before_block']:>4}/{s['fraud_calls']:<4} {s['fraud_cost_before_block']:>11.2f} "
                    f"{s['fraud_cost_total']:>9.2f}  {', '.join(s['rules'])}")
    if "without" in r:
        rows.append("")
        rows.append(f"the same without {', '.join(r['without'])}:")
        rows.append(f"{'scenario':<23} {'detected':<8} {'cost<blk $':>11} {'saved $':>9}")
        for s in r["scenarios"]:
            rows.append(f"{safe(s['name'], 40):<23} {'yes' if s['detected_without'] else 'NO':<8} "
                        f"{s['fraud_cost_before_block_without']:>11.2f} {s['saved_by']:>9.2f}")
    rows += ["", *rule_table(r["rules"])]
    if r["false_alert_list"]:
        rows += ["", *false_rows(r["false_alert_list"])]
    rows.append("")
    rows.append(f"detection rate {_pct(r['detection_rate'])}   "
                f"median time to detect {r['median_time_to_detect_s']} s   "
                f"precision {_pct(r['precision'])}   recall {_pct(r['recall'])}   "
                f"false alerts {r['false_alerts']} ({r['false_alerts_per_1k_extension_days']} per 1k extension-days)   "
                f"loss prevented ${r['loss_prevented']:.2f}"
                + (f" (${r['loss_prevented_by_rules']:.2f} of it by {', '.join(r['without'])})" if "without" in r else ""))
    return "\n".join(rows)


def rule_table(rules: dict[str, dict]) -> list[str]:
    """Per rule: alerts, false ones, precision; scenarios meant to trigger it, caught, recall, missed."""
    rows = [f"{'rule':<26} {'alerts':>6} {'false':>6} {'precision':>9} {'meant':>6} {'caught':>6} {'recall':>7}"
            "  missed"]
    for name, x in rules.items():
        rows.append(f"{safe(name, 40):<26} {x['alerts']:>6} {x['false_alerts']:>6} {_pct(x['precision']):>9} "
                    f"{x['expected']:>6} {x['caught']:>6} {_pct(x['recall']):>7}  {', '.join(x['missed'])}")
    return rows


def false_rows(false_alerts: list[dict]) -> list[str]:
    """The false alerts, each with why no scenario claims it (the first ``SHOWN_FALSE``)."""
    rows = [f"false alerts ({len(false_alerts)}): no scenario claims them"]
    for f in false_alerts[:SHOWN_FALSE]:
        rows.append(f"  {f['ts']}  {safe(f['rule'], 40)}  {safe(f['subject_type'], 20)} {safe(f['subject'], 60)}"
                    f" ({safe(f['tenant'], 40)}): {safe(f['reason'], 400)}")
    if len(false_alerts) > SHOWN_FALSE:
        rows.append(f"  ... and {len(false_alerts) - SHOWN_FALSE} more (--format json lists them all)")
    return rows


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}" if x in (0, 1) else f"{x:.1%}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="a `tollguard simulate --out` folder (events.jsonl, labels.json, policy.yaml)")
    policy_args(p)
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table (default) or json (every figure, for scripts)")
    p.add_argument("--without", metavar="RULE[,RULE]",
                   help="replay again with these rules off and show what each scenario's fraud cost without them")


def main(args) -> int:
    from models.loading import load_scorer
    policy = Policy.load(args.policy) if args.policy else None
    without = [x.strip() for x in (args.without or "").split(",") if x.strip()]
    unknown = sorted(set(without) - set(RULE_IDS))
    if unknown:
        print(f"evaluate: --without names unknown rule ids: {', '.join(unknown)} (see docs/rules.md)", file=sys.stderr)
        return 2
    scorer = load_scorer(args)
    from streams.shells.gcpolicy import settle_after_startup
    settle_after_startup()  # a batch judge like replay (streams.shells.gcpolicy)
    try:
        r = evaluate(args.dir, policy, scorer, without)
    except LabelsError as e:
        print(f"evaluate: {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(r, indent=2))
    else:
        print(table(r))
    return 0
