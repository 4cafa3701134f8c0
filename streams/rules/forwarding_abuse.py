"""forwarding_abuse — no guide section: calls placed by call forwarding or transfer (a hijacked voicemail or forwarding setting sends inbound calls abroad).

A fraudster who gets into an extension's voicemail or web settings forwards it to a premium or
international number and then calls it from outside: every call is now billed to the PBX.
An outbound call the export marks as placed by forwarding (``forwarded_from``), a transfer
(``transferred_by``) or a SIP diversion (``diversion``), to a number abroad or a premium one, is
refused unless the policy's ``forwarding`` allows it: an alert naming who forwarded, and in
enforce mode the call cut (in progress) and the forwarding extension barred.
"""

from streams.rules.contract import Order
from streams.rules._common import call_evidence, external_call

RULE = "forwarding_abuse"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = {"outbound_start", "outbound_end"}
SEVERITY = "critical"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def check(ctx, cdr) -> None:
    how = _how(cdr)
    if how is None or not external_call(ctx, cdr):
        return
    n = ctx.num
    allowed = ctx.tenant.settings.forwarding
    premium = n.premium or (n.international and n.possible and not n.valid)
    if premium and not allowed.premium:
        what = "a premium or unallocated number"
    elif n.international and not allowed.international:
        what = f"a number abroad ({n.region or 'unknown country'})"
    else:
        return
    kind, who = how
    barred = who if kind != "diversion" else cdr.src
    acts = [Order("hangup_call", cdr.call_id, None)] if cdr.phase == "start" else []
    acts.append(Order("disable_outbound", barred, ctx.tenant.settings.outbound_bar_seconds))
    if premium and n.e164:
        acts.append(Order("block_number", n.e164, None))
    ctx.emit(RULE, SEVERITY, "extension", barred,
             f"A call {kind} by {who} went to {n.e164 or cdr.dst}, {what}",
             call_evidence(ctx, cdr, placed_by=kind, by=who), acts, at=ctx.call_start)


def _how(cdr) -> tuple[str, str] | None:
    if cdr.forwarded_from:
        return "forwarded", cdr.forwarded_from[:64]
    if cdr.transferred_by:
        return "transferred", cdr.transferred_by[:64]
    if cdr.diversion:
        return "diversion", cdr.diversion[:64]
    return None
