"""registration_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts".

After ``failures`` failed registrations from one IP within ``seconds`` (default 10 in 10 min,
fail2ban's asterisk jail): block the source IP (``block_seconds``), lock the targeted
account(s), and raise "Extension Registration Blocked Out" (level Alert). Each attempt counts
once (by its identity), in event-time order whatever order it arrives in.
"""

from .contract import Order
from ._common import is_registration, names_during, note_name, window_hits
from ..state import TimeSet

RULE = "registration_lockout"
SCOPE = "ip"
EVENTS = ("security",)
WANTS = {"reg_failure"}  # event kinds it judges (streams.rules.event_kind)
SEVERITY = "alert"
KEEP, LOCKED = 16, 5  # accounts remembered per IP; locked at most per alert (the most recent)


def check(ctx, ev) -> None:
    if ev.outcome != "failure" or not is_registration(ev):
        return
    cfg = ctx.tenant.p.registration_lockout
    st = ctx.st
    if st.registration_lockout is None:
        st.registration_lockout = TimeSet()
    if ev.account:
        note_name(st.registration_tried, ev.account, ctx.ts, KEEP)
    for at, n in window_hits(ctx, st.registration_lockout, ctx.ts, cfg.seconds, cfg.failures - 1,
                             ctx.span([Order("block_ip", ev.src_ip, cfg.block_seconds)])):
        accts = names_during(st.registration_tried, at, cfg.seconds)[-LOCKED:]  # by time, not by arrival
        actions = [Order("block_ip", ev.src_ip, cfg.block_seconds)]
        if cfg.lock_account:
            actions += [Order("lock_account", f"{ctx.tenant.name}/{a}", cfg.block_seconds) for a in accts]
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"Extension Registration Blocked Out: {n} failed registrations from {ev.src_ip} in {cfg.seconds} s",
                 {"failures": n, "seconds": cfg.seconds, "accounts": list(accts), "user_agent": ev.user_agent},
                 actions, at=at)
