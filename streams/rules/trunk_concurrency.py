"""trunk_concurrency — guide: Outbound Call Security, "Restrict Outbound Calling by Concurrent Calls".

``trunks.<name>.max_concurrent_calls`` (``default_trunk``: 30). Two sources of truth:

- ``phase: start``/``end`` pairs: the calls in progress on the trunk; a start that makes
  them exceed the limit is hung up;
- completed CDRs (no start seen): their ``[start, end)`` intervals are kept for the
  longest possible call, and the peak overlap within each new call's span is computed;
  above the limit, the caller's outbound calls are barred.
"""

from ..windows import max_overlap

RULE = "trunk_concurrency"
SCOPE = "trunk"
EVENTS = ("cdr",)
SEVERITY = "critical"


def check(ctx, cdr) -> None:
    trunk = cdr.trunk
    limit = (ctx.tenant.p.trunks.get(trunk) or ctx.tenant.p.default_trunk).max_concurrent_calls
    st = ctx.st
    live = st.setdefault("live", {})
    horizon = ctx.tenant.p.max_call_duration + 60
    if cdr.phase == "start":
        if len(live) > limit:
            for cid in [c for c, s in live.items() if s < ctx.ts - horizon]:
                del live[cid]
        live[cdr.call_id] = ctx.call_start
        if len(live) > limit:
            _fire(ctx, cdr, trunk, len(live), limit, [("hangup_call", cdr.call_id, None)])
        return
    iv = st.setdefault("iv", [])
    end = ctx.ts
    if iv and iv[0][1] < ctx.ts - horizon:
        st["iv"] = iv = [x for x in iv if x[1] >= ctx.ts - horizon]
    if live.pop(cdr.call_id, None) is not None:
        iv.append([ctx.call_start, end])  # already counted live; remember for completed-only calls
        return
    s = ctx.call_start
    overlapping = [(max(a, s), min(b, end)) for a, b in iv if b > s and a < end]
    overlapping += [(max(a, s), end) for a in live.values() if a < end]
    iv.append([s, end])
    if len(overlapping) + 1 <= limit:
        return
    peak, _ = max_overlap(overlapping + [(s, end)])
    if peak > limit:
        _fire(ctx, cdr, trunk, peak, limit, [("disable_outbound", cdr.src, ctx.tenant.p.outbound_bar_seconds)])


def _fire(ctx, cdr, trunk, n, limit, actions) -> None:
    ctx.emit(RULE, SEVERITY, "trunk", trunk,
             f"Trunk {trunk} carried {n} concurrent outbound calls (limit {limit})",
             {"concurrent": n, "limit": limit, "call_id": cdr.call_id, "src": cdr.src, "dst": cdr.dst}, actions)
