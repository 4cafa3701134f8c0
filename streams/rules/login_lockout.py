"""login_lockout — guide: Extension Login Security, "Account Lockout for Failed Login Attempts".

Web, app (Linkus), API and AMI logins: ``failures`` failed logins from one IP within
``seconds`` deny it temporarily (block for ``block_seconds``, default 5 in 10 min, fail2ban);
reaching ``max_failures`` within ``max_seconds`` bans the IP permanently and raises
"Web/App User Blocked Out". Both windows count every failure, also while a block lasts. With
``lock_account`` the account is locked for that source (``lock_scope: account``: for every
address). Failures that needed no round trip over UDP count toward the alert but block only
beside a proven one (``block_on_unverified_udp``), as in ``registration_lockout``.
"""

from streams.rules.contract import Order
from streams.rules._common import first_per_epoch, flagged, lock_orders, may_block, proven_orders
from streams.core.epochs import FOREVER, HORIZON
from streams.state import TimeSet

RULE = "login_lockout"
SCOPE = "ip"
EVENTS = ("security",)
WANTS = {"login_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ("login_lockout",)  # the slots of its key's state it keeps (streams/state/schema.py)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.login_lockout.seconds
    if p.login_lockout.max_failures:
        yield SCOPE, p.login_lockout.max_seconds


def check(ctx, ev) -> None:
    cfg = ctx.tenant.settings.login_lockout
    if ctx.state.login_lockout is None:
        ctx.state.login_lockout = TimeSet()
    window = ctx.state.login_lockout
    i = window.add(ctx.ts, flagged(ctx.ident, ev))
    if i < 0:
        return
    who = "Web" if ev.service in ("web", "http", "https") else "App" if ev.service == "app" else ev.service.upper()
    temp = [Order("block_ip", ev.src_ip, cfg.block_seconds)]
    if ev.account:
        temp += lock_orders(ctx, cfg, [ev.account], ev.src_ip)
    span = ctx.span(temp)
    for at, n in first_per_epoch(window.exceeded(i, cfg.seconds, cfg.failures - 1), span):
        evidence = {"failures": n, "seconds": cfg.seconds, "service": ev.service, "account": ev.account,
                    "permanent": False}
        acts, variant = proven_orders(ctx, may_block(ctx, window, at, cfg.seconds), temp, evidence)
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"{who} User Blocked Out: {n} failed logins from {ev.src_ip} in {cfg.seconds} s; denied temporarily",
                 evidence, acts, variant=variant, at=at, span=span)
    longest = cfg.seconds
    if cfg.max_failures:
        longest = max(longest, cfg.max_seconds)
        for at, n in first_per_epoch(window.exceeded(i, cfg.max_seconds, cfg.max_failures - 1), FOREVER):
            evidence = {"failures": n, "seconds": cfg.max_seconds, "service": ev.service, "account": ev.account,
                        "permanent": True}
            acts, variant = proven_orders(ctx, may_block(ctx, window, at, cfg.max_seconds),
                                          [Order("block_ip", ev.src_ip, None)], evidence)
            ctx.emit(RULE, "critical", "ip", ev.src_ip,
                     f"{who} User Blocked Out: {n} failed logins from {ev.src_ip}; banned permanently",
                     evidence, acts, variant="permanent" + (variant and f"/{variant}"), at=at, span=FOREVER)
    window.prune(ctx.settled - longest - HORIZON, max(4 * max(cfg.failures, cfg.max_failures or 0), 64))

