"""call_frequency — guide: Outbound Call Security, "Restrict Outbound Dialing by Frequency of Calls".

Default rule: up to 5 outbound calls per second per extension; ``call_frequency``
(``{calls, seconds}``) per tenant or per extension customises it. The call that makes the
count in the sliding window exceed ``calls`` fires and bars the extension. Each call counts
once, at its first event (call start when the PBX sends one).
"""

from ._common import call_actions, external_call
from ..windows import slide

RULE = "call_frequency"
SCOPE = "ext"
EVENTS = ("cdr",)
SEVERITY = "critical"


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    rate = ctx.tenant.ext(cdr.src).call_frequency
    times = ctx.st.setdefault("cf", [])
    n = slide(times, ctx.call_start, rate.seconds, rate.calls + 1)
    if n > rate.calls:
        acts = call_actions(ctx, cdr)
        if cdr.phase == "start":
            acts.append(("disable_outbound", cdr.src, ctx.tenant.p.outbound_bar_seconds))
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} placed more than {rate.calls} outbound calls in {rate.seconds:g} s",
                 {"calls": n, "limit": rate.calls, "seconds": rate.seconds, "last_call_id": cdr.call_id,
                  "last_dst": cdr.dst},
                 acts)
