"""account_takeover — no guide section: a new sign-in, then the calls it was for (correlates the registration and login measures with the outbound ones); from an account's first day, its first sign-in from outside the LAN is new.

The textbook takeover: an account signs in (registers or logs in, successfully) from an address
outside the LAN, or with a user-agent family, that it has not used within ``new_for``, and then,
within ``window``, calls abroad, a premium number, or a destination costing at least
``per_minute``. Either half alone is ordinary (people travel, phones are replaced, sales calls
abroad); the pair raises one critical alert naming both, and in enforce mode locks the account,
bars its outbound calls, blocks the new address and hangs up the call if it is still running.

An account seen for less than ``history`` is still being learnt (a new deployment, a new
extension), and ``new_for`` cannot be judged yet. Then what is new is what departs from the little
that is known (issue 26.4): its first sign-in from outside the LAN, when every earlier one was from
inside it, is a new address, however short the history; and a user-agent family the account has
never used, when it has signed in with another one before, is a new agent. "Never used on the
tenant" would be the better test for the agent, but the worker keeps sign-ins per account (the
``ext`` scope, one detector per scope), so no tenant-wide list of agents exists where this is
judged; the account's own families are the honest equivalent, and an account with no sign-in yet
has nothing to depart from. While learning, an account the policy lets sign in from outside (its
extension's ``remote_registration: true``, the ``remote_registration`` allowed list) or a sign-in
from one of its ``permitted_ips`` is a road warrior, not judged until learnt; so are the LAN's own
first registrations (nothing from the LAN is a takeover).

What is new is judged when the sign-in arrives, against the sign-ins known then; the first sign-in
from outside the LAN is judged again whenever an earlier sign-in arrives late (the LAN's and a
stranger's registrations come from different sources, so a backlog may deliver either first), and
the pairing does not depend on which half arrives first. State is bounded: a few sign-in times per
address and agent family, the newest addresses and families, the first sign-in from outside the
LAN, and the halves still inside the window.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from functools import lru_cache

from streams.rules.contract import Order
from streams.core.epochs import HORIZON, iso, z
from streams.domain.events import Cdr, parse_ip
from streams.state import Takeover
from streams.state.expiry import PROFILE

RULE = "account_takeover"
SCOPE = "ext"
EVENTS = ("security", "cdr")
WANTS = {"reg_success", "login_success", "outbound_start", "outbound_end"}
SEVERITY = "critical"
STATE = ("account_takeover",)  # the slots of its key's state it keeps (streams/state/schema.py)

KEEP_TIMES = 4        # sign-in times kept per address or agent family (the earliest and the newest three)
KEEP_NAMES = 32       # addresses, and agent families, kept per account (the least recently used go)
KEEP_HALVES = 64      # new sign-ins, and risky calls, waiting for their other half (a memory bound only:
                      # thinning per window, not this, keeps what can pair, whatever the arrival order)
_VERSION = re.compile(r"[\d._\-/]+")


def keeps(st, seen: float):
    """How the account signs in (addresses and user agents used within ``new_for``) is remembered up to
    ``PROFILE`` after its last event (instants, streams.state.expiry)."""
    takeover = st.account_takeover
    if takeover is not None and (takeover.ips or takeover.agents):
        yield seen + PROFILE


def check(ctx, ev) -> None:
    p = ctx.tenant.settings.account_takeover
    if isinstance(ev, Cdr):
        _call(ctx, ev, p)
    elif ev.account and ev.src_ip:
        _sign_in(ctx, ev, p)


def _state(ctx) -> Takeover:
    st = ctx.state.account_takeover
    if st is None:
        st = ctx.state.account_takeover = Takeover()
    return st


# -- the sign-in half ---------------------------------------------------------------------------
def _sign_in(ctx, ev, p) -> None:
    st = _state(ctx)
    t = ctx.ts
    remote = not ctx.tenant.exempt(parse_ip(ev.src_ip))
    agent = family(ev.user_agent)
    kind = "login" if ev.action == "login" or ev.service not in ("sip", "iax2") else "registration"
    st.since = t if st.since is None else min(st.since, t)
    if remote:
        _note(st.ips, ev.src_ip, t)
    if agent:
        _note(st.agents, agent, t)
    first = st.remote
    if remote and (first is None or t < first[0]):  # the account's first sign-in from outside the LAN
        st.remote = [t, ev.src_ip, (ev.user_agent or "")[:128], kind, agent]
    if remote:  # a new agent on the office LAN is a new desk phone, not a takeover
        new, learning = _new(ctx, st, p, ev.account, t, ev.src_ip, agent)
        if new:
            half = [t, ev.src_ip, (ev.user_agent or "")[:128], " and ".join(new), kind, learning]
            _keep(st, half, p.window)
            for call in st.calls:
                if t <= call[0] <= t + p.window:
                    _alert(ctx, ev.account, half, call, p)
    if first is not None and t < first[0]:
        # a sign-in before the first one from outside the LAN arrived late: from the LAN, it may make that
        # one new; from outside, that one is no longer the first (this one was judged as the first above)
        _rejudge(ctx, st, p, ev.account, first)
    _prune(ctx, st, p)


def _new(ctx, st: Takeover, p, account: str, t: float, ip: str, agent: str) -> tuple[list[str], bool]:
    """What is new about a sign-in from outside the LAN at ``t`` (judged against sign-ins before it),
    and whether the account was still being learnt."""
    since = st.since
    if since is not None and since <= t - p.history:
        new = []
        if not _seen(st.ips.get(ip), t, p.new_for):
            new.append("address")
        if agent and not _seen(st.agents.get(agent), t, p.new_for):
            new.append("user agent")
        return new, False
    if _road_warrior(ctx, account, ip):
        return [], True
    new = []
    if since is not None and since < t and (st.remote is None or st.remote[0] >= t):
        new.append("address")  # before it, the account signed in only from inside the LAN
    if agent and not _before(st.agents.get(agent), t) and any(
            _before(times, t) for name, times in st.agents.items() if name != agent):
        new.append("user agent")  # a family the account never used, having used another
    return new, True


def _road_warrior(ctx, account: str, ip: str) -> bool:
    """Does the policy say this account signs in from outside the LAN (here)? Its extension's
    ``remote_registration: true``, the tenant's ``allowed`` list, or a permitted remote address."""
    ext = ctx.tenant.ext(account)
    if ext.remote_registration is True:
        return True
    rr = ctx.tenant.settings.remote_registration
    if rr is not None and rr.access == "allowed" and account in rr.accounts:
        return True
    nets = [*(rr.permitted_ips if rr is not None else ()), *(ext.permitted_ips or ())]
    if not nets:
        return False
    addr = parse_ip(ip)
    return any(addr in n for n in nets)


def _rejudge(ctx, st: Takeover, p, account: str, sign_in: list) -> None:
    """Judge a sign-in from outside the LAN again against what is known now (a late earlier sign-in):
    its half is added, changed or withdrawn as the sorted order would have judged it; a half added or
    changed pairs with the calls in its window."""
    t, ip, ua, kind, agent = sign_in
    horizon = ctx.settled - p.window - HORIZON
    if t < horizon:
        return
    new, learning = _new(ctx, st, p, account, t, ip, agent)
    old = next((h for h in st.fresh if h[0] == t and h[1] == ip), None)
    if not new:
        if old is not None:
            st.fresh.remove(old)
        return
    half = [t, ip, ua, " and ".join(new), kind, learning]
    if old == half:
        return
    _keep(st, half, p.window)
    for call in st.calls:
        if t <= call[0] <= t + p.window:
            _alert(ctx, account, half, call, p)


def _keep(st: Takeover, half: list, window: float) -> None:
    """Hold a new sign-in (replacing an earlier judgement of the same one) while it may pair."""
    if half in st.fresh:
        return
    st.fresh = [h for h in st.fresh if not (h[0] == half[0] and h[1] == half[1])]
    st.fresh.append(half)
    st.fresh.sort(key=lambda h: (h[0], h[1]))
    st.fresh = _thin(st.fresh, window)


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


def _before(times: list[float] | None, t: float) -> bool:
    """Was there a sign-in before ``t``? (The earliest time is always kept.)"""
    return bool(times) and times[0] < t


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
    st.calls.sort(key=lambda c: (c[0], c[1]))
    st.calls = _thin(st.calls, p.window)
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


def _thin(halves: list[list], window: float) -> list[list]:
    """Of halves sorted by time, the first and the last of each ``window``-long slot of time (and every
    live call, which may still be cut), at most ``KEEP_HALVES`` of them, the newest.

    What pairs is order-free this way: if any half of a slot lies within ``window`` of another half,
    the slot's first or its last does too (a slot is shorter than the window), so a late other half
    finds a partner however many halves arrived before it. Keeping the newest N instead, a takeover's
    calls were dropped for a later fraud's calls of the same day when those arrived first (a backlog
    read in another partition order), and the worker missed the takeover replay raised."""
    if len(halves) <= 2:
        return halves
    kept: list[list] = []
    slots = [int(h[0] // window) if window > 0 else 0 for h in halves]
    for i, h in enumerate(halves):
        first = i == 0 or slots[i - 1] != slots[i]
        last = i == len(halves) - 1 or slots[i + 1] != slots[i]
        if first or last or (len(h) == 5 and h[4] is True):
            kept.append(h)
    return kept[-KEEP_HALVES:]


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
    signed, ip, agent, new, kind = half[:5]
    learning = len(half) > 5 and bool(half[5])
    start, call_id, number, why, live = call
    minutes = (start - signed) / 60
    first = ", its first from outside the LAN" if learning and new.startswith("address") else ""
    acts = [Order("lock_account", f"{ctx.tenant.name}/{account}", None),
            Order("disable_outbound", account, ctx.tenant.settings.outbound_bar_seconds),
            Order("block_ip", ip, ctx.tenant.settings.block_seconds)]
    if live:
        acts.insert(0, Order("hangup_call", call_id, None))
    ctx.emit(RULE, SEVERITY, "extension", account,
             f"Possible takeover of {account}: a {kind} from a new {new} ({ip}{first}), then {minutes:.0f} min "
             f"later a call to {number}, {why}",
             {"sign_in": {"kind": kind, "src_ip": ip, "user_agent": agent, "new": new, "at": z(iso(signed)),
                          "learning": learning},
              "call": {"call_id": call_id, "dst": number, "why": why, "start": z(iso(start)), "live": live},
              "window_seconds": p.window, "new_for_seconds": p.new_for, "history_seconds": p.history},
             acts, at=max(start, signed))
