"""daily_calls — no guide section; peer: OpenSIPS fraud_detection "total calls per day".

More than ``daily_calls`` outbound calls (default 500, per extension ``daily_calls``) by one
extension within one calendar day of the policy's time zone. One alert per extension and day,
dated at the call that went over the limit in call-start order. Each call counts once.
"""

from streams.rules._common import OUTBOUND, call_actions, external_call
from streams.core.epochs import FOREVER
from streams.state import TimeSet

RULE = "daily_calls"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ("daily_calls",)  # the slots of its key's state it keeps (streams/state/schema.py)
DAY = 2 * 86400.0  # a local calendar day seen from UTC spans up to two


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, DAY


def check(ctx, cdr) -> None:
    if not external_call(ctx, cdr):
        return
    day = ctx.tenant.local_day(ctx.call_start)
    days = ctx.state.daily_calls
    calls = days.get(day)
    if calls is None:
        calls = days[day] = TimeSet()
        for d in [d for d in days if d < day - 2]:
            del days[d]
    limit = ctx.tenant.ext(cdr.src).daily_calls
    if calls.add(ctx.call_start, ctx.ident) < 0 or len(calls) <= limit:
        return
    del calls.t[limit + 1:], calls.ids[limit + 1:]  # the first limit+1 calls of the day decide
    ctx.emit(RULE, SEVERITY, "extension", cdr.src,
             f"Extension {cdr.src} placed more than {limit} outbound calls today",
             {"calls": limit + 1, "limit": limit, "day": str(day)}, call_actions(ctx, cdr), variant=str(day),
             at=calls.t[limit], span=FOREVER)
