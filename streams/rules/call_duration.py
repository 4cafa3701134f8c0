"""call_duration — guide: Outbound Call Security, "Restrict Outbound Calling by Call Duration".

Global ``max_call_duration`` (10800 s) for every call, and per-extension
``max_outbound_duration`` for outbound calls. A completed call longer than its limit (talk
time ``billsec`` when given, else ``duration``, else end - start) is reported. A call in
progress (``phase: start``) is timed in event time: once event time passes start + limit
without the call's end, a ``hangup_call`` action cuts it — OpenSIPS only checks after the
call ends, a live limit must cut the call while it runs.
"""

RULE = "call_duration"
SCOPE = "ext"
EVENTS = ("cdr",)
SEVERITY = "alert"


def _limit(ctx, cdr_src: str, outbound: bool) -> int:
    limit = ctx.tenant.p.max_call_duration
    if outbound:
        ext_max = ctx.tenant.ext(cdr_src).max_outbound_duration
        if ext_max is not None and ext_max < limit:
            limit = ext_max
    return limit


def check(ctx, cdr) -> None:
    if cdr.direction == "inbound":
        return
    limit = _limit(ctx, cdr.src, cdr.direction == "outbound")
    if cdr.phase == "start":
        cd = ctx.st.setdefault("cd", {})
        deadline = ctx.call_start + limit
        cd[cdr.call_id] = [deadline, limit, cdr.dst]
        ctx.schedule(RULE, deadline, cdr.call_id)
        return
    cd = ctx.st.get("cd")
    if cd and cdr.call_id in cd:
        entry = cd.pop(cdr.call_id)
        if not cd:
            del ctx.st["cd"]
        if entry[0] is None:  # already hung up by the live timer
            return
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
                 [("disable_outbound", cdr.src, ctx.tenant.p.outbound_bar_seconds)] if cdr.direction == "outbound" else [],
                 variant=cdr.call_id)


def on_timer(ctx, call_id: str) -> None:
    cd = ctx.st.get("cd")
    entry = cd.get(call_id) if cd else None
    if entry is None or entry[0] is None or entry[0] > ctx.ts:
        return
    deadline, limit, dst = entry
    entry[0] = None  # hung up; the end CDR will not re-alert
    src = ctx.key.split("/", 1)[1]
    ctx.emit(RULE, SEVERITY, "extension", src,
             f"Call {call_id} from {src} to {dst} passed its {limit} s limit while in progress; hanging up",
             {"call_id": call_id, "dst": dst, "limit": limit, "live": True},
             [("hangup_call", call_id, None)], variant=call_id)


def pending(st: dict):
    for call_id, entry in (st.get("cd") or {}).items():
        if entry[0] is not None:
            yield entry[0], call_id
