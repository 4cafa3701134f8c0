"""trunk_concurrency — guide: Outbound Call Security, "Restrict Outbound Calling by Concurrent Calls".

``trunks.<name>.max_concurrent_calls`` (``default_trunk``: 30). Two sources of truth:

- ``phase: start``/``end`` pairs: the calls in progress on the trunk; a start that makes
  them exceed the limit is hung up;
- completed CDRs (no start seen): their ``[start, end)`` intervals are kept for the
  longest possible call, and the peak overlap within each new call's span is computed;
  above the limit, the caller's outbound calls are barred.
"""

from bisect import bisect_left, bisect_right

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
    # ended calls as two parallel lists, in arrival (= end-time) order: starts and ends
    ivs = st.setdefault("ivs", [])
    ive = st.setdefault("ive", [])
    end = ctx.ts
    cutoff = ctx.ts - horizon
    if ive and ive[0] < cutoff:
        k = bisect_left(ive, cutoff)
        del ivs[:k], ive[:k]
    if live.pop(cdr.call_id, None) is not None:
        ivs.append(ctx.call_start)  # already counted live; remember for completed-only calls
        ive.append(end)
        return
    s = ctx.call_start
    first = bisect_right(ive, s)  # only calls that ended after this one started can overlap it
    n = len(ive) - first
    ivs.append(s)
    ive.append(end)
    if n + len(live) + 1 <= limit or ctx.absorbed(RULE, "trunk", trunk):
        return
    overlapping = [(max(a, s), b) for a, b in zip(ivs[first:], ive[first:])]
    overlapping += [(max(a, s), end) for a in live.values() if a < end]
    peak, _ = max_overlap(overlapping)
    if peak > limit:
        _fire(ctx, cdr, trunk, peak, limit, [("disable_outbound", cdr.src, ctx.tenant.p.outbound_bar_seconds)])


def _fire(ctx, cdr, trunk, n, limit, actions) -> None:
    ctx.emit(RULE, SEVERITY, "trunk", trunk,
             f"Trunk {trunk} carried {n} concurrent outbound calls (limit {limit})",
             {"concurrent": n, "limit": limit, "call_id": cdr.call_id, "src": cdr.src, "dst": cdr.dst}, actions)
