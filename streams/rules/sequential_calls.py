"""sequential_calls — no guide section; peer: OpenSIPS fraud_detection "sequential calls".

Repeated outbound calls from one extension to the same number (as E.164 when it parses):
more than ``calls`` within ``sequential_calls.seconds`` (default 10 in an hour, per extension
``sequential_calls``) is targeted pumping of one number. Counted per number in a sliding
window, so the verdict does not depend on the order the feed delivers the calls in (OpenSIPS
counts calls in a row; a call to another number in between no longer resets the count).
"""

from streams.rules._common import OUTBOUND, call_actions, external_call, window_hits
from streams.state import TimeSet

RULE = "sequential_calls"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ("sequential_calls",)  # the slots of its key's state it keeps (streams/state/schema.py)
MAX_NUMBERS = 16


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.sequential_calls.seconds


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    number = ctx.num.e164 or cdr.dst
    per = ctx.state.sequential_calls
    window = per.get(number)
    if window is None:
        window = per[number] = TimeSet()
        if len(per) > 2 * MAX_NUMBERS:  # keep the numbers called most recently (amortised)
            for k, _ in sorted(per.items(), key=lambda kv: kv[1].t[-1] if kv[1].t else -1.0)[:len(per) - MAX_NUMBERS]:
                del per[k]
    seconds = ctx.tenant.settings.sequential_calls.seconds
    limit = ctx.tenant.ext(cdr.src).sequential_calls
    acts = call_actions(ctx, cdr, number_block=True)
    for at, n in window_hits(ctx, window, ctx.call_start, seconds, limit, ctx.span(acts)):
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Extension {cdr.src} called {number} {n} times within {seconds:g} s",
                 {"number": number, "calls": n, "limit": limit, "seconds": seconds}, acts, at=at)
