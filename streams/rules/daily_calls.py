"""daily_calls — no guide section; peer: OpenSIPS fraud_detection "total calls per day".

More than ``daily_calls`` outbound calls (default 500, per extension ``daily_calls``) by one
extension within one calendar day of the policy's time zone.
"""

from ._common import call_actions, external_call

RULE = "daily_calls"
SCOPE = "ext"
EVENTS = ("cdr",)
SEVERITY = "warning"


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    day = ctx.tenant.local_day(ctx.call_start)
    dc = ctx.st.get("day")
    if dc is None or dc[0] != day:
        dc = ctx.st["day"] = [day, 0]
    dc[1] += 1
    limit = ctx.tenant.ext(cdr.src).daily_calls
    if dc[1] > limit:
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} placed {dc[1]} outbound calls today (limit {limit})",
                 {"calls": dc[1], "limit": limit}, call_actions(ctx, cdr), variant=str(day))
