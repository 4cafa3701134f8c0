"""distributed_lockout — guide: Endpoint Security and Extension Login Security, "Account Lockout"
(failed registrations and logins), counted across the tenant.

A brute force spread over many source addresses *and* many accounts (password spraying: one or
two guesses per account, one or two per address) stays under every per-IP and per-account
limit. This rule counts every failed registration and login of a tenant in a sliding window
(``distributed_lockout``: more than 100 in 10 min by default) and raises a critical alert when
they came from at least ``sources`` addresses against at least ``accounts`` accounts. No block
action: the sources are many and change; the alert names the most recent ones and the accounts
under attack, for the SOC to act (raise the guide's lockouts, restrict registration by country).
"""

from ._common import names_during, note_name, window_hits
from ..state import TimeSet

RULE = "distributed_lockout"
SCOPE = "tenant"
EVENTS = ("security",)
WANTS = {"reg_failure", "login_failure"}  # event kinds it judges (streams.rules.event_kind)
SEVERITY = "critical"
KEEP = 64  # recent accounts and sources remembered per tenant


def check(ctx, ev) -> None:
    cfg = ctx.tenant.p.distributed_lockout
    st = ctx.st
    if st.failures is None:
        st.failures = TimeSet()
    note_name(st.sources, ev.src_ip, ctx.ts, KEEP)
    if ev.account:
        note_name(st.accounts, ev.account, ctx.ts, KEEP)
    for at, n in window_hits(ctx, st.failures, ctx.ts, cfg.seconds, cfg.failures, ctx.span(), keep=4 * cfg.failures):
        sources = names_during(st.sources, at, cfg.seconds)
        accounts = names_during(st.accounts, at, cfg.seconds)
        if len(sources) < min(cfg.sources, KEEP) or len(accounts) < min(cfg.accounts, KEEP):
            continue
        plus = lambda d: "+" if len(d) >= KEEP else ""  # noqa: E731
        ctx.emit(RULE, SEVERITY, "tenant", ctx.tenant.name,
                 f"Distributed brute force on tenant {ctx.tenant.name}: {n} failed logins and registrations in "
                 f"{cfg.seconds} s from {len(sources)}{plus(sources)} addresses against "
                 f"{len(accounts)}{plus(accounts)} accounts",
                 {"failures": n, "seconds": cfg.seconds, "sources": sources[-16:], "accounts": accounts[-16:]},
                 [], variant="tenant", at=at)
