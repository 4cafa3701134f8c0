"""registration_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts".

After ``failures`` failed registrations from one IP within ``seconds`` (default 10 in 10 min,
fail2ban's asterisk jail): block the source IP (``block_seconds``), lock the targeted
account(s), and raise "Extension Registration Blocked Out" (level Alert).
"""

from ._common import is_registration
from ..windows import slide

RULE = "registration_lockout"
SCOPE = "ip"
EVENTS = ("security",)
SEVERITY = "alert"


def check(ctx, ev) -> None:
    if ev.outcome != "failure" or not is_registration(ev):
        return
    cfg = ctx.tenant.p.registration_lockout
    times = ctx.st.setdefault("rl", [])
    n = slide(times, ctx.ts, cfg.seconds, cfg.failures)
    accts = ctx.st.setdefault("rla", [])
    if ev.account and ev.account not in accts:
        accts.append(ev.account)
        del accts[:-5]
    if n >= cfg.failures:
        actions = [("block_ip", ev.src_ip, cfg.block_seconds)]
        if cfg.lock_account:
            actions += [("lock_account", f"{ctx.tenant.name}/{a}", cfg.block_seconds) for a in accts]
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"Extension Registration Blocked Out: {n} failed registrations from {ev.src_ip} in {cfg.seconds} s",
                 {"failures": n, "seconds": cfg.seconds, "accounts": list(accts), "user_agent": ev.user_agent},
                 actions)
        times.clear()
        accts.clear()
