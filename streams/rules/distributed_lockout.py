"""distributed_lockout — guide: Endpoint Security and Extension Login Security, "Account Lockout"
(failed registrations and logins), counted across the tenant.

A brute force spread over many source addresses *and* many accounts (password spraying: one or
two guesses per account, one or two per address) stays under every per-IP and per-account
limit. This rule counts every failed registration and login of a tenant in a sliding window
(``distributed_lockout``: more than 100 in 10 min by default) and raises a critical alert when
they came from at least ``sources`` addresses against at least ``accounts`` accounts. No block
action: the sources are many and change; the alert names the most recent ones and the accounts
under attack, for the SOC to act (raise the guide's lockouts, restrict registration by country).

It orders no ``lock_account`` either, so ``lock_scope`` has nothing to scope here: a spray spends
one or two guesses per account, and locking each account it touched (for every address) would let
anyone who can forge a hundred UDP sources lock the whole tenant's phones out; locking it for each
source would only repeat what ``registration_lockout`` and ``account_lockout`` already order for the
sources that reach their limits.
"""

from zlib import crc32

from streams.rules._common import names_during, note_name, window_hits
from streams.core.epochs import HORIZON
from streams.state import TimeSet
from streams.state.windex import WindowIndex

RULE = "distributed_lockout"
SCOPE = "tenant"
EVENTS = ("security",)
WANTS = {"reg_failure", "login_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "critical"
STATE = ("failures", "failure_sources", "failure_accounts", "accounts", "sources")  # the slots of its key's state it keeps (streams/state/schema.py)
KEEP = 64  # recent accounts and sources named in the evidence
DISTINCT_KEEP = 4096  # failures kept per tenant to count distinct sources and accounts in any order


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.distributed_lockout.seconds


def routes(ev, tenant) -> bool:
    """Every failed registration and login of the tenant (``WANTS``) reaches its key."""
    return True


def check(ctx, ev) -> None:
    cfg = ctx.tenant.settings.distributed_lockout
    st = ctx.state
    if st.failures is None:
        st.failures = TimeSet()
    if st.failure_sources is None:
        st.failure_sources, st.failure_accounts = TimeSet(), TimeSet()
    note_name(st.sources, ev.src_ip, ctx.ts, KEEP)
    if ev.account:
        note_name(st.accounts, ev.account, ctx.ts, KEEP)
    # how many sources and accounts took part is read from windows of (instant, source) and (instant, account),
    # so it does not depend on the order the failures arrive in
    _note(ctx, st.failure_sources, ev.src_ip, cfg.seconds)
    _note(ctx, st.failure_accounts, ev.account or "", cfg.seconds)
    for at, n in window_hits(ctx, st.failures, ctx.ts, cfg.seconds, cfg.failures, ctx.span(), keep=DISTINCT_KEEP):
        n_sources = _distinct(st.failure_sources, at, cfg.seconds, cfg.sources)
        n_accounts = _distinct(st.failure_accounts, at, cfg.seconds, cfg.accounts)
        if n_sources < cfg.sources or n_accounts < cfg.accounts:
            continue
        if ctx.absorbed(RULE, "tenant", ctx.tenant.name, "tenant", at):  # counted into the open incident: no names
            ctx.emit(RULE, SEVERITY, "tenant", ctx.tenant.name,
                     f"Distributed brute force on tenant {ctx.tenant.name}: {n} failed logins and registrations in "
                     f"{cfg.seconds} s", {}, [], variant="tenant", at=at)
            continue
        sources = names_during(st.sources, at, cfg.seconds)
        accounts = names_during(st.accounts, at, cfg.seconds)
        plus = lambda d: "+" if len(d) >= KEEP else ""  # noqa: E731
        ctx.emit(RULE, SEVERITY, "tenant", ctx.tenant.name,
                 f"Distributed brute force on tenant {ctx.tenant.name}: {n} failed logins and registrations in "
                 f"{cfg.seconds} s from {max(n_sources, len(sources))}{plus(sources)} addresses against "
                 f"{max(n_accounts, len(accounts))}{plus(accounts)} accounts",
                 {"failures": n, "seconds": cfg.seconds, "sources": sources[-16:], "accounts": accounts[-16:]},
                 [], variant="tenant", at=at)


def _note(ctx, window: TimeSet, name: str, seconds: float) -> None:
    ident = crc32(name.encode())
    WindowIndex.added(window, window.add(ctx.ts, ident), ctx.ts, ident)
    WindowIndex.prune(window, ctx.settled - seconds - HORIZON, DISTINCT_KEEP)


def _distinct(window: TimeSet, at: float, seconds: float, enough: int) -> int:
    """Distinct names among the entries of the window ending at ``at`` (stops once ``enough`` are found):
    from the window's index (streams.state.windex), two binary searches when the window ends at its newest
    entry (a flood in order: fewer accounts than ``accounts`` no longer means a scan of 4,096 entries)."""
    return WindowIndex.distinct_in(window, at - seconds, at, enough)
