"""scanner_user_agent — guide: Endpoint Security, user-agent authorization; peers: Kamailio secfilter UA blacklist.

Any request whose user agent contains a known scanner signature (friendly-scanner,
sipvicious, sipcli, …; ``scanner_user_agents`` in the policy) blocks the source IP
(``scanner_block_seconds``, 7 days by default, like APIBAN entries). A request that proves no
round trip over UDP is reported without a block (``block_on_unverified_udp``): anyone can forge
its source and its user agent.
"""

from streams.rules.contract import Order
from streams.rules._common import event_orders

RULE = "scanner_user_agent"
SCOPE = "ip"
EVENTS = ("security",)
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, ev) -> None:
    ua = ev.user_agent
    if not ua:
        return
    low = ua.lower()
    for sig in ctx.tenant.scanners:
        if sig in low:
            evidence = {"user_agent": ua[:200], "signature": sig, "service": ev.service, "account": ev.account}
            acts, variant = event_orders(ctx, ev, [Order("block_ip", ev.src_ip, ctx.tenant.settings.scanner_block_seconds)],
                                         evidence)
            ctx.emit(RULE, SEVERITY, "ip", ev.src_ip, f"SIP scanner {ua[:60]!r} from {ev.src_ip}", evidence, acts,
                     variant=variant)
            return
