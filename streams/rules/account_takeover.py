"""account_takeover — no guide section: a new sign-in, then the calls it was for (correlates the registration and login measures with the outbound ones).

The textbook takeover: an account signs in (registers or logs in, successfully) from an address
outside the LAN, or with a user-agent family, that it has not used within ``new_for``, and then,
within ``window``, calls abroad, a premium number, or a destination costing at least
``per_minute``. Either half alone is ordinary (people travel, phones are replaced, sales calls
abroad); the pair raises one critical alert naming both, and in enforce mode locks the account,
bars its outbound calls, blocks the new address and hangs up the call if it is still running.

An account seen for less than ``history`` is still being learnt: its sign-ins are not new.
What is new is judged when the sign-in arrives, against the sign-ins known then; the pairing
does not depend on which half arrives first. State is bounded: a few sign-in times per address
and agent family, the newest addresses and families, and the halves still inside the window.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from functools import lru_cache

from .contract import Order
from ..epochs import HORIZON
from ..events import Cdr, parse_ip
from ..state import Takeover

RULE = "account_takeover"
SCOPE = "ext"
EVENTS = ("security", "cdr")
WANTS = {"reg_success", "login_success", "outbound_start", "outbound_end"}
SEVERITY = "critical"

KEEP_TIMES = 4        # sign-in times kept per address or agent family (the earliest and the newest three)
KEEP_NAMES = 32       # addresses, and agent families, kept per account (the least recently used go)
KEEP_HALVES = 8       # new sign-ins, and risky calls, waiting for their other half
_VERSION = re.compile(r"[\d._\-/]+")


def check(ctx, ev) -> None:
    p = ctx.tenant.p.account_takeover
    if isinstance(ev, Cdr):
        _call(ctx, ev, p)
    elif ev.account and ev.src_ip:
        _sign_in(ctx, ev, p)


def _state(ctx) -> Takeover:
    st = ctx.st.account_takeover
    if st is None:
        st = ctx.st.account_takeover = Takeover()
    return st


# -- the sign-in half ---------------------------------------------------------------------------
def _sign_in(ctx, ev, p) -> None:
    st = _state(ctx)
    t = ctx.ts
    remote = not ctx.tenant.exempt(parse_ip(ev.src_ip))
    agent = family(ev.user_agent)
    learnt = st.since is not None and st.since <= t - p.history
    new = []
    if learnt and remote and not _seen(st.ips.get(ev.src_ip), t, p.new_for):
        new.append("address")
    if learnt and agent and not _seen(st.agents.get(agent), t, p.new_for):
        new.append("user agent")
    st.since = t if st.since is None else min(st.since, t)
    if remote:
        _note(st.ips, ev.src_ip, t)
    if agent:
        _note(st.agents, agent, t)
    if new and remote:  # a new agent on the office LAN is a new desk phone, not a takeover
        kind = "login" if ev.action == "login" or ev.service not in ("sip", "iax2") else "registration"
        half = [t, ev.src_ip, (ev.user_agent or "")[:128], " and ".join(new), kind]
        if half not in st.fresh:
            st.fresh.append(half)
            st.fresh.sort(key=lambda h: h[0])
            del st.fresh[:-KEEP_HALVES]
        for call in st.calls:
            if t <= call[0] <= t + p.window:
                _alert(ctx, ev.account, half, call, p)
    _prune(ctx, st, p)


@lru_cache(maxsize=4096)
def family(agent: str | None) -> str:
    """A user agent without its version numbers (a firmware update is not a new device)."""
    if not agent:
        return ""
    return " ".join(_VERSION.sub(" ", agent.lower()).split())[:64]


def _seen(times: list[float] | None, t: float, within: float) -> bool:
    """Was there a sign-in in [t - within, t)? (Later ones do not count: they came after.)"""
    if not times:
        return False
    i = bisect_left(times, t)
    return i > 0 and times[i - 1] >= t - within


def _note(names: dict[str, list[float]], name: str, t: float) -> None:
    times = names.get(name)
    if times is None:
        if len(names) >= KEEP_NAMES:
            del names[min(names, key=lambda n: (names[n][-1], n))]
        times = names[name] = []
    if t not in times:
        insort(times, t)
        if len(times) > KEEP_TIMES:
            del times[1]  # keep the earliest (how long it has been known) and the newest


# -- the call half ------------------------------------------------------------------------------
def _call(ctx, cdr, p) -> None:
    n = ctx.num
    if n.kind in ("short", "emergency") or (cdr.phase == "end" and cdr.disposition not in (None, "answered")):
        return
    why = _risky(ctx, n, p)
    if why is None:
        return
    st = _state(ctx)
    start = ctx.call_start
    known = next((c for c in st.calls if c[1] == cdr.call_id), None)
    if known is not None:
        known[4] = known[4] and cdr.phase == "start"  # its end arrived: no longer live
        return
    call = [start, cdr.call_id[:128], (n.e164 or cdr.dst)[:32], why, cdr.phase == "start"]
    st.calls.append(call)
    st.calls.sort(key=lambda c: c[0])
    del st.calls[:-KEEP_HALVES]
    for half in st.fresh:
        if half[0] <= start <= half[0] + p.window:
            _alert(ctx, cdr.src, half, call, p)
            break
    _prune(ctx, st, p)


def _risky(ctx, n, p) -> str | None:
    if n.premium or (n.international and n.possible and not n.valid):
        return "a premium or unallocated number"
    if n.international:
        return f"abroad ({n.region or 'unknown country'})"
    rate = ctx.tenant.rates.per_minute(n)
    if p.per_minute and rate >= p.per_minute:
        return f"{rate:g} a minute"
    return None


def _prune(ctx, st: Takeover, p) -> None:
    """Halves older than the window (and the lateness horizon) can no longer pair. Addresses and agent
    families are bounded by count (``_note``); older sign-ins are simply outside ``new_for``."""
    horizon = ctx.settled - p.window - HORIZON
    if horizon == float("-inf"):
        return
    if st.fresh and st.fresh[0][0] < horizon:
        st.fresh = [h for h in st.fresh if h[0] >= horizon]
    if st.calls and st.calls[0][0] < horizon:
        st.calls = [c for c in st.calls if c[0] >= horizon]


# -- the alert ----------------------------------------------------------------------------------
def _alert(ctx, account: str, half: list, call: list, p) -> None:
    signed, ip, agent, new, kind = half
    start, call_id, number, why, live = call
    minutes = (start - signed) / 60
    acts = [Order("lock_account", f"{ctx.tenant.name}/{account}", None),
            Order("disable_outbound", account, ctx.tenant.p.outbound_bar_seconds),
            Order("block_ip", ip, ctx.tenant.p.block_seconds)]
    if live:
        acts.insert(0, Order("hangup_call", call_id, None))
    ctx.emit(RULE, SEVERITY, "extension", account,
             f"Possible takeover of {account}: a {kind} from a new {new} ({ip}), then {minutes:.0f} min later "
             f"a call to {number}, {why}",
             {"sign_in": {"kind": kind, "src_ip": ip, "user_agent": agent, "new": new, "at": _iso(signed)},
              "call": {"call_id": call_id, "dst": number, "why": why, "start": _iso(start), "live": live},
              "window_seconds": p.window, "new_for_seconds": p.new_for},
             acts, at=max(start, signed))


def _iso(ts: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")
