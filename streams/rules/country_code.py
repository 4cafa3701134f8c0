"""country_code — guide: Outbound Call Security, "Restrict Outbound Dialing by Country/Region" (Allowed Country Codes).

When ``allowed_countries`` is set, international calls may go only to listed countries;
a destination whose country cannot be told (unallocated or international-network ranges
such as +882/+883) is not allowed. The destination number is blocked.
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence, external_call

RULE = "country_code"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    allowed = ctx.tenant.allowed_countries
    if allowed is None or not external_call(ctx, cdr) or not ctx.num.international:
        return
    if ctx.num.region in allowed:
        return
    ctx.emit(RULE, SEVERITY, "extension", cdr.src,
             f"Extension {cdr.src} called {ctx.num.e164} in {ctx.num.region or 'an unknown country'}, not an allowed country",
             call_evidence(ctx, cdr, allowed=sorted(allowed)), call_actions(ctx, cdr, number_block=True), at=ctx.call_start)
