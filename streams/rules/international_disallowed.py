"""international_disallowed — guide: Outbound Call Security, "Restrict Outbound Dialing by Country/Region" (Disallow International Calls).

International calls are barred unless the extension has ``international: true``. The
dialled number is normalised first (international prefix, national prefix, home country).
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence, external_call

RULE = "international_disallowed"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr) or not ctx.num.international:
        return
    if ctx.tenant.ext(cdr.src).international:
        return
    ctx.emit(RULE, SEVERITY, "extension", cdr.src,
             f"Extension {cdr.src}, not permitted to call abroad, called {ctx.num.e164} ({ctx.num.region or 'unknown country'})",
             call_evidence(ctx, cdr), call_actions(ctx, cdr), at=ctx.call_start)
