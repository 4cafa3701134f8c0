"""login_lockout — guide: Extension Login Security, "Account Lockout for Failed Login Attempts".

Web, app (Linkus), API and AMI logins: ``failures`` failed logins from one IP within
``seconds`` deny it temporarily (block for ``block_seconds``, default 5 in 10 min, fail2ban);
reaching ``max_failures`` within ``max_seconds`` bans the IP permanently and raises
"Web/App User Blocked Out". Failures keep counting towards the maximum while the temporary
block lasts.
"""

from ..windows import slide

RULE = "login_lockout"
SCOPE = "ip"
EVENTS = ("security",)
SEVERITY = "alert"
COUNTS_WHILE_BLOCKED = True
LOGIN_SERVICES = ("web", "app", "api", "ami", "http", "https")


def check(ctx, ev) -> None:
    if ev.outcome != "failure":
        return
    if not (ev.action == "login" or (ev.action is None and ev.service in LOGIN_SERVICES)):
        return
    cfg = ctx.tenant.p.login_lockout
    who = "Web" if ev.service in ("web", "http", "https") else "App" if ev.service == "app" else ev.service.upper()
    longw = ctx.st.setdefault("llm", [])
    if cfg.max_failures:
        m = slide(longw, ctx.ts, cfg.max_seconds, cfg.max_failures)
        if m >= cfg.max_failures:
            ctx.emit(RULE, "critical", "ip", ev.src_ip,
                     f"{who} User Blocked Out: {m} failed logins from {ev.src_ip}; banned permanently",
                     {"failures": m, "seconds": cfg.max_seconds, "service": ev.service, "account": ev.account,
                      "permanent": True},
                     [("block_ip", ev.src_ip, None)], variant="permanent")
            return
    times = ctx.st.setdefault("ll", [])
    n = slide(times, ctx.ts, cfg.seconds, cfg.failures)
    if n >= cfg.failures:
        actions = [("block_ip", ev.src_ip, cfg.block_seconds)]
        if cfg.lock_account and ev.account:
            actions.append(("lock_account", f"{ctx.tenant.name}/{ev.account}", cfg.block_seconds))
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"{who} User Blocked Out: {n} failed logins from {ev.src_ip} in {cfg.seconds} s; denied temporarily",
                 {"failures": n, "seconds": cfg.seconds, "service": ev.service, "account": ev.account,
                  "permanent": False},
                 actions)
