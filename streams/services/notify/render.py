"""What a notification says. Every value from a record passes through :func:`streams.reference.text.safe`
before it reaches a human (email, chat ``text``, syslog); the JSON ``body`` keeps the raw record."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.domain.campaigns import describe
from streams.reference.text import safe

MAX_LINES = 20  # updates or folded items listed in one message; the rest are counted


@dataclass
class Message:
    kind: str                      # opened | escalated | digest | alert | storm
    severity: str
    title: str                     # one line, escaped
    text: str                      # lines, each escaped
    body: dict                     # the JSON a webhook posts (raw record values: JSON escapes them)
    keys: list = field(default_factory=list)    # dedupe keys it delivers: (incident_id, version) or ("alert", id)
    refs: list = field(default_factory=list)    # ledger refs released when it is delivered or parked
    items: list = field(default_factory=list)   # storm: the folded messages
    incident_id: str | None = None


def rules_of(rec: dict) -> list[str]:
    rules = rec.get("rules")
    if rules is None and rec.get("rule"):
        rules = [rec["rule"]]
    return [str(r) for r in rules] if isinstance(rules, list) else []


def severity_of(rec: dict) -> str:
    sev = rec.get("severity")
    return sev if isinstance(sev, str) else "information"


def headline(rec: dict) -> str:
    rules = ", ".join(safe(r, 60) for r in rules_of(rec)[:8]) or "?"
    return f"{safe(rec.get('tenant', '?'), 40)} {safe(rec.get('subject_type', '?'), 20)} " \
           f"{safe(rec.get('subject', '?'), 80)}: {rules}"


def title(rec: dict, tag: str = "") -> str:
    sev = safe(severity_of(rec), 12).upper()
    return f"[tollguard {sev}{tag}] {headline(rec)}"


def _facts(rec: dict) -> list[str]:
    lines = [f"incident {safe(rec.get('incident_id', '?'), 80)}: status {safe(rec.get('status', '?'), 20)}, "
             f"version {safe(rec.get('version', '?'), 12)}",
             f"opened {safe(rec.get('opened', '?'), 40)}, last seen {safe(rec.get('last_seen', '?'), 40)}"
             + (f", until {safe(rec['until'], 40)}" if rec.get("until") else ""),
             f"events {safe(rec.get('events', '?'), 20)}"
             + (f", cost {safe(rec['cost'], 20)}" if rec.get("cost") is not None else "")]
    if rec.get("summary"):
        lines.append(f"summary: {safe(rec['summary'], 400)}")
    if isinstance(rec.get("campaign"), dict):  # one message for a botnet: its size, not its members one by one
        lines.append(safe(describe(rec["campaign"]), 400))
    for a in (rec.get("actions") or [])[:5]:
        if isinstance(a, dict):
            lines.append(f"action: {safe(a.get('kind', '?'), 30)} {safe(a.get('target', '?'), 80)}"
                         + (f" for {safe(a['duration_s'], 12)} s" if a.get("duration_s") else ""))
    return lines


def opened(rec: dict) -> Message:
    t = title(rec)
    return Message("opened", severity_of(rec), t, "\n".join([t, *_facts(rec)]),
                   {**rec, "notification": "opened"}, keys=[_key(rec)], incident_id=str(rec.get("incident_id")))


def escalated(rec: dict, was: str, earlier: list[dict]) -> Message:
    """An incident's severity rose above what the channel was last told: said at once, not in a digest
    (the updates that waited for the digest go with it)."""
    t = title(rec, " escalated")
    lines = [t, f"severity {safe(was, 12)} -> {safe(severity_of(rec), 12)}", *_facts(rec)]
    if earlier:
        lines.append(f"{len(earlier)} earlier update(s) since the last message:")
        lines += [f"  {change(r)}" for r in earlier[:MAX_LINES]]
    body = {**rec, "notification": "escalated", "previous_severity": was}
    return Message("escalated", severity_of(rec), t, "\n".join(lines), body,
                   keys=[_key(r) for r in [*earlier, rec]], incident_id=str(rec.get("incident_id")))


def change(rec: dict) -> str:
    """One line of a digest: what this version says."""
    line = f"v{safe(rec.get('version', '?'), 12)} {safe(rec.get('status', '?'), 20)}: " \
           f"{safe(rec.get('events', '?'), 12)} events, severity {safe(severity_of(rec), 12)}"
    decisions = rec.get("decisions") or []
    last = decisions[-1] if decisions and isinstance(decisions[-1], dict) else None
    if last and last.get("status") == rec.get("status"):
        line += f", by {safe(last.get('by', '?'), 40)}"
        if last.get("verdict"):
            line += f" ({safe(last['verdict'], 20)})"
        if last.get("note"):
            line += f": {safe(last['note'], 200)}"
    return line


def digest(records: list[dict]) -> Message:
    """The updates of one incident since its last message, newest state first."""
    latest = max(records, key=lambda r: r.get("version") or 0)
    t = title(latest, " update")
    shown = sorted(records, key=lambda r: r.get("version") or 0)
    lines = [t, *_facts(latest), f"{len(records)} update(s) since the last message:"]
    lines += [f"  {change(r)}" for r in shown[:MAX_LINES]]
    if len(shown) > MAX_LINES:
        lines.append(f"  … and {len(shown) - MAX_LINES} more")
    body = {**latest, "notification": "digest",
            "updates": [{k: r.get(k) for k in ("version", "status", "events", "severity", "last_seen", "summary")}
                        for r in shown]}
    return Message("digest", severity_of(latest), t, "\n".join(lines), body,
                   keys=[_key(r) for r in records], incident_id=str(latest.get("incident_id")))


def alert(rec: dict) -> Message:
    t = f"[tollguard {safe(severity_of(rec), 12).upper()} alert] {headline(rec)}"
    lines = [t, f"alert {safe(rec.get('alert_id', '?'), 80)} at {safe(rec.get('ts', '?'), 40)}, "
                f"mode {safe(rec.get('mode', '?'), 12)}"]
    if rec.get("summary"):
        lines.append(f"summary: {safe(rec['summary'], 400)}")
    return Message("alert", severity_of(rec), t, "\n".join(lines), {**rec, "notification": "alert"},
                   keys=[("alert", str(rec.get("alert_id")))])


def storm(channel: str, folded: list[Message]) -> Message:
    """The messages the per-minute cap held back, in one."""
    worst = max((m.severity for m in folded), key=_rank, default="information")
    t = f"[tollguard {worst.upper()}] {len(folded)} notification(s) folded on {safe(channel, 64)} (rate cap)"
    lines = [t] + [f"  {m.title}" for m in folded[:MAX_LINES]]
    if len(folded) > MAX_LINES:
        lines.append(f"  … and {len(folded) - MAX_LINES} more")
    body = {"type": "storm", "notification": "storm", "channel": channel, "folded": len(folded),
            "items": [m.body for m in folded]}
    return Message("storm", worst, t, "\n".join(lines), body,
                   keys=[k for m in folded for k in m.keys], refs=[r for m in folded for r in m.refs],
                   items=list(folded))


def _rank(sev: str) -> int:
    from streams.services.notify.settings import RANK
    return RANK.get(sev, 0)


def _key(rec: dict) -> tuple:
    return (str(rec.get("incident_id")), rec.get("version"))
