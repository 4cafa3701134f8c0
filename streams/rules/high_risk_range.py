"""high_risk_range — no guide section: calls to number ranges the operator lists as high risk (IRSF test numbers, premium ranges, Wangiri sources; ClearIP's hourly IRSF database).

The tenant's ranges (``streams.reference.ranges``: the policy's ``ranges:`` file, ``replay --ranges``, and in
the worker the ``<prefix>.ranges`` topic) list E.164 prefixes with a label and an expiry. An
outbound call whose number falls in a listed range, before the listing expires, raises a
critical alert naming the range and where the listing came from; in enforce mode the call is cut
(in progress) or the extension barred, and the range's prefix is blocked until the listing expires.
"""

from streams.rules.contract import Order
from streams.rules._common import call_actions, call_evidence, external_call

RULE = "high_risk_range"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = {"outbound_start", "outbound_end"}
SEVERITY = "critical"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    ranges = ctx.tenant.ranges
    if ranges is None or not external_call(ctx, cdr):
        return
    n = ctx.num
    listed = ranges.match(n.e164, ctx.call_start)
    if listed is None:
        return
    acts = call_actions(ctx, cdr)
    left = None if listed.expires is None else max(1, int(listed.expires - ctx.call_start))
    acts.append(Order("block_number", listed.prefix, left))
    ctx.emit(RULE, SEVERITY, "extension", cdr.src,
             f"Extension {cdr.src} called {n.e164}, in the listed range {listed.prefix} ({listed.label}"
             + (f", from {listed.source})" if listed.source else ")"),
             call_evidence(ctx, cdr, range=listed.prefix, label=listed.label, listed_by=listed.source),
             acts, at=ctx.call_start)
