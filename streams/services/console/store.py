"""The incidents as they stand (each one's newest version), from ``<prefix>.incidents``: bounded,
filtered per user (a tenant-bound user never gets another tenant's incident), with a change sequence
the page's live updates follow."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, defaultdict, deque

from streams.domain.ruleids import SEVERITIES, SEVERITY_RANK

__all__ = ["SEVERITIES", "STATUSES", "SORTS", "IncidentStore", "shown_status", "sort_key"]

CLOSED = ("closed", "resolved")
STATUSES = ("open", "acknowledged", "resolved", "quiet")  # what the SOC reads (shown_status), the filter's choices
SORTS = {"severity": "most severe first, then money at risk, then latest", "newest": "latest first",
         "cost": "money at risk first"}


def shown_status(rec: dict) -> str:
    """The status as the SOC reads it, saying who or what decided: ``open`` (detections, nobody decided yet),
    ``acknowledged``, ``resolved (fraud)`` / ``resolved (not fraud)``, and ``quiet`` for an incident with
    no new detection that nobody has decided (the topic's ``closed``: it does not mean handled)."""
    status = rec.get("status")
    if status == "resolved":
        verdict = rec.get("verdict") or next((d.get("verdict") for d in reversed(rec.get("decisions") or [])
                                              if isinstance(d, dict) and d.get("verdict")), None)
        return {"true_positive": "resolved (fraud)", "false_positive": "resolved (not fraud)"}.get(verdict, "resolved")
    if status == "acknowledged":
        return "acknowledged"
    return "quiet" if status == "closed" else "open"


def sort_key(rec: dict, sort: str = "severity") -> tuple:
    """Ascending key: ``severity`` (the default), ``newest`` or ``cost``; ties fall back on the others."""
    sev = -SEVERITY_RANK.get(str(rec.get("severity")), -1)
    cost = -float(rec["cost"]) if isinstance(rec.get("cost"), (int, float)) else 0.0
    latest = _negated(str(rec.get("last_seen") or ""))
    if sort == "newest":
        return (latest, sev, cost)
    if sort == "cost":
        return (cost, sev, latest)
    return (sev, cost, latest)


def _negated(text: str) -> tuple:
    """A string that sorts backwards (the latest ISO time first)."""
    return tuple(-ord(c) for c in text)


class IncidentStore:
    def __init__(self, max_incidents: int = 100_000, max_changes: int = 10_000, max_alerts: int = 200_000):
        self.max_incidents = max_incidents
        self.max_alerts = max_alerts
        self._by_id: dict[str, dict] = {}
        self._alerts: OrderedDict[str, dict] = OrderedDict()  # alert id -> the alert (its evidence), newest last
        self._changes: deque[tuple[int, str]] = deque(maxlen=max_changes)
        self.seq = 0
        self.dropped = 0
        self.unreadable = 0
        self._lock = threading.Lock()  # the feed thread writes, the page's tasks read

    def apply(self, rec) -> bool:
        """One topic record; True when it is an incident's newer version."""
        if not isinstance(rec, dict) or rec.get("type") != "incident" or not isinstance(rec.get("incident_id"), str):
            self.unreadable += 1
            return False
        with self._lock:
            old = self._by_id.get(rec["incident_id"])
            if old is not None and rec.get("version", 0) < old.get("version", 0):
                return False
            self._by_id[rec["incident_id"]] = rec
            self.seq += 1
            self._changes.append((self.seq, rec["incident_id"]))
            if len(self._by_id) > self.max_incidents:
                self._forget()
        return True

    def apply_alert(self, rec) -> bool:
        """One record of ``<prefix>.alerts`` (kept for the incidents' evidence, the most recent ``max_alerts``)."""
        if not isinstance(rec, dict) or rec.get("type") != "alert" or not isinstance(rec.get("alert_id"), str):
            self.unreadable += 1
            return False
        with self._lock:
            self._alerts[rec["alert_id"]] = rec
            if len(self._alerts) > self.max_alerts:
                self._alerts.popitem(last=False)
        return False  # an alert alone changes no list row (its incident's update does)

    def alerts_of(self, incident: dict) -> list[dict]:
        ids = incident.get("alert_ids") or []
        return [self._alerts[i] for i in ids if i in self._alerts]

    def stats(self, user, tenant: str | None = None, hours: int = 48, tz: str = "UTC") -> dict:
        """What the charts show: alerts by rule per hour (the last ``hours`` with any), money at risk per
        day (the incidents' cost by the day they opened), top destinations and source addresses."""
        with self._lock:
            alerts = [a for a in self._alerts.values() if user.sees(a.get("tenant")) and (not tenant or a.get("tenant") == tenant)]
            incidents = [r for r in self._by_id.values() if user.sees(r.get("tenant")) and (not tenant or r.get("tenant") == tenant)]
        by_hour: dict[str, Counter] = defaultdict(Counter)
        dests, sources = Counter(), Counter()
        for a in alerts:
            by_hour[_local(a.get("ts"), tz)[:13]][str(a.get("rule"))] += 1
            ev = a.get("evidence") if isinstance(a.get("evidence"), dict) else {}
            if isinstance(ev.get("e164") or ev.get("dst"), str):
                dests[(ev.get("e164") or ev.get("dst"))[:40]] += 1
            if isinstance(ev.get("src_ip"), str):
                sources[ev["src_ip"][:64]] += 1
            elif a.get("subject_type") == "ip" and isinstance(a.get("subject"), str):
                sources[a["subject"][:64]] += 1
        money: dict[str, float] = defaultdict(float)
        for r in incidents:
            if isinstance(r.get("cost"), (int, float)):
                money[_local(r.get("opened"), tz)[:10]] += float(r["cost"])
        hours_shown = sorted(by_hour)[-hours:]
        return {"alerts_by_hour": [{"hour": h, "rules": dict(by_hour[h].most_common())} for h in hours_shown],
                "hourly": [{"label": f"{h}h: " + ", ".join(f"{r} {n}" for r, n in by_hour[h].most_common()),
                            "n": sum(by_hour[h].values())} for h in hours_shown],
                "daily": [{"label": f"{d}: {v:,.2f} at risk", "v": round(v, 2)} for d, v in sorted(money.items())[-31:]],
                "money_by_day": [{"day": d, "at_risk": round(v, 2)} for d, v in sorted(money.items())[-31:]],
                "top_destinations": dests.most_common(10), "top_sources": sources.most_common(10)}

    def _forget(self) -> None:
        """Past the bound, the oldest closed incidents go first, then the oldest."""
        over = len(self._by_id) - self.max_incidents
        order = sorted(self._by_id.values(), key=lambda r: (r.get("status") not in CLOSED, str(r.get("last_seen"))))
        for r in order[:over]:
            del self._by_id[r["incident_id"]]
            self.dropped += 1

    def get(self, user, incident_id: str) -> dict | None:
        rec = self._by_id.get(incident_id)
        return rec if rec is not None and user.sees(rec.get("tenant")) else None

    def query(self, user, tenant: str | None = None, severity: str | None = None, rule: str | None = None,
              status: str | None = None, q: str | None = None, sort: str | None = None,
              limit: int = 500) -> tuple[list[dict], int]:
        """(the first ``limit`` matching incidents in ``sort`` order, how many matched)."""
        with self._lock:
            recs = list(self._by_id.values())
        q = (q or "").lower()
        hits = [r for r in recs if user.sees(r.get("tenant"))
                and (not tenant or r.get("tenant") == tenant)
                and (not severity or r.get("severity") == severity)
                and (not rule or rule in (r.get("rules") or []))
                and (not status or shown_status(r).split(" ")[0] == ("quiet" if status == "closed" else status))
                and (not q or q in str(r.get("subject", "")).lower() or q in str(r.get("summary", "")).lower()
                     or q in _members(r))]
        hits.sort(key=lambda r: sort_key(r, sort if sort in SORTS else "severity"))
        return hits[:limit], len(hits)

    def changed_since(self, user, seq: int) -> tuple[list[dict], int]:
        """The incidents this user may see that changed after ``seq`` (each once), and the newest seq."""
        with self._lock:
            ids = [i for s, i in self._changes if s > seq]
            now = self.seq
            recs = [self._by_id[i] for i in dict.fromkeys(ids) if i in self._by_id]
        return [r for r in recs if user.sees(r.get("tenant"))], now

    def tenants(self, user) -> list[str]:
        with self._lock:
            names = {r.get("tenant") for r in self._by_id.values()}
        return sorted(n for n in names if isinstance(n, str) and user.sees(n))

    def __len__(self) -> int:
        return len(self._by_id)


def _local(t, tz: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of an ISO time in ``tz`` (what the charts bucket by)."""
    from streams.services.console.app import when
    return when(t, tz)


def _members(rec: dict) -> str:
    """A campaign's sampled sources and accounts, lower case, for the search (a member's campaign is found too)."""
    c = rec.get("campaign")
    if not isinstance(c, dict):
        return ""
    return " ".join(str(v).lower() for name in ("sources", "accounts")
                    for v, _ in ((c.get(name) or {}).get("sample") or []))
