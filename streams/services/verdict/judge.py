"""The verdict on a call about to be routed: allow, or refuse with a reason and a SIP code.

Pure and synchronous. The call is judged as the rules would judge it a moment later, by the
rules themselves: it becomes a ``phase: start`` CDR (checked by the event contract), run through
the extension scope with empty state, and refused when a rule in ``enforce`` mode would hang it up
(a rule in ``report`` mode alerts, it does not refuse). So the policy's countries, blocked numbers,
time conditions, international barring, premium and unparseable numbers, routes and listed high-risk
ranges (the policy's ``ranges:`` file, and the ``<prefix>.ranges`` topic the service follows) decide here
exactly as they do in replay and the worker. Then the live blocks the worker and the SOC published
(:mod:`.live`): a blocked source address, a barred extension or locked account, a blocked number
or prefix (a destination spend cap blocks the country's code).

Emergency and short numbers are always allowed: no rule stops them, and neither does a block.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from streams.core.detector import Detector
from streams.domain.events import Action, Alert, EventError, decode_event, encode, parse_ip
from streams.domain.incidents import Seen
from streams.policy import Policy
from streams.services.verdict.dialstring import NotDialable, decoded, dial_string
from streams.services.verdict.live import LiveBlocks

DECLINE = frozenset({"premium_rate", "country_code", "blocked_number", "unparseable_number",
                     "high_risk_range"})  # the number: 603
LIMITS = {"tenant": 64, "src": 64, "dst": 256, "ip": 64, "trunk": 64, "route": 64}


class BadRequest(ValueError):
    """What the request lacks or got wrong (said to the caller, never echoing it raw)."""


@dataclass
class Verdict:
    allow: bool
    sip_code: int            # 200 continue; 403 the caller may not; 603 the destination is refused; 503 no verdict
    reason: str
    rule: str | None = None
    source: str = "rules"    # rules, live, or failure
    alerts: list[str] = field(default_factory=list)  # every rule that would alert (report mode included)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = "allow" if self.allow else "deny"
        return d


ALLOW = "no rule refuses the call"


class Judge:
    def __init__(self, policy: Policy, live: LiveBlocks | None = None, clock=time.time):
        self.policy = policy
        self.live = live
        self.clock = clock
        self._n = 0

    def verdict(self, tenant: str, src: str, dst: str, ip: str | None = None, trunk: str | None = None,
                route: str | None = None) -> Verdict:
        now = self.clock()
        call = self._call(tenant, src, dst, ip, trunk, route, now)
        t = self.policy.tenant(call.tenant)
        number = t.numbers.classify(call.dst)
        if number.kind in ("short", "emergency"):
            return Verdict(True, 200, f"{number.kind} number: always allowed")
        if self.live is not None:
            refused = self._live(call, number, now)
            if refused is not None:
                return refused
        return self._rules(call)

    def _call(self, tenant, src, dst, ip, trunk, route, now):
        given = {"tenant": tenant or "default", "src": src, "dst": dst, "ip": ip, "trunk": trunk, "route": route}
        for name in ("src", "dst"):
            if not given[name]:
                raise BadRequest(f"`{name}` is required")
        for name, value in given.items():
            if value is not None and len(value) > LIMITS[name]:
                raise BadRequest(f"`{name}` is longer than {LIMITS[name]} characters")
        src, dst = _as_dialled("src", decoded, src), _as_dialled("dst", dial_string, dst)
        if ip:
            try:
                parse_ip(ip)
            except ValueError:
                raise BadRequest("`ip` is not an IP address") from None
        self._n += 1
        ev = {"type": "cdr", "phase": "start", "call_id": f"verdict-{self._n}", "tenant": given["tenant"],
              "start": datetime.fromtimestamp(now, timezone.utc).isoformat(), "src": src, "dst": dst,
              "direction": "outbound"}
        for name, key in (("ip", "src_ip"), ("trunk", "trunk"), ("route", "route")):
            if given[name]:
                ev[key] = given[name]
        try:
            return decode_event(encode(ev))
        except EventError as exc:
            raise BadRequest(exc.reason) from None

    def _live(self, call, number, now: float) -> Verdict | None:
        live = self.live
        live.expire(now)
        if call.src_ip:
            by = live.ip_blocked(call.tenant, call.src_ip, now)
            if by is not None and not self.policy.tenant(call.tenant).exempt(parse_ip(call.src_ip)):
                whose = "" if by == call.tenant else " (by another tenant: the global blocklist)"
                return Verdict(False, 403, f"source address {call.src_ip} is blocked{whose}", "block_ip", "live")
        how = live.barred(call.tenant, call.src, now, call.src_ip)
        if how is not None:
            what = "its outbound calls are barred" if how == "disable_outbound" else "its account is locked"
            if how == "lock_account" and call.src_ip and live.barred(call.tenant, call.src, now) is None:
                what += f" for {call.src_ip}"
            return Verdict(False, 403, f"extension {call.src}: {what}", how, "live")
        spellings = tuple(s for s in (number.e164, call.dst) if s)
        hit = live.number_blocked(call.tenant, spellings, now)
        if hit is not None:
            return Verdict(False, 603, f"{number.e164 or call.dst} is blocked ({hit})", "block_number", "live")
        return None

    def _rules(self, call) -> Verdict:
        det = Detector(self.policy, scopes=("ext",), max_keys=None)
        out = det.process(call)
        alerts = [r for r in out if isinstance(r, Alert)]
        cut = {a.alert_id for r in out if isinstance(r, Seen) for a in r.actions if _cuts(a, call.call_id)}
        named = sorted({a.rule for a in alerts})
        for a in alerts:
            if a.alert_id in cut:
                code = 603 if a.rule in DECLINE else 403
                return Verdict(False, code, a.summary, a.rule, "rules", named)
        return Verdict(True, 200, ALLOW, None, "rules", named)


def _as_dialled(name: str, read, value: str) -> str:
    """The caller's text as the PBX will read it (:mod:`.dialstring`), or a refusal naming the field."""
    try:
        return read(value)
    except NotDialable as exc:
        raise BadRequest(f"`{name}` {exc}") from None


def _cuts(a: Action, call_id: str) -> bool:
    return a.kind == "hangup_call" and a.target == call_id
