"""Incidents: every detection about one subject of one tenant, folded into one record the SOC acts on.

The rules raise an alert once per (rule, subject, epoch) and count later detections into it
(``core.Ctx.emit``). For each detection, new or absorbed, the core also writes a :class:`Seen`
record. :class:`IncidentBook` folds ``Seen`` records, the actions they carry, and the SOC's
:class:`Decision` records into :class:`IncidentRecord` updates:

- one incident per (tenant, subject type, subject) while it lasts: until the end of the longest
  block its actions caused, else ``incident_seconds`` after its last detection;
- it opens with the first detection and every later one updates it, whatever rule raised it and
  whether or not that rule's own alert was already open (``rules``, ``alert_ids``, ``events``,
  ``cost``, ``severity`` the highest so far, ``summary`` the most severe alert's, not the latest);
- an action whose kind and target the incident already ordered, still in force, is not repeated:
  :meth:`IncidentBook.fold` returns only the actions to publish;
- ``ack`` and ``resolve`` (``streams.commands.soc``) arrive as decisions and change the status. A
  resolved incident takes no more detections: the next one opens a new incident.

The book is plain synchronous Python. ``replay`` runs one over its output; the worker runs one per
partition of ``<prefix>.detections`` (keyed by :func:`subject_key`) with its state in a table,
and writes each update to the compacted ``<prefix>.incidents``. Folding the same record twice
changes nothing (alert ids, action ids and event identities are sets), so a redelivered batch
does not inflate an incident. docs/incidents.md has the record and its life cycle.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from datetime import datetime
from typing import Iterable, Literal, Union

import msgspec

from streams.core.epochs import FOREVER, iso
from streams.domain.campaigns import CampaignNote, CampaignState, note, restore
from streams.domain.events import Action
from streams.domain.ruleids import SEVERITY_RANK

Status = Literal["open", "updated", "closed", "acknowledged", "resolved"]
KEEP_PER_SUBJECT = 8      # incidents of one subject remembered (late detections may still join them)
MAX_IDENTS = 1024         # event identities kept per incident for an exact, idempotent count
MAX_CALLS = 128           # priced calls kept per incident (each call counted once, whichever rules it tripped)
MAX_CALL_ID = 64          # longer call ids are kept as a digest (the state of one subject stays small)
FORGET_AFTER = 7 * 86400  # a subject whose incidents have all been over this long is forgotten
MAX_LIST = 256            # alert and action ids listed per incident (the count goes on)
MAX_DECISIONS = 32


class Seen(msgspec.Struct, tag_field="type", tag="seen", kw_only=True):
    """One detection, as the core saw it: which alert it belongs to, what tripped it, what it ordered."""
    alert_id: str
    ts: float
    tenant: str
    rule: str
    severity: str
    subject_type: str
    subject: str              # as people see it (pseudonymised when the tenant's privacy says so)
    summary: str
    span: float               # how long this detection keeps its incident open (the block, or incident_seconds)
    ident: int = 0            # identity of the event that tripped it (0: a timer or the model's flush)
    call_id: Union[str, None] = None
    cost: Union[float, None] = None
    actions: list[Action] = msgspec.field(default_factory=list)
    campaign: Union[str, None] = None   # the campaign it folds into (streams.domain.campaigns), None: its own incident
    source: Union[str, None] = None     # the event's source address, account and country (a campaign counts them)
    account: Union[str, None] = None
    country: Union[str, None] = None


class Decision(msgspec.Struct, tag_field="type", tag="decision", kw_only=True):
    """The SOC's word on an incident (``tollguard ack`` / ``resolve``)."""
    incident_id: str
    tenant: str
    subject_type: str
    subject: str
    status: Literal["acknowledged", "resolved"]
    by: str
    at: datetime
    note: str = ""
    verdict: Union[Literal["true_positive", "false_positive"], None] = None
    incident: Union["IncidentRecord", None] = None   # the incident as the SOC saw it: adopted again if no longer held


class Lifted(msgspec.Struct, tag_field="type", tag="lifted", kw_only=True):
    """The SOC lifted a target's blocks (``tollguard unblock``): its action goes out, and the subject's
    incidents record who lifted it, when and why."""
    tenant: str
    subject_type: str         # "ip" for an address; "target" for a number, account or extension
    subject: str
    ts: float
    by: str
    reason: str
    action: Action
    publish: bool = True      # False: a note for another subject the target may belong to (the action goes out once)


class DecisionNote(msgspec.Struct, kw_only=True):
    status: str
    by: str
    at: datetime
    note: str = ""
    verdict: Union[str, None] = None


class ActionNote(msgspec.Struct, kw_only=True, omit_defaults=True):
    action_id: str
    kind: str
    target: str                       # as people may see it (pseudonymised under the tenant's privacy)
    duration_s: Union[int, None]
    ts: datetime
    lifted: bool = False              # an unblock ended it: the same block may be ordered again
    from_ip: Union[str, None] = None  # lock_account: the source it applies to (shown as target is)


class IncidentRecord(msgspec.Struct, tag_field="type", tag="incident", kw_only=True):
    """What ``<prefix>.incidents`` holds (key ``incident_id``), and what ``replay --format jsonl`` prints."""
    incident_id: str
    tenant: str
    subject_type: str
    subject: str
    status: Status
    opened: datetime
    last_seen: datetime
    until: Union[datetime, None]      # None: blocked until lifted
    severity: str
    rules: list[str]
    alert_ids: list[str]
    action_ids: list[str]
    actions: list[ActionNote]
    events: int
    cost: Union[float, None]
    summary: str
    version: int
    decisions: list[DecisionNote] = msgspec.field(default_factory=list)
    verdict: Union[str, None] = None
    campaign: Union[CampaignNote, None] = None   # a campaign (subject_type "campaign"): its members and counts


class IncidentState(msgspec.Struct, kw_only=True):
    """One incident's fold (versioned with the incident table: a changed meaning gets a new name)."""
    incident_id: str
    opened: float
    last_seen: float
    until: float
    severity: str
    rules: list[str]
    alert_ids: list[str]
    actions: list[ActionNote] = msgspec.field(default_factory=list)
    idents: list[int] = msgspec.field(default_factory=list)
    extra_events: int = 0                 # detections past MAX_IDENTS (counted, not deduplicated)
    calls: dict[str, float] = msgspec.field(default_factory=dict)
    summary: str = ""
    version: int = 0
    decisions: list[DecisionNote] = msgspec.field(default_factory=list)
    closed: bool = False
    told: list = msgspec.field(default_factory=list)  # whose summary it shows: [severity rank, instant, alert id]
    campaign: Union[CampaignState, None] = None

    @property
    def status(self) -> str:
        if any(d.status == "resolved" for d in self.decisions):
            return "resolved"
        if any(d.status == "acknowledged" for d in self.decisions):
            return "acknowledged"   # the SOC works on it: open for the SOC until resolved, over or not
        if self.closed:
            return "closed"
        return "open" if self.version <= 1 else "updated"


class SubjectIncidents(msgspec.Struct, tag="incidents/1"):
    """The incidents of one (tenant, subject type, subject): the newest last."""
    tenant: str
    subject_type: str
    subject: str
    items: list[IncidentState] = msgspec.field(default_factory=list)


def _same(x):
    return x


def _target(note: "ActionNote") -> str:
    return note.target


def subject_key(tenant: str, subject_type: str, subject: str) -> str:
    """The key that puts every detection and decision about one subject on one partition."""
    return f"{tenant}|{subject_type}|{subject}"


def folded_under(rec: Seen) -> tuple[str, str]:
    """The subject whose incidents a detection joins: its campaign's, else its own."""
    return ("campaign", rec.campaign) if rec.campaign else (rec.subject_type, rec.subject)


def incident_key(rec: Seen) -> str:
    """The partition key of a detection on ``<prefix>.detections``: its campaign's, else its subject's."""
    return subject_key(rec.tenant, *folded_under(rec))


def incident_id(tenant: str, subject_type: str, subject: str, first_alert: str) -> str:
    digest = hashlib.blake2b(f"{tenant}|{subject_type}|{subject}|{first_alert}".encode(), digest_size=10)
    return "i-" + digest.hexdigest()


def _call_key(call_id: str) -> str:
    if len(call_id) <= MAX_CALL_ID:
        return call_id
    return "#" + hashlib.blake2b(call_id.encode(), digest_size=12).hexdigest()


def _tells_more(rec: Seen, told: list) -> bool:
    """Should this detection's summary be the incident's? The most severe alert's, its first detection; among
    equals the earlier, then the smaller alert id, so the summary does not depend on the order of folding (an
    incident from an older record, whose summary's source is unknown, takes the next one)."""
    if not told:
        return True
    rank = SEVERITY_RANK.get(rec.severity, 0)
    return (-rank, rec.ts, rec.alert_id) < (-told[0], told[1], told[2])


def _ident_of(rec: Seen) -> int:
    """A detection with no event behind it (a timer, the model's flush): named by its alert and instant."""
    return int.from_bytes(hashlib.blake2b(f"{rec.alert_id}|{rec.ts!r}".encode(), digest_size=7).digest(), "big")


def _events(inc: IncidentState) -> int:
    if inc.campaign is not None:  # its idents are detections, not events
        return inc.campaign.events.distinct()[0] + inc.extra_events
    return len(inc.idents) + inc.extra_events


def adopt(rec: IncidentRecord) -> IncidentState:
    """An incident's state rebuilt from its last record (event identities and call prices are not in it:
    its counts go on from the record's)."""
    return IncidentState(
        incident_id=rec.incident_id, opened=rec.opened.timestamp(), last_seen=rec.last_seen.timestamp(),
        until=FOREVER if rec.until is None else rec.until.timestamp(), severity=rec.severity, rules=list(rec.rules),
        alert_ids=list(rec.alert_ids), actions=list(rec.actions), extra_events=rec.events,
        calls={"(earlier)": rec.cost} if rec.cost else {}, summary=rec.summary, version=rec.version,
        decisions=list(rec.decisions), closed=rec.status == "closed",
        campaign=None if rec.campaign is None else restore(rec.campaign))


class IncidentBook:
    """Folds detections and decisions into incidents. ``state`` maps :func:`subject_key` to
    :class:`SubjectIncidents` (a dict in replay, a table in the worker)."""

    def __init__(self, state: dict | None = None, privacy=None):
        self.state = state if state is not None else {}
        self.clock: dict[str, float] = {}   # per tenant: the latest detection time folded in
        self.floor = float("-inf")          # the latest wall clock a sweep was given (not kept across restarts)
        self.privacy = privacy              # privacy(tenant) -> streams.reference.privacy.Privacy, for action targets shown
        # what updates() returns, in order: an incident id -> its (subject, state), whose latest record goes out;
        # ("opened", id) -> the version 1 record of an incident opened meanwhile, as it was
        self._pending: dict = {}
        # not state: per list of a held incident (alert ids, actions), an index of what it holds, valid while the
        # list is the same object with the same length and ends (``_held``); a campaign's lists run to MAX_LIST
        self._index: dict[int, tuple] = {}

    # -- folding ------------------------------------------------------------------------------
    def fold(self, rec: Union[Seen, Decision, Lifted]) -> tuple[list[IncidentRecord], list[Action]]:
        """One record in; the incident updates and the actions to publish out."""
        actions = self.absorb(rec)
        return self.updates(), actions

    def absorb(self, rec: Union[Seen, Decision, Lifted]) -> list[Action]:
        """One record in, the actions to publish out; the incidents it changed wait for :meth:`updates`
        (a batch of detections about one campaign gives one record, not one per detection)."""
        if isinstance(rec, Decision):
            self._note(self._decide(rec))
            return []
        if isinstance(rec, Lifted):
            self._note(self._lift(rec))
            return [rec.action] if rec.publish else []
        updates, publish = self._fold_seen(rec)
        self._note(updates)
        return publish

    def _note(self, touched: list[tuple[SubjectIncidents, IncidentState]]) -> None:
        for subj, inc in touched:
            if inc.version == 1:  # an opening is recorded as it is: consumers are told of it (notify's "opened")
                self._pending[("opened", inc.incident_id)] = self.record(subj, inc)
                continue
            self._pending.pop(inc.incident_id, None)  # re-inserted: records come out in the order last changed
            self._pending[inc.incident_id] = (subj, inc)

    def updates(self) -> list[IncidentRecord]:
        """Since the last call: each incident opened, as its version 1, then the latest record of every
        incident changed after that, in the order last changed."""
        out = [v if isinstance(v, IncidentRecord) else self.record(*v) for v in self._pending.values()]
        self._pending.clear()
        return out

    def _fold_seen(self, rec: Seen) -> tuple[list, list[Action]]:
        subject_type, subject = folded_under(rec)
        key = subject_key(rec.tenant, subject_type, subject)
        subj = self.state.get(key) or SubjectIncidents(rec.tenant, subject_type, subject)
        if rec.ts > self.clock.get(rec.tenant, float("-inf")):
            self.clock[rec.tenant] = rec.ts
        updates: list = []
        inc, known = self._joining(subj, rec)
        if inc is None:
            inc = self._open(subj, rec, updates)
        changed, publish = self._absorb(inc, rec, known)
        if changed:
            inc.version += 1
            updates.append((subj, inc))
        self.state[key] = subj
        return updates, publish

    def _held(self, items: list, name) -> dict:
        """What ``items`` holds, as ``name(item)`` -> how many: kept beside the list while it is only changed
        through :meth:`_append` (a campaign's alert ids and actions run to MAX_LIST: a lookup is not a scan);
        rebuilt when the list is not the object, length and ends it was (changed elsewhere, or state read back)."""
        entry = self._index.get(id(items))
        if entry is not None and entry[0] is items and entry[1] == len(items) and entry[2] is items[0] \
                and entry[3] is items[-1]:
            return entry[4]
        if len(self._index) > 4096:
            self._index.clear()
        held: dict = {}
        for x in items:
            k = name(x)
            held[k] = held.get(k, 0) + 1
        self._index[id(items)] = (items, len(items), items[0], items[-1], held)
        return held

    def _holds(self, items: list, value, name=None) -> bool:
        if len(items) < 16:
            return value in items if name is None else any(name(x) == value for x in items)
        return value in self._held(items, name or _same)

    def _append(self, items: list, item, limit: int, name=None) -> None:
        """``items.append(item)``, then only the newest ``limit`` kept, with its index (if any) kept in step."""
        name = name or _same
        entry = self._index.get(id(items))
        held = None
        if entry is not None and items and entry[0] is items and entry[1] == len(items) and entry[2] is items[0] \
                and entry[3] is items[-1]:
            held = entry[4]
        items.append(item)
        gone = items[:-limit]
        del items[:-limit]
        if held is None:
            return
        k = name(item)
        held[k] = held.get(k, 0) + 1
        for x in gone:
            k = name(x)
            if held[k] == 1:
                del held[k]
            else:
                held[k] -= 1
        self._index[id(items)] = (items, len(items), items[0], items[-1], held)

    def _joining(self, subj: SubjectIncidents, rec: Seen) -> tuple[IncidentState | None, bool]:
        """The incident this detection belongs to: the one that holds its alert already (even when
        resolved: the SOC judged that alert), else one not resolved whose span covers it (a late
        detection up to one span before an incident's first joins it too). A campaign's detections
        all join its incident not resolved, however far apart in its window. With it: does it hold the alert?"""
        for inc in reversed(subj.items):
            if self._holds(inc.alert_ids, rec.alert_id):
                return inc, True
        if rec.campaign:
            return next((inc for inc in reversed(subj.items) if inc.status != "resolved"), None), False
        for inc in reversed(subj.items):
            if inc.status != "resolved" and inc.opened - rec.span <= rec.ts < inc.until:
                return inc, False
        return None, False

    def _open(self, subj: SubjectIncidents, rec: Seen, updates: list) -> IncidentState:
        for old in subj.items:  # a newer incident means the older ones are over
            if not old.closed and old.until <= rec.ts and old.status != "resolved":
                old.closed = True
                old.version += 1
                updates.append((subj, old))
        # a campaign's first incident is named by its window alone: the same whichever detection came first
        first = "" if rec.campaign and not subj.items else rec.alert_id
        inc = IncidentState(incident_id=incident_id(subj.tenant, subj.subject_type, subj.subject, first),
                            opened=rec.ts, last_seen=rec.ts, until=rec.ts, severity=rec.severity, rules=[],
                            alert_ids=[])
        if rec.campaign:
            inc.campaign = CampaignState(start=rec.campaign)
        subj.items.append(inc)
        del subj.items[:-KEEP_PER_SUBJECT]
        return inc

    def _absorb(self, inc: IncidentState, rec: Seen, known: bool = False) -> tuple[bool, list[Action]]:
        changed = False
        if not known and not self._holds(inc.alert_ids, rec.alert_id):
            if len(inc.alert_ids) < MAX_LIST:
                self._append(inc.alert_ids, rec.alert_id, MAX_LIST)
            changed = True
        if _tells_more(rec, inc.told):
            inc.summary = rec.summary
            inc.told = [SEVERITY_RANK.get(rec.severity, 0), rec.ts, rec.alert_id]
            changed = True
        if rec.rule not in inc.rules:
            inc.rules.append(rec.rule)
            changed = True
        if SEVERITY_RANK.get(rec.severity, 0) > SEVERITY_RANK.get(inc.severity, 0):
            inc.severity = rec.severity
            changed = True
        ident = rec.ident or _ident_of(rec)
        repeat = False
        if inc.campaign is not None:
            repeat = not self._count_in(inc, rec, ident)  # a detection it holds: its actions went out with it
            changed = changed or not repeat
        elif ident not in inc.idents:
            if len(inc.idents) < MAX_IDENTS:
                inc.idents.append(ident)
            else:
                inc.extra_events += 1
            changed = True
        call = _call_key(rec.call_id) if rec.call_id else None
        if call and rec.cost and inc.calls.get(call, 0.0) < rec.cost and (call in inc.calls or len(inc.calls) < MAX_CALLS):
            inc.calls[call] = rec.cost
            changed = True
        if rec.ts < inc.opened:
            inc.opened = rec.ts
            changed = True
        if rec.ts > inc.last_seen:
            inc.last_seen = rec.ts
            changed = True
        end = FOREVER if rec.span >= FOREVER else rec.ts + rec.span
        if end > inc.until:
            inc.until = end
            changed = True
            if inc.closed and end > max(self.clock.get(rec.tenant, float("-inf")), self.floor):
                inc.closed = False  # closed by a clock its new end has not reached (a sweep between two detections)
        publish = [] if repeat else [a for a in rec.actions if self._new_action(inc, a)]
        if inc.campaign is not None:
            for a in publish:
                inc.campaign.actions[a.kind] = inc.campaign.actions.get(a.kind, 0) + 1
        return changed or bool(publish), publish

    @staticmethod
    def _count_in(inc: IncidentState, rec: Seen, ident: int) -> bool:
        """Count a detection into its campaign, once: a campaign remembers its first ``MAX_IDENTS``
        detections (rule and event) to know a repeat, and counts its events by sample."""
        detection = int.from_bytes(hashlib.blake2b(f"{rec.alert_id}|{ident}".encode(), digest_size=7).digest(), "big")
        idents = inc.idents  # a campaign keeps them sorted
        i = bisect_left(idents, detection)
        if i < len(idents) and idents[i] == detection:
            return False
        if len(idents) < MAX_IDENTS:
            idents.insert(i, detection)
        inc.campaign.add(rec.rule, ident, rec.source, rec.account, rec.country)
        return True

    def _new_action(self, inc: IncidentState, action: Action) -> bool:
        """Is this an action the incident has not ordered yet? The same id, or the same kind and
        target ordered earlier and lasting at least as long (not lifted since), is a repeat; a block
        that would outlast the earlier one goes out (the enforcer extends it)."""
        ts = action.ts.timestamp()
        end = FOREVER if action.duration_s is None else ts + action.duration_s
        target = self._shown(action.tenant, action.target)
        from_ip = None if action.from_ip is None else self._shown(action.tenant, action.from_ip)
        if not self._holds(inc.actions, target, _target):
            prevs = []  # a new target (a flood's blocks): nothing to compare
        else:
            prevs = [p for p in inc.actions if p.target == target]
        for prev in prevs:  # an id names its target: only these can repeat
            if prev.action_id == action.action_id:
                return False
            if prev.kind == action.kind and prev.from_ip == from_ip and not prev.lifted:
                prev_ts = prev.ts.timestamp()
                prev_end = FOREVER if prev.duration_s is None else prev_ts + prev.duration_s
                if prev_ts <= ts and end <= prev_end:
                    return False
        self._append(inc.actions, ActionNote(action_id=action.action_id, kind=action.kind, target=target,
                                             duration_s=action.duration_s, ts=action.ts, from_ip=from_ip),
                     MAX_LIST, _target)
        return True

    def _shown(self, tenant: str, target: str) -> str:
        if self.privacy is None:
            return target
        p = self.privacy(tenant)
        return p.text(target) if p.active else target

    def _decide(self, d: Decision) -> list:
        key = subject_key(d.tenant, d.subject_type, d.subject)
        subj = self.state.get(key)
        inc = next((i for i in subj.items if i.incident_id == d.incident_id), None) if subj else None
        if inc is None and d.incident is not None and d.incident.incident_id == d.incident_id:
            subj = subj or SubjectIncidents(d.tenant, d.subject_type, d.subject)
            inc = adopt(d.incident)  # long over and forgotten here, but the SOC's word still belongs on it
            subj.items.insert(0, inc)
        if inc is None:
            return []
        note = DecisionNote(status=d.status, by=d.by, at=d.at, note=d.note, verdict=d.verdict)
        if any(n == note for n in inc.decisions):
            return []  # the same decision redelivered
        inc.decisions.append(note)
        del inc.decisions[:-MAX_DECISIONS]
        inc.version += 1
        self.state[key] = subj
        return [(subj, inc)]

    def _lift(self, rec: Lifted) -> list:
        """Note the lift on the subject's incidents that it cuts short (not resolved, lasting past it)."""
        key = subject_key(rec.tenant, rec.subject_type, rec.subject)
        subj = self.state.get(key)
        if subj is None:
            return []
        a = rec.action
        note = DecisionNote(status="lifted", by=rec.by, at=a.ts, note=rec.reason)
        shown = self._shown(a.tenant, a.target)
        out = []
        for inc in subj.items:
            if inc.status == "resolved" or inc.until <= rec.ts or any(n.action_id == a.action_id for n in inc.actions):
                continue
            for n in inc.actions:  # what it lifts may be ordered again by a later detection
                if n.target == shown and n.kind != "unblock":
                    n.lifted = True
            inc.actions.append(ActionNote(action_id=a.action_id, kind=a.kind, target=shown, duration_s=None, ts=a.ts))
            del inc.actions[:-MAX_LIST]
            inc.decisions.append(note)
            del inc.decisions[:-MAX_DECISIONS]
            inc.version += 1
            out.append((subj, inc))
        if out:
            self.state[key] = subj
        return out

    # -- closing ------------------------------------------------------------------------------
    def sweep(self, tenant: str | None = None, clock: float | None = None, owns=None,
              floor: float | None = None) -> list[IncidentRecord]:
        """Close the incidents that event time has passed (``clock``, default each tenant's latest
        detection; ``tenant`` None: every tenant, in one pass), and forget subjects whose incidents
        have all been over for ``FORGET_AFTER``. ``owns(key)`` limits it to one partition's keys.
        ``floor`` (the worker's wall clock) is a time event time has certainly reached: an incident
        of a feed that went quiet still closes. Only event time forgets: a backlog of old history read
        after the wall clock has passed it must not lose an incident between two of its detections."""
        if tenant is not None and clock is None and tenant not in self.clock and floor is None:
            return []
        if floor is not None and floor > self.floor:
            self.floor = floor
        out = []
        for key in list(self.state.keys()):
            if owns is not None and not owns(key):
                continue
            subj = self.state.get(key)
            if subj is None or (tenant is not None and subj.tenant != tenant):
                continue
            event_now = clock if clock is not None else self.clock.get(subj.tenant)
            now = event_now
            if floor is not None and (now is None or floor > now):
                now = floor
            if now is None:
                continue
            touched = False
            for inc in subj.items:
                if not inc.closed and inc.until <= now and inc.status != "resolved":
                    inc.closed = True
                    inc.version += 1
                    out.append(self.record(subj, inc))
                    touched = True
            if event_now is not None and all(i.until + FORGET_AFTER <= event_now for i in subj.items) and all(
                    i.closed or i.status == "resolved" for i in subj.items):
                del self.state[key]  # long over: its last records are on the incident topic
            elif touched:
                self.state[key] = subj
        return out

    # -- records ------------------------------------------------------------------------------
    @staticmethod
    def record(subj: SubjectIncidents, inc: IncidentState) -> IncidentRecord:
        verdict = next((d.verdict for d in reversed(inc.decisions) if d.verdict), None)
        cost = round(sum(inc.calls.values()), 4) if inc.calls else None
        return IncidentRecord(
            incident_id=inc.incident_id, tenant=subj.tenant, subject_type=subj.subject_type, subject=subj.subject,
            status=inc.status, opened=iso(inc.opened), last_seen=iso(inc.last_seen),
            until=None if inc.until >= FOREVER else iso(inc.until), severity=inc.severity, rules=list(inc.rules),
            alert_ids=list(inc.alert_ids), action_ids=[a.action_id for a in inc.actions], actions=list(inc.actions),
            events=_events(inc), cost=cost, summary=inc.summary, version=inc.version,
            decisions=list(inc.decisions), verdict=verdict,
            campaign=None if inc.campaign is None else note(inc.campaign))

    def current(self) -> list[IncidentRecord]:
        """The latest record of every incident held (what a compacted topic would show)."""
        return [self.record(subj, inc) for subj in self.state.values() for inc in subj.items]


def published(records: Iterable, book: IncidentBook) -> list:
    """A detector's output as a shell publishes it: alerts as they are, each detection folded into its
    incident and its actions unless repeats (the incidents it changed wait for ``book.updates()``)."""
    out: list = []
    for rec in records:
        if isinstance(rec, (Seen, Decision, Lifted)):
            out += book.absorb(rec)
        else:
            out.append(rec)
    return out


def settle(records: Iterable, book: IncidentBook) -> tuple[list, list[IncidentRecord]]:
    """:func:`published`, and the incident updates that caused."""
    return published(records, book), book.updates()


def record_from_topic(found: dict) -> "IncidentRecord | None":
    """The incident as read from the topic, for the worker to adopt if it no longer holds it."""
    import msgspec

    try:
        return msgspec.convert(found, IncidentRecord)
    except msgspec.ValidationError:
        return None
