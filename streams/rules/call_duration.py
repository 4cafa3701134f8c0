"""call_duration — guide: Outbound Call Security, "Restrict Outbound Calling by Call Duration".

Global ``max_call_duration`` (10800 s) for every call, and per-extension
``max_outbound_duration`` for outbound calls. A completed call longer than its limit (talk
time ``billsec`` when given, else ``duration``, else end - start) is reported. A call in
progress (``phase: start``) is timed in event time: once its tenant's event time passes
start + limit without the call's end, a ``hangup_call`` action cuts it — OpenSIPS only checks
after the call ends, a live limit must cut the call while it runs. One alert per call, live
or completed, whichever is seen first.
"""

from streams.rules.contract import Order

from streams.core.epochs import FOREVER

RULE = "call_duration"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = {"outbound_start", "outbound_end", "internal_start", "internal_end"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)


def _limit(ctx, cdr_src: str, outbound: bool) -> int:
    limit = ctx.tenant.settings.max_call_duration
    if outbound:
        ext_max = ctx.tenant.ext(cdr_src).max_outbound_duration
        if ext_max is not None and ext_max < limit:
            limit = ext_max
    return limit


def check(ctx, cdr) -> None:
    if cdr.direction == "inbound":
        return
    limit = _limit(ctx, cdr.src, cdr.direction == "outbound")
    call = ctx.state.calls.get(cdr.call_id)
    if cdr.phase == "start":
        if call is not None and not call.ended and not call.hung and call.deadline is None:
            call.deadline, call.limit, call.dst = ctx.call_start + limit, limit, cdr.dst[:64]
            ctx.schedule(RULE, call.deadline, cdr.call_id)
        return
    if call is not None and call.hung:
        return  # already hung up by the live limit
    if cdr.billsec is not None:
        dur = cdr.billsec
    elif cdr.duration is not None:
        dur = cdr.duration
    elif cdr.end is not None:
        dur = ctx.ts - ctx.call_start
    else:
        return
    if dur > limit:
        ctx.emit(RULE, SEVERITY, "extension", cdr.src,
                 f"Call {cdr.call_id} from {cdr.src} to {cdr.dst} lasted {dur:.0f} s (limit {limit} s)",
                 {"call_id": cdr.call_id, "dst": cdr.dst, "seconds": dur, "limit": limit},
                 [Order("disable_outbound", cdr.src, ctx.tenant.settings.outbound_bar_seconds)] if cdr.direction == "outbound" else [],
                 variant=cdr.call_id, span=FOREVER)


def on_timer(ctx, call_id: str) -> None:
    call = ctx.state.calls.get(call_id)
    if call is None or call.ended or call.hung or call.deadline is None or call.deadline > ctx.ts:
        return
    call.hung = True
    src = ctx.key.split("/", 1)[1]
    ctx.emit(RULE, SEVERITY, "extension", src,
             f"Call {call_id} from {src} to {call.dst} passed its {call.limit} s limit while in progress; hanging up",
             {"call_id": call_id, "dst": call.dst, "limit": call.limit, "live": True},
             [Order("hangup_call", call_id, None)], variant=call_id, at=call.deadline, span=FOREVER)


def pending(st):
    for call_id, call in st.calls.items():
        if call.deadline is not None and not call.ended and not call.hung:
            yield call.deadline, call_id
