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

The lock follows the lockout's ``lock_scope``: ``source`` (the default, the guide's Blocked IPs
table) locks the account for each of the most recent sources (at most ``SOURCES``) that sent a
failure proving a round trip, so the phones on the LAN keep their account; ``account`` locks it
for every address once a proven failure is among those counted. Failures that needed no round
trip over UDP count toward the alert only (``block_on_unverified_udp``).
"""

from streams.rules.contract import Order

from zlib import crc32
from bisect import bisect_right

from streams.rules._common import UNVERIFIED, flagged, is_registration, proven, proven_hits
from streams.state import TimeSet

RULE = "account_lockout"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = {"reg_failure", "login_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
SOURCES = 8  # recent source addresses kept per account, for the evidence
KEEP = 4096  # failures kept per account: a flood arriving out of order is still counted within its window


def check(ctx, ev) -> None:
    if not ev.account:
        return
    kind = "registration" if is_registration(ev) else "login"
    cfg = ctx.tenant.settings.registration_lockout if kind == "registration" else ctx.tenant.settings.login_lockout
    st = ctx.state
    window = st.account_failures.get(kind)
    if window is None:
        window = st.account_failures[kind] = TimeSet()
    sources = st.account_sources
    seen = sources.get(ev.src_ip)
    sources[ev.src_ip] = [min(seen[0], ctx.ts), max(seen[1], ctx.ts)] if seen else [ctx.ts, ctx.ts]
    if len(sources) > SOURCES:
        for ip in sorted(sources, key=lambda k: sources[k][1])[:len(sources) - SOURCES]:
            del sources[ip]
    span = ctx.span([Order("lock_account", "", cfg.block_seconds)])
    # each failure is counted as (instant, source, proven?): how many sources took part, and which of
    # them proved a round trip, is read from the window itself, whatever order the failures arrived in
    for at, n, ok in proven_hits(ctx, window, ctx.ts, cfg.seconds, cfg.failures - 1, span,
                                 flagged(crc32(ev.src_ip.encode()), ev), keep=KEEP):
        if _sources_in(window, at, cfg.seconds) < 2:
            continue
        during = sorted(ip for ip, (first, last) in sources.items() if first <= at and last >= at - cfg.seconds)
        evidence = {"failures": n, "seconds": cfg.seconds, "kind": kind, "sources": during, "service": ev.service}
        actions = _locks(ctx, cfg, window, at, ok, ev.account, during, evidence)
        ctx.emit(RULE, SEVERITY, "account", ev.account,
                 f"Account {ev.account} locked: {n} failed {kind}s in {cfg.seconds} s from "
                 f"{'more than one' if len(during) < 2 else len(during)}{'+' if len(sources) == SOURCES else ''} "
                 "source addresses",
                 evidence, actions or [], variant=kind if actions is not None else f"{kind}/unverified",
                 at=at, span=span)


def _locks(ctx, cfg, window: TimeSet, at: float, ok: bool, account: str, during: list[str],
           evidence: dict) -> list[Order] | None:
    """The account's locks: for each recent source that proved a round trip (``lock_scope: source``), or
    one for every address (``account``); None when no failure counted proved one (``ok``, read from the
    window alone, so the incident and its id do not depend on arrival order)."""
    trust = ctx.tenant.settings.block_on_unverified_udp
    if not ok:
        evidence["unverified"] = UNVERIFIED
        return None
    if cfg.lock_scope == "account":
        ips = [None]
    else:
        ips = [ip for ip in during if trust or proven(window, at, cfg.seconds, crc32(ip.encode()))]
        if len(ips) < len(during):
            evidence["unverified"] = f"{UNVERIFIED}: {', '.join(ip for ip in during if ip not in ips)}"
    return [Order("lock_account", f"{ctx.tenant.name}/{account}", cfg.block_seconds, ip) for ip in ips]


def _sources_in(window: TimeSet, at: float, seconds: float) -> int:
    """Distinct sources among the failures in the window ending at ``at`` (stops counting at two)."""
    lo, hi = bisect_right(window.t, at - seconds), bisect_right(window.t, at)
    first = None
    for k in range(lo, hi):
        if first is None:
            first = window.ids[k] >> 1  # the source, without the proof bit (streams.rules._common.flagged)
        elif window.ids[k] >> 1 != first:
            return 2
    return 0 if first is None else 1
