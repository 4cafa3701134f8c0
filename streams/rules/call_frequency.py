"""call_frequency — guide: Outbound Call Security, "Restrict Outbound Dialing by Frequency of Calls".

Default rule: up to 5 outbound calls per second per extension; ``call_frequency``
(``{calls, seconds}``) per tenant or per extension customises it. A window of ``seconds``
holding more than ``calls`` call starts fires and bars the extension. Each call counts once
(by call id), at its start, whether it arrives as a live start event, a completed CDR, or
both, and in whatever order the feed delivers it.
"""

from streams.rules.contract import Order
from streams.rules._common import OUTBOUND, call_actions, external_call, window_hits
from streams.state import TimeSet

RULE = "call_frequency"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "critical"
STATE = ("call_frequency",)  # the slots of its key's state it keeps (streams/state/schema.py)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.call_frequency.seconds


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    rate = ctx.tenant.ext(cdr.src).call_frequency
    if ctx.state.call_frequency is None:
        ctx.state.call_frequency = TimeSet()
    acts = call_actions(ctx, cdr)
    if cdr.phase == "start":
        acts.append(Order("disable_outbound", cdr.src, ctx.tenant.settings.outbound_bar_seconds))
    for at, n in window_hits(ctx, ctx.state.call_frequency, ctx.call_start, rate.seconds, rate.calls, ctx.span(acts)):
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} placed more than {rate.calls} outbound calls in {rate.seconds:g} s",
                 {"calls": n, "limit": rate.calls, "seconds": rate.seconds, "last_call_id": cdr.call_id,
                  "last_dst": cdr.dst},
                 acts, at=at)
