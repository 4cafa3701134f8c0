"""account_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts", and
Extension Login Security, "Account Lockout for Failed Login Attempts", counted per account.

The guide's lockouts count failures per source IP. A distributed brute force rotates source
addresses, so no IP ever reaches the limit while one account takes thousands of guesses. This
rule counts failed registrations and failed logins against one account from every source,
with the guide's thresholds (``registration_lockout`` for registrations, ``login_lockout`` for
logins), and locks the account when they came from more than one address (a single source is the
per-IP rules' case, and raising it twice would only double the SOC's queue). It does not block
an IP: the sources are many and each is judged by the per-IP rules. The evidence lists the most
recent sources.
"""

from .contract import Order

from zlib import crc32
from bisect import bisect_left, bisect_right

from ._common import is_registration, window_hits
from ..state import TimeSet

RULE = "account_lockout"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = {"reg_failure", "login_failure"}  # event kinds it judges (streams.rules.event_kind)
SEVERITY = "alert"
SOURCES = 8  # recent source addresses kept per account, for the evidence
KEEP = 4096  # failures kept per account: a flood arriving out of order is still counted within its window


def check(ctx, ev) -> None:
    if not ev.account:
        return
    kind = "registration" if is_registration(ev) else "login"
    cfg = ctx.tenant.p.registration_lockout if kind == "registration" else ctx.tenant.p.login_lockout
    st = ctx.st
    window = st.account_failures.get(kind)
    if window is None:
        window = st.account_failures[kind] = TimeSet()
    sources = st.account_sources
    seen = sources.get(ev.src_ip)
    sources[ev.src_ip] = [min(seen[0], ctx.ts), max(seen[1], ctx.ts)] if seen else [ctx.ts, ctx.ts]
    if len(sources) > SOURCES:
        for ip in sorted(sources, key=lambda k: sources[k][1])[:len(sources) - SOURCES]:
            del sources[ip]
    account = f"{ctx.tenant.name}/{ev.account}"
    actions = [Order("lock_account", account, cfg.block_seconds)]
    # each failure is counted as (instant, source): how many sources took part is read from the window
    # itself, whatever order the failures arrived in
    source = crc32(ev.src_ip.encode())
    for at, n in window_hits(ctx, window, ctx.ts, cfg.seconds, cfg.failures - 1, ctx.span(actions),
                             keep=KEEP, ident=source):
        if _sources_in(window, at, cfg.seconds) < 2:
            continue
        during = sorted(ip for ip, (first, last) in sources.items() if first <= at and last >= at - cfg.seconds)
        ctx.emit(RULE, SEVERITY, "account", ev.account,
                 f"Account {ev.account} locked: {n} failed {kind}s in {cfg.seconds} s from "
                 f"{'more than one' if len(during) < 2 else len(during)}{'+' if len(sources) == SOURCES else ''} "
                 "source addresses",
                 {"failures": n, "seconds": cfg.seconds, "kind": kind, "sources": during, "service": ev.service},
                 actions, variant=kind, at=at)


def _sources_in(window: TimeSet, at: float, seconds: float) -> int:
    """Distinct sources among the failures in the window ending at ``at`` (stops counting at two)."""
    lo, hi = bisect_right(window.t, at - seconds), bisect_right(window.t, at)
    first = None
    for k in range(lo, hi):
        if first is None:
            first = window.ids[k]
        elif window.ids[k] != first:
            return 2
    return 0 if first is None else 1
