"""user_agent_restriction — guide: Extension Registration Security, "Restrict Extension Registration by User Agent".

When an extension lists allowed user-agent prefixes (``user_agents``), a registration whose
user agent starts with none of them is reported (the PBX should have refused it) and its
source IP blocked.
"""

from streams.rules.contract import Order

from streams.rules._common import REGISTERED, event_orders, is_registration

RULE = "user_agent_restriction"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = REGISTERED  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, ev) -> None:
    if ev.outcome == "failure" or not is_registration(ev):
        return
    allowed = ctx.tenant.ext(ev.account).user_agents
    if not allowed:
        return
    ua = (ev.user_agent or "").lower()
    if any(ua.startswith(p) for p in allowed):
        return
    evidence = {"user_agent": ev.user_agent, "allowed": list(allowed), "src_ip": ev.src_ip, "outcome": ev.outcome}
    acts, variant = event_orders(ctx, ev, [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)], evidence)
    ctx.emit(RULE, SEVERITY, "extension", ev.account,
             f"Extension {ev.account} registered with user agent {ev.user_agent!r}, not an allowed prefix",
             evidence, acts, variant=variant)
