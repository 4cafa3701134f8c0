"""remote_registration — guide: Extension Registration Security, "Restrict Remote Registration".

A registration from outside the LAN (and not from a static-accept source) is checked
against the extension's ``remote_registration`` flag and the tenant's
``remote_registration`` access list: ``allowed`` = only the listed accounts may register
remotely, ``restricted`` = all but the listed accounts may, and a non-empty
``permitted_ips`` limits the remote addresses. A violation is reported and the address
blocked.
"""

from streams.rules.contract import Order

from streams.rules._common import REGISTERED, event_orders, is_registration
from streams.domain.events import parse_ip

RULE = "remote_registration"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = REGISTERED  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, ev) -> None:
    if ev.outcome == "failure" or not is_registration(ev):
        return
    ip = parse_ip(ev.src_ip)
    if ctx.tenant.exempt(ip):
        return
    ext = ctx.tenant.ext(ev.account)
    why = None
    if ext.remote_registration is False:
        why = "the extension may not register remotely"
    else:
        rr = ctx.tenant.settings.remote_registration
        if rr is not None and ext.remote_registration is not True:
            listed = ev.account in rr.accounts
            if rr.access == "allowed" and not listed:
                why = "the account is not on the remote-registration allowed list"
            elif rr.access == "restricted" and listed:
                why = "the account is on the remote-registration restricted list"
        if why is None and rr is not None and rr.permitted_ips and not any(ip in n for n in rr.permitted_ips):
            why = "the address is not a permitted remote IP"
    if why is None:
        return
    evidence = {"src_ip": ev.src_ip, "reason": why, "user_agent": ev.user_agent, "outcome": ev.outcome}
    acts, variant = event_orders(ctx, ev, [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)], evidence)
    ctx.emit(RULE, SEVERITY, "extension", ev.account,
             f"Remote registration of extension {ev.account} from {ev.src_ip}: {why}",
             evidence, acts, variant=variant)
