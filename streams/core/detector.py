"""The detection core: events in, alerts and actions out, state behind a mapping.

Plain synchronous Python with no knowledge of Kafka or Faust. ``Detector.process`` runs the
rules of each partition scope the event belongs to:

- ``ip``    keyed by source IP (across tenants: the guide's global blocklist lives here);
- ``ext``   keyed by tenant/extension (the CDR's ``src`` or the security event's ``account``);
- ``trunk`` keyed by tenant/trunk.

A rule of one scope reads and writes only the state of that scope's key, so the Faust worker
can run each scope on a stream partitioned by that key and reach the same alerts as
``replay``, which runs all scopes in one process.

Order does not matter to the rules: their state is made of sets keyed by event identity and
intervals (``streams.state``), and an alert is named after what was detected — rule,
subject, variant and *epoch* (the detection instant divided by the incident span) — not
after the event that happened to trip it. What needs event-time order is driven by the
shell through ``advance(tenant, watermark)``: the live call-duration timers and the anomaly
model's feature updates. Clocks are per tenant (docs/stream.md).
"""

from __future__ import annotations

import hashlib
import heapq
from functools import lru_cache
from typing import Any, Callable, Iterable

from streams.core import keys as K
from streams.core.epochs import FOREVER, HORIZON, epoch_of, iso
from streams.domain.events import Action, Alert, Cdr, Event, SecurityEvent, Unblock, canonical_ip, event_ident, event_time
from streams.domain.campaigns import campaign_of, window_of
from streams.domain.incidents import Lifted, Seen
from streams.reference.countries import country_of
from streams.rules.contract import Order
from streams.rules import routed_to_tenant
from streams.rules._common import address as _address, event_kind
from streams.core.ordering import Sequencer
from streams.policy import Policy, Tenant
from streams.state import STATE_TYPES, Call, Incident, KeyState
from streams.state.lifecycle import MAX_KEYS, KeyLifecycle
from streams.core.types import SCOPES, StateStore

BLOCKING = ("block_ip", "lock_account", "disable_outbound")
MAX_INCIDENTS = 32


def _hash(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).hexdigest()


class Ctx:
    """What a rule sees: the event, its tenant's policy, the key's state, and the one way to emit."""

    __slots__ = ("detector", "tenant", "event", "ts", "scope", "key", "state", "out", "_num", "first_sight",
                 "call_start", "ident", "blocks_changed")

    def __init__(self, det: "Detector", tenant: Tenant, event: Event | None, ts: float, scope: str, key: str,
                 st: KeyState, out: list):
        self.detector = det
        self.tenant = tenant
        self.event = event
        self.ts = ts
        self.scope = scope
        self.key = key
        self.state = st
        self.out = out
        self._num = None
        self.first_sight = True
        self.call_start = ts
        self.ident = 0
        self.blocks_changed = False

    @property
    def settled(self) -> float:
        """Event time this tenant's events have all reached (the watermark), or this event's, whichever is
        earlier: what a key may forget is measured from here, never from the latest time some partition
        far ahead of the others delivered."""
        clock = self.detector.clocks.get(self.tenant.name, float("-inf"))
        return clock if clock < self.ts else self.ts

    @property
    def num(self):
        """Classification of the CDR's dialled number (cached per distinct number and tenant)."""
        if self._num is None:
            self._num = self.tenant.numbers.classify(self.event.dst)
        return self._num

    def emit(self, rule: str, severity: str, subject_type: str, subject: str, summary: str,
             evidence: dict[str, Any], actions: Iterable[Order] = (),
             variant: str = "", at: float | None = None, span: float | None = None,
             tenant: Tenant | None = None, adds: bool = False) -> Alert | None:
        """Raise an alert (and, in enforce mode, its actions) unless its incident is already open.

        The incident is (tenant, rule, subject, variant, epoch): ``at`` (the detection instant,
        default the event time) divided by ``span`` (the block the actions cause, else the
        tenant's ``incident_seconds``). Later detections in the same epoch are counted into it,
        whatever order they arrive in; a call in progress that joins it is still cut. ``adds``: the
        rule orders only what the incident has not ordered yet (it keeps track), so a joining
        detection's actions go out too.
        """
        tenant = tenant or self.tenant
        setting = tenant.rule(rule)
        if setting.mode == "off":
            return None
        at = self.ts if at is None else at
        actions = list(actions)
        for a in actions:
            if not isinstance(a, Order):
                raise TypeError(f"{rule}: actions are rules.contract.Order records, not {a!r}")
        if span is None:
            span = self.span(actions, tenant)
        epoch = epoch_of(at, span)
        ikey = f"{tenant.name}|{rule}|{subject_type}|{subject}|{variant}|{epoch}"
        inc = self.state.incidents.get(ikey)
        severity = setting.severity or severity
        if inc is not None:
            self._join(inc, tenant, setting.mode, rule, severity, subject_type, subject, summary, actions, at, span,
                       adds)
            return None
        if len(self.state.incidents) >= MAX_INCIDENTS:
            self._prune_incidents()
        alert_id = _hash(tenant.name, rule, subject_type, subject, variant, epoch)
        until = FOREVER if span >= FOREVER else (epoch + 1) * span
        self.state.incidents[ikey] = Incident(first=at, count=1, alert_id=alert_id, until=until)
        alert = Alert(alert_id=alert_id, ts=iso(at), tenant=tenant.name, rule=rule, severity=severity,
                      subject_type=subject_type, subject=subject, summary=summary, evidence=evidence, mode=setting.mode)
        self.out.append(alert)
        seen = self._seen(tenant, alert_id, at, rule, alert.severity, subject_type, subject, summary,
                          self._incident_span(span, actions, tenant))
        self.out.append(seen)
        privacy = tenant.privacy
        if privacy.active:  # what people read is pseudonymised; action targets stay clear for enforcement
            summary = privacy.text(summary)
        if setting.mode == "enforce":
            seen.actions.extend(self._actions(tenant, alert_id, actions, at, evidence, summary))
        if privacy.active:
            alert.subject = privacy.text(subject)
            alert.summary = summary
            alert.evidence = privacy.value(evidence)
        return alert

    def _join(self, inc: Incident, tenant: Tenant, mode: str, rule: str, severity: str, subject_type: str,
              subject: str, summary: str, actions: list[Order], at: float, span: float, adds: bool = False) -> None:
        """A detection in an incident already open: counted into it (an earlier one moves its start and its
        blocks); a call in progress it names is still cut, and what a rule that ``adds`` orders goes out."""
        inc.count += 1
        if at < inc.first:
            inc.first = at
            if mode == "enforce":  # a report-mode rule ordered no block: there is none to move
                self._extend_blocks(tenant, actions, at)
        seen = self._seen(tenant, inc.alert_id, at, rule, severity, subject_type, subject, summary,
                          self._incident_span(span, actions, tenant))
        if mode == "enforce":
            for kind, target, _, _ in actions:
                if kind == "hangup_call":
                    seen.actions.append(Action(action_id=_hash(inc.alert_id, kind, target), ts=iso(at),
                                               tenant=tenant.name, kind=kind, target=target, duration_s=None,
                                               alert_id=inc.alert_id,
                                               reason=f"{tenant.privacy.text(summary)} (incident {inc.alert_id})"))
            more = [a for a in actions if a.kind != "hangup_call"] if adds else []
            if more:
                seen.actions.extend(self._actions(tenant, inc.alert_id, more, at, {}, tenant.privacy.text(summary)))
        self.out.append(seen)

    def _actions(self, tenant: Tenant, alert_id: str, actions: list[Order], at: float, evidence: dict,
                 summary: str) -> list[Action]:
        """The actions a new alert orders in enforce mode, those the never-block list lets go out."""
        out = []
        for order in actions:
            if not self._order(tenant, order, at, evidence):
                continue
            kind, target, duration, from_ip = order
            ident = (alert_id, kind, target) if from_ip is None else (alert_id, kind, target, from_ip)
            out.append(Action(action_id=_hash(*ident), ts=iso(at), tenant=tenant.name, kind=kind, target=target,
                              duration_s=duration, alert_id=alert_id, reason=summary, from_ip=from_ip))
        return out

    def _order(self, tenant: Tenant, order: Order, at: float, evidence: dict) -> bool:
        """May this order go out? Never a block of, or a lock for, a LAN or static-accept address (the
        guide: an accept rule is never overridden); a block in the IP scope is recorded for
        ``global_blocklist``."""
        if order.kind == "block_ip":
            if _exempt(tenant, order.target):
                evidence["not_blocked"] = f"{order.target} is in the LAN or matches a static accept rule"
                return False
            if self.scope == "ip":
                self.block(tenant.name, at, order.duration_s)
        elif order.kind == "lock_account" and order.from_ip is not None and _exempt(tenant, order.from_ip):
            evidence["not_locked"] = f"{order.from_ip} is in the LAN or matches a static accept rule"
            return False
        return True

    @staticmethod
    def _incident_span(span: float, actions: list, tenant: Tenant) -> float:
        """How long a detection keeps its incident open: its span, except that a rule's once-only alert
        (span FOREVER, e.g. one per call) keeps it open only ``incident_seconds`` unless it bars for good."""
        if span < FOREVER or any(a.kind in BLOCKING and a.duration_s is None for a in actions):
            return span
        return float(tenant.settings.incident_seconds)

    def _seen(self, tenant: Tenant, alert_id: str, at: float, rule: str, severity: str, subject_type: str,
              subject: str, summary: str, span: float) -> Seen:
        """The detection as the incident fold needs it (the actions it orders are added by ``emit``)."""
        ev = self.event
        call_id = cost = None
        if isinstance(ev, Cdr):
            call_id = ev.call_id
            cost = ev.cost
            if cost is None and ev.billsec:
                cost = tenant.rates.cost(self.num, ev.billsec)
        privacy = tenant.privacy
        if privacy.active:
            subject, summary = privacy.text(subject), privacy.text(summary)
        seen = Seen(alert_id=alert_id, ts=at, tenant=tenant.name, rule=rule, severity=severity,
                    subject_type=subject_type, subject=subject, summary=summary, span=span,
                    ident=self.ident if ev is not None else 0, call_id=call_id, cost=cost)
        alone = isinstance(ev, Cdr) or (isinstance(ev, SecurityEvent) and ev.outcome == "success")
        seen.campaign = campaign_of(rule, at, tenant.settings.campaign_seconds, alone)
        if seen.campaign is not None and isinstance(ev, SecurityEvent):
            seen.country = country_of(ev.src_ip)
            seen.source = privacy.text(ev.src_ip) if privacy.active else ev.src_ip
            if ev.account:
                seen.account = privacy.text(ev.account) if privacy.active else ev.account
        return seen

    def span(self, actions: Iterable[Order] = (), tenant: Tenant | None = None) -> float:
        """An incident's epoch length: the block or bar its actions cause, else ``incident_seconds``."""
        tenant = tenant or self.tenant
        for a in actions:
            if a.kind in BLOCKING:
                return FOREVER if a.duration_s is None else float(max(a.duration_s, 1))
        return float(tenant.settings.incident_seconds)

    def _prune_incidents(self) -> None:
        """Forget incidents over for longer than the horizon (a late detection can no longer join them)."""
        cutoff = self.settled - HORIZON
        incidents = self.state.incidents
        for k in [k for k, v in incidents.items() if v.until < cutoff]:
            del incidents[k]
        if len(incidents) >= MAX_INCIDENTS:  # still full: keep the most recent
            for k, _ in sorted(incidents.items(), key=lambda kv: kv[1].first)[:len(incidents) - MAX_INCIDENTS + 1]:
                del incidents[k]

    def absorbed(self, rule: str, subject_type: str, subject: str, variant: str = "", at: float | None = None,
                 span: float | None = None) -> bool:
        """Is this rule's incident for the subject already open at ``at``? Lets a costly rule skip its work."""
        at = self.ts if at is None else at
        span = float(self.tenant.settings.incident_seconds) if span is None else span
        inc = self.state.incidents.get(f"{self.tenant.name}|{rule}|{subject_type}|{subject}|{variant}|{epoch_of(at, span)}")
        return inc is not None

    def joins_later(self, rule: str, subject_type: str, subject: str, variant: str, at: float, span: float) -> bool:
        """Would a detection at ``at`` only be counted into an incident already open, no earlier than its first?
        Then its evidence is read nowhere and its summary only by the incident fold, which keeps the summary of
        the earliest detection of the most severe alert (an incident adopted from a record older than that
        bookkeeping takes the next one's): a rule may skip working out figures for it."""
        inc = self.state.incidents.get(f"{self.tenant.name}|{rule}|{subject_type}|{subject}|{variant}|{epoch_of(at, span)}")
        return inc is not None and at >= inc.first

    def block(self, tenant: str, start: float, duration: int | None) -> None:
        """Record in the IP key's state that ``tenant`` blocked it over [start, start + duration)."""
        until = FOREVER if duration is None else start + duration
        spans = self.state.blocks.setdefault(tenant, [])
        spans.append([start, until])
        spans.sort()
        merged: list[list[float]] = []
        for s, u in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], u)
            else:
                merged.append([s, u])
        del merged[:-8]
        self.state.blocks[tenant] = merged
        self.blocks_changed = True

    def _extend_blocks(self, tenant: Tenant, actions: list, at: float) -> None:
        if self.scope != "ip":
            return
        for a in actions:
            if a.kind == "block_ip" and not _exempt(tenant, a.target):
                self.block(tenant.name, at, a.duration_s)

    def schedule(self, rule: str, when: float, token: str) -> None:
        self.detector.schedule(self.tenant.name, when, self.key, rule, token)
        if self.scope == "ext":  # an extension's own later CDR fires its overdue calls (Detector._track_call)
            nxt = self.state.next_timer
            if nxt is None or when < nxt:
                self.state.next_timer = when

    def defer(self, rule: str, event: Event) -> None:
        """Hand ``event`` to ``rule.on_release`` once the tenant's watermark passes it (event-time order)."""
        self.detector.defer(self.tenant.name, self.ts, self.key, rule, event)


class Detector:
    """Runs the rules over events. ``state`` is any StateStore (a dict in replay, a table in the worker).

    ``lateness`` is how far behind its tenant's watermark a timer fires or a deferred event is
    released (0 when the shell feeds events in order, as replay does).
    """

    def __init__(self, policy: Policy | None = None, state: StateStore | None = None,
                 scopes: Iterable[str] = SCOPES, scorer=None, lateness: float = 0.0, max_keys: int | None = MAX_KEYS):
        from streams.rules import FLUSH_RULES, RELEASE_RULES, RULES_BY_SCOPE, TIMER_RULES, TIMER_SCOPES
        from streams.rules._common import event_kind

        self.policy = policy or Policy.default()
        self.state: StateStore = state if state is not None else {}
        self.scopes = tuple(scopes)
        self.lateness = lateness
        self.clocks: dict[str, float] = {}  # per tenant: the watermark the shell announced
        self._timers: dict[str, list[tuple[float, str, str, str]]] = {}
        self._deferred = Sequencer(0.0)
        self._rules = RULES_BY_SCOPE
        self._timer_rules = TIMER_RULES
        self._timer_scopes = TIMER_SCOPES
        self._release_rules = RELEASE_RULES
        self._flush_rules = FLUSH_RULES
        self._kind = event_kind
        self._active: dict[tuple[str, str, str], list] = {}
        self.scorer = scorer  # the anomaly model (models.score.Scorer); rules.anomaly feeds and reads it
        self.events = 0
        self.late = 0  # events older than their tenant's watermark when judged (applied all the same)
        self.live_tenants: set[str] = set()  # tenants whose feed reports calls as they start
        self.scratch: dict[str, Any] = {}  # per-rule work between flushes (the model's scoring queue)
        self.keys = KeyLifecycle(max_keys)  # which keys hold state, until when (expiry, budget)

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def keys_for(event: Event, policy: Policy | None = None) -> dict[str, str]:
        """The partition key of each scope this event belongs to. The ``ip``, ``ext`` and ``trunk`` keys follow
        from the event; the tenant key (one per tenant, so one partition) gets only what a rule of the tenant
        scope asks for (its ``routes``, streams.rules.contract), under ``policy`` (default: the default policy)."""
        keys: dict[str, str] = {}
        if isinstance(event, Unblock):  # one scope judges it: the address's, else the tenant's
            try:
                return {"ip": K.ip(canonical_ip(event.target))}
            except ValueError:
                return {"tenant": K.tenant(event.tenant)}
        if isinstance(event, SecurityEvent):
            keys["ip"] = K.ip(event.src_ip)
            if event.account:
                keys["ext"] = K.ext(event.tenant, event.account)
            events = "security"
        else:
            if event.direction != "inbound":
                keys["ext"] = K.ext(event.tenant, event.src)
                if event.src_ip:
                    keys["ip"] = K.ip(event.src_ip)
            if event.trunk and event.direction == "outbound":
                keys["trunk"] = K.trunk(event.tenant, event.trunk)
            events = "cdr"
        tenant = (policy or _default_policy()).tenant(event.tenant)
        if routed_to_tenant(event, tenant, event_kind(event), events):
            keys["tenant"] = K.tenant(event.tenant)
        return keys

    # -- processing ---------------------------------------------------------------------------
    def feed(self, event: Event) -> list[Alert | Action]:
        """An in-order shell's step: event time reaches this event's tenant, then the event is judged."""
        ts = event_time(event)
        out = self.advance(event.tenant, ts)
        out += self.process(event, ts=ts)
        return out

    def process(self, event: Event, scopes: Iterable[str] | None = None, ts: float | None = None,
                ident: int | None = None) -> list[Alert | Action]:
        """Run every rule of the given scopes (default: this detector's) over one event, in any order.

        ``ts`` and ``ident`` (its event time and identity) may be given when the shell has them.
        """
        out: list[Alert | Action] = []
        tenant = self.policy.tenant(event.tenant)
        if ts is None:
            ts = event_time(event)
        if ts < self.clocks.get(event.tenant, float("-inf")) - self.lateness:
            self.late += 1
        is_cdr = isinstance(event, Cdr)
        kind = self._kind(event)
        keys = self.keys_for(event, self.policy)
        if kind == "unblock":
            self._unblock(event, keys, tenant, ts, out)
            self.events += 1
            return out
        for scope in (scopes or self.scopes):
            key = keys.get(scope)
            if key is None:
                continue
            rules = self._active_rules(tenant, scope, kind, is_cdr)
            if not rules:
                continue
            st = self.state.get(key)
            if st is None:
                st = STATE_TYPES[scope]()
            ctx = Ctx(self, tenant, event, ts, scope, key, st, out)
            if ident is None:
                ident = event_ident(event)
            ctx.ident = ident
            if is_cdr:
                ctx.call_start = event.start.timestamp()
                if scope == "ext":
                    self._track_call(ctx, event)
            for rule in rules:
                rule.check(ctx, event)
            self.keys.write(self.state, key, scope, st, tenant, ts)
        self.events += 1
        return out

    def _unblock(self, event: Unblock, keys: dict[str, str], tenant: Tenant, ts: float, out: list) -> None:
        """The SOC lifts a target's blocks from ``ts`` on: an address's block spans (the global
        blocklist) end there, and the unblock action goes out for every enforcer to honour."""
        target = event.target
        if "ip" in keys:  # one spelling of an address, as blocks and incidents hold it
            target = canonical_ip(event.target)
        for scope, key in keys.items():
            if scope not in self.scopes:
                continue
            st = self.state.get(key)
            campaigns = set()
            if scope == "ip" and st is not None and st.blocks.get(tenant.name):
                if tenant.settings.campaign_seconds:  # the campaigns whose blocks it lifts record the lift too
                    campaigns = {window_of(s, tenant.settings.campaign_seconds) for s, u in st.blocks[tenant.name]
                                 if s <= ts < u}
                spans = [[s, min(u, ts)] if s <= ts else [s, u] for s, u in st.blocks[tenant.name]]
                st.blocks[tenant.name] = [sp for sp in spans if sp[1] > sp[0]]
                self.keys.write(self.state, key, scope, st, tenant, ts)
            who = f" (by {event.by})" if event.by else ""
            action = Action(action_id=_hash("unblock", tenant.name, target, ts, event.by), ts=iso(ts),
                            tenant=tenant.name, kind="unblock", target=target, duration_s=None, alert_id="",
                            reason=f"{event.reason}{who}")
            shown = tenant.privacy.text if tenant.privacy.active else (lambda text: text)
            out.append(Lifted(tenant=tenant.name, subject_type="ip" if scope == "ip" else "target", subject=shown(target),
                              ts=ts, by=event.by or "", reason=event.reason, action=action))
            for start in sorted(campaigns):
                out.append(Lifted(tenant=tenant.name, subject_type="campaign", subject=start, ts=ts, by=event.by or "",
                                  reason=event.reason, action=action, publish=False))
            if scope != "ip":  # an extension's or account's own incidents record the lift too
                name = target.split("/", 1)[1] if target.startswith(f"{tenant.name}/") else target
                for subject_type in ("extension", "account"):
                    out.append(Lifted(tenant=tenant.name, subject_type=subject_type, subject=shown(name), ts=ts,
                                      by=event.by or "", reason=event.reason, action=action, publish=False))

    def _active_rules(self, tenant: Tenant, scope: str, kind: str, is_cdr: bool) -> list:
        """The rules of a scope that judge this kind of event and that the tenant has not switched off (cached)."""
        k = (tenant.name, scope, kind)
        rules = self._active.get(k)
        if rules is None:
            events = "cdr" if is_cdr else "security"
            rules = self._active[k] = [r for r in self._rules[scope][events]
                                       if tenant.rule(r.RULE).mode != "off" and kind in getattr(r, "WANTS", (kind,))
                                       and (not hasattr(r, "applies") or r.applies(tenant, scope, events))]
        return rules

    def _track_call(self, ctx: Ctx, cdr: Cdr) -> None:
        """Calls of this extension: a call is judged once (first sight); its own overdue timers fire first.

        An extension's own CDRs come in order from one input partition when the feed is keyed by
        extension, so a CDR later than a live call's deadline means event time passed it.
        """
        calls = ctx.state.calls
        seen = calls.get(cdr.call_id)
        ctx.first_sight = seen is None
        live = ctx.tenant.name in self.live_tenants
        nxt = ctx.state.next_timer
        if nxt is not None and nxt < ctx.ts - self.lateness:
            self._fire_key(ctx)
        if cdr.phase == "start":
            self.live_tenants.add(ctx.tenant.name)
            if seen is None:
                calls[cdr.call_id] = Call(start=ctx.call_start)
        elif seen is not None:
            seen.ended = True
            seen.deadline = None
        elif live:
            calls[cdr.call_id] = Call(start=ctx.call_start, ended=True)  # a late start then arms no timer
        if len(calls) > 32:
            self._prune_calls(ctx)

    def _fire_key(self, ctx: Ctx) -> None:
        """Fire this key's timers that its own event time has passed; note when the next one is due."""
        limit = ctx.ts - self.lateness
        nxt = None
        for rule in self._timer_rules.values():
            if ctx.scope not in self._timer_scopes[rule.RULE]:
                continue
            for when, token in list(rule.pending(ctx.state)):
                if when < limit:
                    rule.on_timer(Ctx(self, ctx.tenant, None, when, ctx.scope, ctx.key, ctx.state, ctx.out), token)
                elif nxt is None or when < nxt:
                    nxt = when
        ctx.state.next_timer = nxt

    @staticmethod
    def _prune_calls(ctx: Ctx) -> None:
        """Calls over for longer than the longest call, or older than the horizon, can no longer matter."""
        calls = ctx.state.calls
        done = ctx.settled - ctx.tenant.settings.max_call_duration
        cutoff = done - HORIZON
        for cid in [c for c, v in calls.items() if v.start < cutoff or ((v.ended or v.hung) and v.start < done)]:
            del calls[cid]
        if len(calls) > 256:
            for cid, _ in sorted(calls.items(), key=lambda kv: kv[1].start)[:len(calls) - 256]:
                del calls[cid]

    # -- event time ---------------------------------------------------------------------------
    def schedule(self, tenant: str, when: float, key: str, rule: str, token: str) -> None:
        heapq.heappush(self._timers.setdefault(tenant, []), (when, key, rule, token))

    def defer(self, tenant: str, ts: float, key: str, rule: str, event: Event) -> None:
        order = f"{key}|{getattr(event, 'call_id', '')}"
        self._deferred.push(tenant, ts, order, (key, rule, event))

    def advance(self, tenant: str, watermark: float,
                timers_for: Callable[[str], bool] | None = None) -> list[Alert | Action]:
        """The tenant's event time reached ``watermark``: fire due timers, release deferred events."""
        out: list[Alert | Action] = []
        clock = self.clocks.get(tenant, float("-inf"))
        if watermark > clock:
            clock = self.clocks[tenant] = watermark
        limit = clock - self.lateness
        timers = self._timers.get(tenant)
        if timers and timers[0][0] < limit:
            self._fire_due(tenant, timers, limit, out, timers_for)
        if self._deferred:
            for ts, (key, rule_id, event), _ in self._deferred.release(tenant, limit):
                self._on_key(tenant, key, ts, event, out, lambda ctx: self._release_rules[rule_id].on_release(ctx, event))
        self.keys.expire(self.state, self.policy.tenant(tenant), limit)
        return out

    def _on_key(self, tenant_name: str, key: str, ts: float, event: Event | None, out: list, fn) -> None:
        tenant = self.policy.tenant(tenant_name)
        scope = K.scope_of(key)
        st = self.state.get(key)
        if st is None:
            st = STATE_TYPES[scope]()
        ctx = Ctx(self, tenant, event, ts, scope, key, st, out)
        fn(ctx)
        self.keys.write(self.state, key, scope, st, tenant, ts)

    def _fire_due(self, tenant: str, timers: list, limit: float, out: list, timers_for) -> None:
        """Fire every timer the tenant's event time has passed (strictly: a limit reached is not passed)."""
        later = []
        while timers and timers[0][0] < limit:
            entry = heapq.heappop(timers)
            due, key, rule_id, token = entry
            if timers_for is not None and not timers_for(key):
                later.append(entry)
                continue
            if self.state.get(key) is None:
                continue
            if self.policy.tenant(tenant).rule(rule_id).mode != "off":
                self._on_key(tenant, key, due, None, out, lambda ctx: self._timer_rules[rule_id].on_timer(ctx, token))
        for entry in later:
            heapq.heappush(timers, entry)

    def waiting(self) -> set[str]:
        """Tenants with something that waits for their event time (a timer, a deferred event)."""
        out = {t for t, h in self._timers.items() if h}
        out.update(self._deferred.tenants())
        return out

    def finish(self) -> list[Alert | Action]:
        """End of a finite input: release what waits for event time to pass the last event."""
        out: list[Alert | Action] = []
        for tenant in list(self.clocks):
            out += self.advance(tenant, self.clocks[tenant])
        return out

    def flush(self) -> list[Alert | Action]:
        """Micro-batch hooks (the anomaly model scores what it learnt since the last flush)."""
        out: list[Alert | Action] = []
        for rule in self._flush_rules:
            rule.on_flush(self, out)
        return out

    def with_key(self, tenant: str, key: str, ts: float, out: list, fn) -> None:
        """Run ``fn(ctx)`` on a key's state outside of an event (flush hooks emit through this)."""
        self._on_key(tenant, key, ts, None, out, fn)

    def rebuild_timers(self, keys_for: Callable[[str], bool] | None = None) -> int:
        """Re-arm timers and re-index key expiry from state (after a restart, when state came back
        from a changelog)."""
        self._timers.clear()
        n = 0
        for key in list(self.state.keys()):
            if keys_for is not None and not keys_for(key):
                continue
            st = self.state.get(key)
            scope = K.scope_of(key)
            if st is None or scope not in self.scopes:
                continue
            tenant = _tenant_of(key, st)
            self.keys.rebuild(self.state, key, scope, st, self.policy.tenant(tenant))
            for rule in self._timer_rules.values():
                if scope not in self._timer_scopes[rule.RULE]:
                    continue
                for when, token in rule.pending(st):
                    self.schedule(tenant, when, key, rule.RULE, token)
                    n += 1
        return n


@lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return Policy.default()


def _exempt(tenant: Tenant, address: str) -> bool:
    """Is this address one the tenant never blocks (its LAN, its static accept rules)? An order
    naming something that is no address is refused too: it could only be a mistake."""
    try:
        return tenant.exempt(_address(address))
    except ValueError:
        return True


def _tenant_of(key: str, st) -> str:
    """The tenant whose event time ages a key: named in ext and trunk keys; for an IP (shared by
    tenants) the first tenant its state records."""
    named = K.tenant_in(key)
    if named is not None:
        return named
    for tenants in (st.blocks, st.seen):
        for name in tenants:
            return name
    return "default"
