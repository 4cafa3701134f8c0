"""blocked_number — guide: Outbound Call Security, "Restrict Outbound Dialing by Phone Number" (Blocked Numbers).

``blocked_numbers`` holds numbers and patterns in the guide's syntax (``X``, ``Z``, ``N``,
``[1-5,7]``, ``.``, ``!``). A pattern is matched against the number as dialled (formatting
removed) and against its E.164 form (``+CC…``), so ``+882.`` and ``00882.`` both catch
``00 882 …``.
"""

from streams.reference.numbers import dialled_digits
from streams.rules._common import OUTBOUND, call_actions, call_evidence

RULE = "blocked_number"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    rx = ctx.tenant.blocked
    if rx is None or cdr.direction != "outbound" or not ctx.first_sight:
        return
    num = ctx.num
    dialled = dialled_digits(cdr.dst)  # sip:/tel: URIs unwrapped, Unicode digits made ASCII
    bare = dialled[len(num.service):] if num.service and dialled.startswith(num.service) else None  # *67 ...
    if rx.match(dialled) or (bare and rx.match(bare)) or (num.e164 and rx.match(num.e164)):
        ctx.emit(RULE, SEVERITY, "extension", cdr.src, f"Extension {cdr.src} called blocked number {cdr.dst}",
                 call_evidence(ctx, cdr), call_actions(ctx, cdr, number_block=True), at=ctx.call_start)
