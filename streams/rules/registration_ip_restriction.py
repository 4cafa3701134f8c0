"""registration_ip_restriction — guide: Extension Registration Security, "Restrict Extension Registration by IP Address".

When an extension lists ``permitted_ips`` (addresses or subnets), a registration from any
other address is reported and that address blocked.
"""

from streams.rules.contract import Order
from streams.rules._common import REGISTERED, event_orders, is_registration
from streams.domain.events import parse_ip

RULE = "registration_ip_restriction"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = REGISTERED  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, ev) -> None:
    if ev.outcome == "failure" or not is_registration(ev):
        return
    permitted = ctx.tenant.ext(ev.account).permitted_ips
    if not permitted:
        return
    ip = parse_ip(ev.src_ip)
    if any(ip in n for n in permitted):
        return
    evidence = {"src_ip": ev.src_ip, "permitted": [str(n) for n in permitted], "outcome": ev.outcome}
    acts, variant = event_orders(ctx, ev, [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)], evidence)
    ctx.emit(RULE, SEVERITY, "extension", ev.account,
             f"Extension {ev.account} registered from {ev.src_ip}, outside its permitted IPs",
             evidence, acts, variant=variant)
