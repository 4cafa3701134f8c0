"""premium_rate — guide: Outbound Call Security, "Restrict Outbound Dialing by Phone Number" (premium-rate numbers are the target of toll fraud).

Fires for destinations libphonenumber types as premium rate or shared cost, and for
international numbers that are possible but not valid (unallocated ranges, where more
than 20% of IRSF test numbers sit, by the peer systems' published IRSF lists). The destination number is blocked.
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence, external_call

RULE = "premium_rate"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "critical"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    n = ctx.num
    if n.premium:
        why = f"a {n.number_type.replace('_', ' ')} number"
    elif n.international and n.possible and not n.valid:
        why = "an unallocated international range (possible but not valid)"
    else:
        return
    ctx.emit(RULE, SEVERITY, "extension", cdr.src, f"Extension {cdr.src} called {n.e164}, {why}",
             call_evidence(ctx, cdr, why=why), call_actions(ctx, cdr, number_block=True), at=ctx.call_start)
