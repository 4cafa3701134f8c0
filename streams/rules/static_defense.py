"""static_defense — guide: Network Security, "Restrict Access to PBX by Static Firewall Rules".

Traffic from a source matched by a ``drop`` or ``reject`` static rule is reported and the
source blocked permanently. ``accept`` rules (and the LAN ranges) are handled by the core:
such addresses are never blocked by any dynamic rule.
"""

from streams.rules.contract import Order

RULE = "static_defense"
SCOPE = "ip"
EVENTS = ("security", "cdr")
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, ev) -> None:
    deny = ctx.tenant.deny
    if not deny or not ev.src_ip:
        return
    from streams.domain.events import parse_ip
    ip = parse_ip(ev.src_ip)
    for net, r in deny:
        if ip in net:
            ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                     f"Traffic from {ev.src_ip}, denied by static rule {r.name!r} ({r.action} {r.source})",
                     {"static_rule": r.name, "source": r.source, "action": r.action},
                     [Order("block_ip", ev.src_ip, None)])
            return
