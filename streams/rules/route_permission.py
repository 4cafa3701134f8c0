"""route_permission — guide: Outbound Call Security, "Restrict Outbound Dialing by Outbound Route Permission".

A call over a route whose ``extensions`` list does not include the caller, or from an
extension with ``outbound: false`` ("Disable Outbound Calls"), is reported; a call in
progress is hung up, a completed one bars the extension's outbound calls.
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence, external_call

RULE = "route_permission"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    why = None
    if ctx.tenant.ext(cdr.src).outbound is False:
        why = "outbound calls are disabled for the extension"
    elif cdr.route:
        route = ctx.tenant.settings.routes.get(cdr.route)
        if route is not None and route.extensions is not None and cdr.src not in route.extensions:
            why = f"extension is not permitted on route {cdr.route!r}"
    if why:
        ctx.emit(RULE, SEVERITY, "extension", cdr.src, f"Extension {cdr.src} called {cdr.dst}: {why}",
                 call_evidence(ctx, cdr, route=cdr.route, reason=why), call_actions(ctx, cdr), at=ctx.call_start)
