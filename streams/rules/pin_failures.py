"""pin_failures — guide: Outbound Call Security, "Restrict Outbound Dialing by PIN Code".

Calls carry ``pin: bad`` when the caller entered a wrong route PIN. ``failures`` bad PINs
from one extension within ``seconds`` (default 5 in 10 min) is PIN guessing: the extension's
outbound calls are barred. A call without a PIN over a route that requires one counts as a
bad PIN. Each call counts once, at its start.
"""

from streams.rules.contract import Order

from streams.rules._common import OUTBOUND, window_hits
from streams.state import TimeSet

RULE = "pin_failures"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ("pin_failures",)  # the slots of its key's state it keeps (streams/state/schema.py)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.pin_failures.seconds


def check(ctx, cdr) -> None:
    if cdr.direction != "outbound" or not ctx.first_sight:
        return
    bad = cdr.pin == "bad"
    if not bad and cdr.pin is None and cdr.route:
        route = ctx.tenant.settings.routes.get(cdr.route)
        bad = route is not None and route.pin
    if not bad:
        return
    cfg = ctx.tenant.settings.pin_failures
    if ctx.state.pin_failures is None:
        ctx.state.pin_failures = TimeSet()
    acts = [Order("disable_outbound", cdr.src, ctx.tenant.settings.outbound_bar_seconds)]
    for at, n in window_hits(ctx, ctx.state.pin_failures, ctx.call_start, cfg.seconds, cfg.failures - 1, ctx.span(acts)):
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} entered {n} bad route PINs in {cfg.seconds} s (PIN guessing)",
                 {"failures": n, "seconds": cfg.seconds, "last_call_id": cdr.call_id, "route": cdr.route},
                 acts, at=at)
