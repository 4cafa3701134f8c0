"""The detection core: events in, alerts and actions out, state behind a mapping.

Plain synchronous Python with no knowledge of Kafka or Faust. ``Detector.process`` runs the
rules of each partition scope the event belongs to:

- ``ip``    keyed by source IP (across tenants: the guide's global blocklist lives here);
- ``ext``   keyed by tenant/extension (the CDR's ``src`` or the security event's ``account``);
- ``trunk`` keyed by tenant/trunk.

A rule of one scope reads and writes only the state of that scope's key, so the Faust worker
can run each scope on a stream partitioned by that key and reach the same alerts as
``replay``, which runs all scopes in one process. Time is event time throughout: the
detector's clock is the largest event timestamp seen, and timers (live call-duration
hang-ups) fire when a later event of any kind moves that clock past them.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from .events import Action, Alert, Cdr, Event, SecurityEvent, parse_ip
from .policy import Policy, Tenant
from .types import SCOPES, StateStore

FOREVER = 1e18  # "until" of a permanent block or incident (JSON-safe, unlike inf)


def _hash(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).hexdigest()


def iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class Ctx:
    """What a rule sees: the event, its tenant's policy, the key's state, and ways to emit."""

    __slots__ = ("det", "tenant", "event", "ts", "when", "scope", "key", "st", "out", "_num", "first_sight",
                 "call_start", "ident")

    def __init__(self, det: "Detector", tenant: Tenant, event: Event | None, ts: float, when: datetime,
                 scope: str, key: str, st: dict, out: list, ident: str):
        self.det = det
        self.tenant = tenant
        self.event = event
        self.ts = ts
        self.when = when
        self.scope = scope
        self.key = key
        self.st = st
        self.out = out
        self._num = None
        self.first_sight = True
        self.call_start = ts
        self.ident = ident

    @property
    def num(self):
        """Classification of the CDR's dialled number (cached per distinct number and tenant)."""
        if self._num is None:
            self._num = self.tenant.numbers.classify(self.event.dst)
        return self._num

    def emit(self, rule: str, severity: str, subject_type: str, subject: str, summary: str,
             evidence: dict[str, Any], actions: Iterable[tuple[str, str, int | None]] = (),
             variant: str = "") -> Alert | None:
        """Raise an alert (and, in enforce mode, its actions) unless it joins an open incident.

        Repeat detections of the same rule and subject while the incident is open (for the
        duration of its block, or ``incident_seconds``) are counted into it, not re-alerted.
        """
        setting = self.tenant.rule(rule)
        if setting.mode == "off":
            return None
        actions = list(actions)
        inc = self.st.setdefault("inc", {})
        ikey = f"{self.tenant.name}|{rule}|{subject_type}|{subject}|{variant}"
        open_inc = inc.get(ikey)
        if open_inc is not None and open_inc[1] > self.ts:
            open_inc[2] += 1
            if setting.mode == "enforce":
                # no new alert, but a call in progress that joins the incident is still cut
                for kind, target, duration in actions:
                    if kind == "hangup_call":
                        self.out.append(Action(action_id=_hash(open_inc[3], kind, target), ts=self.when,
                                               tenant=self.tenant.name, kind=kind, target=target, duration_s=None,
                                               alert_id=open_inc[3], reason=f"{summary} (incident {open_inc[3]})"))
            return None
        if len(inc) > 16:
            for k in [k for k, v in inc.items() if v[1] <= self.ts]:
                del inc[k]
        # an incident lasts as long as the block it caused, else incident_seconds; a hang-up or a
        # number block (permanent, but narrow) does not stop the rule watching the subject
        span = self.tenant.p.incident_seconds
        for kind, _, d in actions:
            if kind in ("block_ip", "lock_account", "disable_outbound"):
                span = FOREVER if d is None else max(d, 1)
                break
        alert_id = _hash(self.tenant.name, rule, subject_type, subject, variant, repr(self.ts), self.ident)
        inc[ikey] = [self.ts, self.ts + span if span < FOREVER else FOREVER, 1, alert_id]
        mode = setting.mode
        alert = Alert(alert_id=alert_id, ts=self.when, tenant=self.tenant.name, rule=rule,
                      severity=setting.severity or severity, subject_type=subject_type, subject=subject,
                      summary=summary, evidence=evidence, mode=mode)
        self.out.append(alert)
        if mode == "enforce":
            for kind, target, duration in actions:
                if kind == "block_ip":
                    if self.tenant.exempt(parse_ip(target)):
                        evidence["not_blocked"] = f"{target} is in the LAN or matches a static accept rule"
                        continue
                    if self.scope == "ip":
                        self.block(target, duration)
                self.out.append(Action(action_id=_hash(alert_id, kind, target), ts=self.when,
                                       tenant=self.tenant.name, kind=kind, target=target,
                                       duration_s=duration, alert_id=alert_id, reason=summary))
        return alert

    def absorbed(self, rule: str, subject_type: str, subject: str, variant: str = "") -> bool:
        """Is an incident of this rule and subject open? Then count the detection into it and say so.

        Lets an expensive rule skip its work while the incident it would join is open.
        """
        inc = self.st.get("inc")
        if not inc:
            return False
        open_inc = inc.get(f"{self.tenant.name}|{rule}|{subject_type}|{subject}|{variant}")
        if open_inc is not None and open_inc[1] > self.ts:
            open_inc[2] += 1
            return True
        return False

    def block(self, ip: str, duration: int | None) -> None:
        """Record in the IP key's state that this tenant blocked it (read by global_blocklist)."""
        blk = self.st.setdefault("blk", {})
        until = FOREVER if duration is None else self.ts + duration
        if blk.get(self.tenant.name, 0) < until:
            blk[self.tenant.name] = until

    def state_ref(self):
        """Read (no argument) or write (one argument) this key's state later, e.g. when a model batch is scored."""
        det, key = self.det, self.key

        def ref(value=None):
            if value is None:
                return det.state.get(key)
            det.state[key] = value
        return ref

    def schedule(self, rule: str, when: float, token: str) -> None:
        heapq.heappush(self.det._timers, (when, self.key, rule, token))


class Detector:
    """Runs the rules over events. ``state`` is any StateStore (a dict in replay, a table in the worker)."""

    def __init__(self, policy: Policy | None = None, state: StateStore | None = None,
                 scopes: Iterable[str] = SCOPES, scorer=None):
        from .rules import RULES_BY_SCOPE, TIMER_RULES

        self.policy = policy or Policy.default()
        self.state: StateStore = state if state is not None else {}
        self.scopes = tuple(scopes)
        self.now = float("-inf")
        self._timers: list[tuple[float, str, str, str]] = []
        self._rules = RULES_BY_SCOPE
        self._timer_rules = TIMER_RULES
        self._active: dict[tuple[str, str, str], list] = {}
        self.scorer = scorer  # the anomaly model (models.score.Scorer), fed completed calls of the ext scope
        self.events = 0

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def keys_for(event: Event) -> dict[str, str]:
        """The partition key of each scope this event belongs to."""
        keys: dict[str, str] = {}
        if isinstance(event, SecurityEvent):
            keys["ip"] = f"ip:{event.src_ip}"
            if event.account:
                keys["ext"] = f"ext:{event.tenant}/{event.account}"
        else:
            if event.direction != "inbound":
                keys["ext"] = f"ext:{event.tenant}/{event.src}"
                if event.src_ip:
                    keys["ip"] = f"ip:{event.src_ip}"
            if event.trunk and event.direction == "outbound":
                keys["trunk"] = f"trunk:{event.tenant}/{event.trunk}"
        return keys

    # -- processing ---------------------------------------------------------------------------
    def process(self, event: Event, scopes: Iterable[str] | None = None,
                timers_for: Callable[[str], bool] | None = None) -> list[Alert | Action]:
        """Run every rule of the given scopes (default: this detector's) over one event.

        Due timers fire first (event time has moved past them). ``timers_for`` limits which
        keys' timers may fire here: the worker may only write keys of the partition in hand.
        """
        out: list[Alert | Action] = []
        tenant = self.policy.tenant(event.tenant)
        when = event.ts
        ts = when.timestamp()
        if ts > self.now:
            self.now = ts
        if self._timers and self._timers[0][0] < self.now:
            self._fire_due(out, timers_for)
        etype = "cdr" if isinstance(event, Cdr) else "security"
        ident = event.call_id if etype == "cdr" else f"{event.src_ip}|{event.account}|{event.action}|{event.outcome}"
        keys = self.keys_for(event)
        for scope in (scopes or self.scopes):
            key = keys.get(scope)
            if key is None:
                continue
            rules = self._active_rules(tenant, scope, etype)
            if not rules:
                continue
            st = self.state.get(key)
            st = {} if st is None else st
            ctx = Ctx(self, tenant, event, ts, when, scope, key, st, out, ident)
            if etype == "cdr":
                ctx.call_start = event.start.timestamp()
                if scope == "ext":
                    self._track_call(ctx, event)
            if scope == "ip" and self._absorbed(ctx):
                rules = [r for r in rules if getattr(r, "COUNTS_WHILE_BLOCKED", False)]
            for rule in rules:
                rule.check(ctx, event)
            if self.scorer is not None and scope == "ext" and etype == "cdr":
                self.scorer.observe(ctx, event)
            self.state[key] = st
        self.events += 1
        return out

    def flush(self) -> list[Alert | Action]:
        """Score the calls queued for the anomaly model (the shells call this per micro-batch)."""
        return self.scorer.flush() if self.scorer is not None else []

    def _active_rules(self, tenant: Tenant, scope: str, etype: str) -> list:
        """The rule modules of a scope and event type that this tenant has not switched off (cached)."""
        k = (tenant.name, scope, etype)
        rules = self._active.get(k)
        if rules is None:
            rules = self._active[k] = [r for r in self._rules[scope][etype] if tenant.rule(r.RULE).mode != "off"]
        return rules

    def advance(self, now: float, timers_for: Callable[[str], bool] | None = None) -> list[Alert | Action]:
        """Move event time to ``now`` without an event (the worker's clock tick); fire due timers."""
        out: list[Alert | Action] = []
        if now > self.now:
            self.now = now
        self._fire_due(out, timers_for)
        return out

    def _fire_due(self, out: list, timers_for: Callable[[str], bool] | None = None) -> None:
        """Fire every timer whose time event time has passed (strictly: a limit reached is not passed)."""
        now = self.now
        timers = self._timers
        later = []
        while timers and timers[0][0] < now:
            entry = heapq.heappop(timers)
            if timers_for is not None and not timers_for(entry[1]):
                later.append(entry)
                continue
            due, key, rule_id, token = entry
            st = self.state.get(key)
            if st is None:
                continue
            tenant_name = key.split(":", 1)[1].split("/", 1)[0]
            tenant = self.policy.tenant(tenant_name)
            ctx = Ctx(self, tenant, None, due, iso(due), key.split(":", 1)[0], key, st, out, token)
            if tenant.rule(rule_id).mode != "off":
                self._timer_rules[rule_id].on_timer(ctx, token)
            self.state[key] = st
        for entry in later:
            heapq.heappush(timers, entry)

    def rebuild_timers(self, keys_for: Callable[[str], bool] | None = None) -> int:
        """Re-arm timers from state (after a restart, when state came back from a changelog)."""
        self._timers.clear()
        for key in list(self.state.keys()):
            if keys_for is not None and not keys_for(key):
                continue
            st = self.state.get(key) or {}
            for rule in self._timer_rules.values():
                for when, token in rule.pending(st):
                    heapq.heappush(self._timers, (when, key, rule.RULE, token))
        return len(self._timers)

    def _track_call(self, ctx: Ctx, cdr: Cdr) -> None:
        """Calls in progress of this extension: a call is judged once, when first seen."""
        live = ctx.st.get("live")
        if cdr.phase == "start":
            if live is None:
                live = ctx.st["live"] = {}
            ctx.first_sight = cdr.call_id not in live
            live[cdr.call_id] = ctx.call_start
            horizon = ctx.tenant.p.max_call_duration + 3600
            if len(live) > 8:
                for cid in [c for c, s in live.items() if s < ctx.ts - horizon]:
                    del live[cid]
        else:
            ctx.first_sight = not (live and live.pop(cdr.call_id, None) is not None)
            if live is not None and not live:
                del ctx.st["live"]

    def _absorbed(self, ctx: Ctx) -> bool:
        """An event from an IP this tenant blocked joins the block's incident instead of raising alerts."""
        blk = ctx.st.get("blk")
        if not blk:
            return False
        until = blk.get(ctx.tenant.name)
        if until is None or until <= ctx.ts:
            return False
        n = ctx.st.setdefault("blkn", {})
        n[ctx.tenant.name] = n.get(ctx.tenant.name, 0) + 1
        return True
