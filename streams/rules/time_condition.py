"""time_condition — guide: Outbound Call Security, "Restrict Outbound Dialing by Time Condition".

Judged at call start, in the policy's time zone, with its holidays: an outbound call outside
``business_hours`` from an extension with ``outside_business_hours: false``, or over a route
whose ``time_condition`` is ``business_hours``, is reported (hung up when in progress).
Without configured business hours the rule has nothing to judge and stays silent.
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence, external_call

RULE = "time_condition"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    inside = ctx.tenant.business_hours(ctx.call_start)
    if inside is None or inside:
        return
    route = ctx.tenant.settings.routes.get(cdr.route) if cdr.route else None
    barred = ctx.tenant.ext(cdr.src).outside_business_hours is False
    if not barred and not (route is not None and route.time_condition == "business_hours"):
        return
    local = cdr.start.astimezone(ctx.tenant.tz)
    ctx.emit(RULE, SEVERITY, "extension", cdr.src,
             f"Extension {cdr.src} called {cdr.dst} outside business hours ({local:%a %H:%M} {ctx.tenant.settings.timezone})",
             call_evidence(ctx, cdr, local_time=local.isoformat(), holiday=local.date() in ctx.tenant.holidays),
             call_actions(ctx, cdr), at=ctx.call_start)
