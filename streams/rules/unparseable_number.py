"""unparseable_number — guide: Outbound Call Security, "Restrict Outbound Dialing by Country/Region"
(the dialled number is normalised before any country decision).

A call to a number that cannot be read (letters or stray symbols among many digits, an
impossible country code) cannot be judged by the country, premium-rate or blocked-number rules.
Such a number is suspicious, never skipped: with ``unparseable_numbers: alert`` (the default)
the call raises a warning; ``block`` also bars the extension (or hangs up the live call);
``ignore`` lets it pass. Short junk that is no number at all (``s``, ``t``, feature codes) is
not judged here.
"""

from streams.rules._common import OUTBOUND, call_actions, call_evidence

RULE = "unparseable_number"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    mode = ctx.tenant.settings.unparseable_numbers
    if mode == "ignore" or cdr.direction != "outbound" or not ctx.first_sight:
        return
    num = ctx.num
    if num.kind != "invalid" or num.digits <= ctx.tenant.numbers.short_max:
        return
    ctx.emit(RULE, SEVERITY if mode == "alert" else "alert", "extension", cdr.src,
             f"Extension {cdr.src} dialled a number that cannot be read ({len(cdr.dst)} characters, {num.digits} digits)",
             call_evidence(ctx, cdr), call_actions(ctx, cdr) if mode == "block" else [], at=ctx.call_start)
