"""registration_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts".

After ``failures`` failed registrations from one IP within ``seconds`` (default 10 in 10 min,
fail2ban's asterisk jail): block the source IP (``block_seconds``), lock the targeted
account(s) for that source (the guide's Blocked IPs table: "Block Account", "SIP Extension:1001",
with the source IP; ``lock_scope: account`` locks them for every address), and raise "Extension
Registration Blocked Out" (level Alert). Each attempt counts once (by its identity), in
event-time order whatever order it arrives in. Failures that needed no round trip over UDP
(``round_trip`` false) count toward the alert, but block and lock only when the window also
holds a proven one, or under ``block_on_unverified_udp``: a forged source is no one to block.
"""

from streams.rules.contract import Order
from streams.rules._common import flagged, is_registration, lock_orders, names_during, note_name, proven_hits, proven_orders
from streams.state import TimeSet

RULE = "registration_lockout"
SCOPE = "ip"
EVENTS = ("security",)
WANTS = {"reg_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
KEEP, LOCKED = 16, 5  # accounts remembered per IP; locked at most per alert (the most recent)


def check(ctx, ev) -> None:
    if ev.outcome != "failure" or not is_registration(ev):
        return
    cfg = ctx.tenant.settings.registration_lockout
    st = ctx.state
    if st.registration_lockout is None:
        st.registration_lockout = TimeSet()
    if ev.account:
        note_name(st.registration_tried, ev.account, ctx.ts, KEEP)
    block = Order("block_ip", ev.src_ip, cfg.block_seconds)
    span = ctx.span([block])
    for at, n, ok in proven_hits(ctx, st.registration_lockout, ctx.ts, cfg.seconds, cfg.failures - 1, span,
                                 flagged(ctx.ident, ev)):
        accts = names_during(st.registration_tried, at, cfg.seconds)[-LOCKED:]  # by time, not by arrival
        evidence = {"failures": n, "seconds": cfg.seconds, "accounts": list(accts), "user_agent": ev.user_agent}
        actions, variant = proven_orders(ctx, ok, [block, *lock_orders(ctx, cfg, accts, ev.src_ip)], evidence)
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"Extension Registration Blocked Out: {n} failed registrations from {ev.src_ip} in {cfg.seconds} s",
                 evidence, actions, variant=variant, at=at, span=span)
