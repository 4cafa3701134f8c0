"""Helpers shared by the rules."""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from streams.rules.contract import Order

from streams.core.epochs import HORIZON, epoch_of
from streams.domain.events import Cdr, Unblock, parse_ip
from streams.state import TimeSet

SKIP_KINDS = ("short", "emergency")
LOGIN_SERVICES = ("web", "app", "api", "ami", "http", "https")
REGISTERED = frozenset({"reg_success", "reg_request"})   # a registration that was not refused
OUTBOUND = frozenset({"outbound_start", "outbound_end"})


_KINDS: dict[tuple, str] = {}


@lru_cache(maxsize=65536)
def address(text: str):
    """``parse_ip(text)``, remembered (addresses are immutable): a flood source is judged by country_ip and
    its block checked against the never-block list, one parse. Raises ValueError on junk, as parse_ip does."""
    return parse_ip(text)


def event_kind(event) -> str:
    """What a rule may ask for in ``WANTS``: ``reg_|login_|other_`` + outcome, or ``<direction>_<phase>``."""
    if isinstance(event, Cdr):
        k = (event.direction, event.phase)
    elif isinstance(event, Unblock):
        return "unblock"
    elif is_registration(event):
        k = ("reg", event.outcome)
    elif event.action == "login" or (event.action is None and event.service in LOGIN_SERVICES):
        k = ("login", event.outcome)
    else:
        k = ("other", event.outcome)
    kind = _KINDS.get(k)
    if kind is None:
        kind = _KINDS[k] = f"{k[0]}_{k[1]}"
    return kind


def external_call(ctx, cdr: Cdr) -> bool:
    """An outbound call to a real destination, judged once per call (at its first event)."""
    return (cdr.direction == "outbound" and ctx.first_sight and ctx.num.kind not in SKIP_KINDS)


def call_actions(ctx, cdr: Cdr, number_block: bool = False) -> list[tuple[str, str, int | None]]:
    """Cut a call in progress; bar the extension for a completed one; optionally block the number."""
    acts: list[tuple[str, str, int | None]] = []
    if cdr.phase == "start":
        acts.append(Order("hangup_call", cdr.call_id, None))
    else:
        acts.append(Order("disable_outbound", cdr.src, ctx.tenant.settings.outbound_bar_seconds))
    if number_block and ctx.num.e164:
        acts.append(Order("block_number", ctx.num.e164, None))
    return acts


def call_evidence(ctx, cdr: Cdr, **extra) -> dict:
    n = ctx.num
    ev = {"call_id": cdr.call_id, "src": cdr.src, "dst": cdr.dst, "e164": n.e164, "country": n.region,
          "number_type": n.number_type, "phase": cdr.phase}
    if cdr.trunk:
        ev["trunk"] = cdr.trunk
    ev.update(extra)
    return ev


def is_registration(ev) -> bool:
    """A SIP registration, or a SIP authentication that failed on a call (an INVITE with a wrong
    password guesses the same credentials; fail2ban's jails count both). A call refused for its
    number (``dialled``) is a probe, not a guess (``inbound_probe``)."""
    action = ev.action
    if action == "register" or (action is None and ev.service == "sip"):
        return True
    return action == "invite" and ev.outcome == "failure" and ev.dialled is None and ev.service in ("sip", "iax2")


def window_hits(ctx, window: TimeSet, time: float, seconds: float, limit: int, span: float,
                keep: int | None = None, ident: int | None = None) -> list[tuple[float, int]]:
    """Add this event (its identity at ``time``) to a sliding window and yield ``(instant, count)`` for
    the first window end of each epoch at which more than ``limit`` entries fall within ``seconds``.

    Nothing when the event was already counted (by its identity, or ``ident`` when the rule counts
    something else, such as its source). Late events are put in order, so they raise what
    they would have raised on time; the window keeps what a late event can still need (``HORIZON``).
    """
    return _hits(ctx, window, time, seconds, limit, span, keep, ident, None)


def proven_hits(ctx, window: TimeSet, time: float, seconds: float, limit: int, span: float, ident: int,
                keep: int | None = None) -> list[tuple[float, int, bool]]:
    """``window_hits`` of entries ``flagged`` with their proof, each hit with ``may_block`` for it
    (judged before the window forgets anything, so the answer does not depend on arrival order)."""
    return _hits(ctx, window, time, seconds, limit, span, keep, ident,
                 lambda at: may_block(ctx, window, at, seconds))


def _hits(ctx, window, time, seconds, limit, span, keep, ident, judge) -> list:
    i = window.add(time, ctx.ident if ident is None else ident)
    if i < 0:
        return []
    hits = window.exceeded(i, seconds, limit, span)
    if len(hits) > 1:
        hits = first_per_epoch(hits, span)
    if judge is not None:
        hits = [(at, n, judge(at)) for at, n in hits]
    window.prune(ctx.settled - seconds - HORIZON, keep if keep is not None else max(4 * (limit + 1), 64))
    return hits


def first_per_epoch(hits: list[tuple[float, int]], span: float) -> list[tuple[float, int]]:
    """The earliest hit of each incident epoch (emitting the others would only count into it)."""
    seen: set[int] = set()
    out = []
    for at, count in hits:
        e = epoch_of(at, span)
        if e not in seen:
            seen.add(e)
            out.append((at, count))
    return out


def note_name(seen: dict[str, float], name: str, ts: float, keep: int) -> None:
    """Remember ``name`` at its latest time; past ``keep`` names (amortised) the least recent go.
    Latest times and "the most recent ``keep``" do not depend on the order events arrive in."""
    if ts >= seen.get(name, float("-inf")):
        seen[name] = ts
    if len(seen) > keep + keep // 2:
        for _, k in sorted([(t, n) for n, t in seen.items()])[:len(seen) - keep]:  # by (time, name), as before
            del seen[k]


def names_during(seen: dict[str, float], at: float, seconds: float) -> list[str]:
    """Names last seen within ``seconds`` of ``at`` (either side: a name seen again since still counts),
    oldest first."""
    return [k for k, t in sorted(seen.items(), key=lambda kv: (kv[1], kv[0])) if at - seconds <= t <= at + seconds]


# -- proof of the source (issue 25.2) --------------------------------------------------------------
def by_latest(window: TimeSet, lo: float, hi: float, shift: int, none: int | None = None) -> list[int]:
    """The distinct ``id >> shift`` of the window's entries in ``(lo, hi]`` (but ``none``, the value of an entry
    that names nobody), ordered by their latest entry (ties by value): who took part in a window (sources,
    accounts), oldest first, in an order no arrival order changes."""
    ids = window.ids
    latest: dict[int, int] = {}
    for k in range(bisect_right(window.t, lo), bisect_right(window.t, hi)):
        who = ids[k] >> shift
        if who != none:
            latest[who] = k
    return [w for w, _ in sorted(latest.items(), key=lambda kv: (kv[1], kv[0]))]


def verified(ev) -> bool:
    """Does this event prove its source address? Not a failure that needed no round trip
    (``round_trip`` False: no matching peer or endpoint, an unknown user, an ACL refusal) over UDP or
    an unknown transport: anyone can send that with a forged source. A feed that does not say
    (``round_trip`` None), a CDR, and anything over TCP, TLS or WebSocket count as proven."""
    return not (getattr(ev, "round_trip", None) is False and getattr(ev, "protocol", None) in (None, "udp"))


def flagged(ident: int, ev) -> int:
    """A window entry's identity with whether the event proves its source in the lowest bit, so a
    window knows, in any arrival order, whether what it counted includes a proven failure."""
    return (ident << 1) | verified(ev)


def proven(window: TimeSet, at: float, seconds: float, ident: int | None = None) -> bool:
    """Does the window ``(at - seconds, at]`` hold a proven entry (of ``ident``'s source when given)?"""
    ids = window.ids
    for k in range(bisect_right(window.t, at - seconds), bisect_right(window.t, at)):
        if ids[k] & 1 and (ident is None or ids[k] >> 1 == ident):
            return True
    return False


def may_block(ctx, window: TimeSet, at: float, seconds: float, ident: int | None = None) -> bool:
    """May a detection over this window block its source (or lock an account for it)? Only when what
    it counted includes a proven failure, unless the policy's ``block_on_unverified_udp`` says so."""
    return ctx.tenant.settings.block_on_unverified_udp or proven(window, at, seconds, ident)


UNVERIFIED = ("every failure counted needed no round trip over UDP, so its source may be forged: "
              "alert only (block_on_unverified_udp)")


def proven_orders(ctx, ok: bool, orders: list, evidence: dict) -> tuple[list, str]:
    """A window detection's orders and incident variant: as given when ``ok`` (``may_block``); else
    none, in an incident of their own (``unverified``), so a proven failure arriving later still opens
    the blocking one whatever order the two arrive in."""
    if not orders or ok:
        return orders, ""
    evidence["not_blocked"] = UNVERIFIED
    return [], "unverified"


def event_orders(ctx, ev, orders: list, evidence: dict) -> tuple[list, str]:
    """One event's orders and incident variant: none, in an incident of their own (``unverified``),
    when the event does not prove its source (``verified``) and the policy does not block on that."""
    if not orders or verified(ev) or ctx.tenant.settings.block_on_unverified_udp:
        return orders, ""
    evidence["not_blocked"] = UNVERIFIED.replace("every failure counted", "the event")
    return [], "unverified"


def lock_orders(ctx, cfg, accounts, source: str | None) -> list[Order]:
    """``lock_account`` for each of ``accounts`` (names within the tenant), for ``source`` when the
    lockout's ``lock_scope`` is ``source`` (the guide's Blocked IPs table), else for every address."""
    if not cfg.lock_account:
        return []
    scoped = source if cfg.lock_scope == "source" else None
    return [Order("lock_account", f"{ctx.tenant.name}/{a}", cfg.block_seconds, scoped) for a in accounts]
