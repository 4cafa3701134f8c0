"""sequential_calls — no guide section; peer: OpenSIPS fraud_detection "sequential calls".

Consecutive outbound calls from one extension to the same number (as E.164 when it parses)
within ``sequential_calls.seconds`` of the first: more than ``calls`` (default 10 in an hour,
per extension ``sequential_calls``) is targeted pumping of one number.
"""

from ._common import call_actions, external_call

RULE = "sequential_calls"
SCOPE = "ext"
EVENTS = ("cdr",)
SEVERITY = "warning"


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    number = ctx.num.e164 or cdr.dst
    seq = ctx.st.get("seq")
    window = ctx.tenant.p.sequential_calls.seconds
    if seq and seq[0] == number and ctx.call_start - seq[2] <= window:
        seq[1] += 1
    else:
        seq = ctx.st["seq"] = [number, 1, ctx.call_start]
    limit = ctx.tenant.ext(cdr.src).sequential_calls
    if seq[1] > limit:
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} called {number} {seq[1]} times in a row",
                 {"number": number, "calls": seq[1], "limit": limit, "seconds": window},
                 call_actions(ctx, cdr, number_block=True))
