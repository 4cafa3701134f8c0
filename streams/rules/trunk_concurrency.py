"""trunk_concurrency — guide: Outbound Call Security, "Restrict Outbound Calling by Concurrent Calls".

``trunks.<name>.max_concurrent_calls`` (``default_trunk``: 30). Two sources of truth:

- ``phase: start``/``end`` pairs: the calls in progress on the trunk; once event time passes
  a call's start (a timer, so every call that ended before it has been seen, in whatever
  order the partitions delivered them), a start that made them exceed the limit is hung up;
- completed CDRs (no start seen): their ``[start, end)`` intervals are kept for the
  longest possible call, and every stretch of time within a new call's span where more
  calls overlap than the limit raises the alert (one per incident epoch) and bars the
  caller. Intervals are kept in order and counted once each, so a late CDR finds the
  overlaps it would have found on time.
"""

from itertools import accumulate
from operator import itemgetter

from streams.rules.contract import Order

from streams.rules._common import first_per_epoch
from streams.core.epochs import HORIZON, epoch_of

RULE = "trunk_concurrency"
SCOPE = "trunk"
EVENTS = ("cdr",)
SEVERITY = "critical"
STATE = ("live", "live_latest", "pending", "done")  # the slots of its key's state it keeps (streams/state/schema.py)
MAX_INTERVALS = 4096
JUST_BEFORE = 1e-3  # the start check fires once event time reaches the start (timers fire strictly after)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.max_call_duration  # completed calls are kept for the longest call


def check(ctx, cdr) -> None:
    trunk = cdr.trunk
    limit = (ctx.tenant.settings.trunks.get(trunk) or ctx.tenant.settings.default_trunk).max_concurrent_calls
    st = ctx.state
    live = st.live
    horizon = ctx.tenant.settings.max_call_duration + HORIZON
    if cdr.phase == "start":
        if len(live) > limit:
            stale = [c for c, s in live.items() if s < ctx.settled - horizon]
            for cid in stale:
                del live[cid]
            if stale:
                st.live_latest = None
        if cdr.call_id in live or cdr.call_id in st.pending or st.done.holds(ctx.ident, ctx.call_start):
            return  # seen before, or already ended (its end CDR came first)
        s = ctx.call_start
        before = st.live_latest if st.live_latest is not None or not live else max(live.values())
        live[cdr.call_id] = s
        st.live_latest = s if before is None or s > before else before
        done = st.done
        first = done.ended_by(s)
        if len(live) + len(done) - first > limit:
            # calls may be over the limit from this start on: judge this one and every call known to
            # start after it (a start read late raises the count at theirs too), each once event time
            # has passed its start, when every call that ended before it has been read (when no other
            # live call began at or after this one, the in-order case, only this one is to judge)
            for cid, start in (live.items() if before is not None and before >= s else ((cdr.call_id, s),)):
                if start >= s and cid not in st.pending:
                    st.pending[cid] = [start, 0]
                    ctx.schedule(RULE, start - JUST_BEFORE, cid)
            starts, ids = done.starts, done.ids
            latest = done.latest_start()
            for k in range(first, len(starts) if latest is not None and latest >= s else first):  # none began later: skip
                if starts[k] >= s:
                    key = f"#{ids[k]}"
                    if key not in st.pending:
                        st.pending[key] = [starts[k], ids[k]]
                        ctx.schedule(RULE, starts[k] - JUST_BEFORE, key)
        return
    s, end = ctx.call_start, ctx.ts
    if st.done.add(s, end, ctx.ident) < 0:
        return  # counted before
    st.done.prune(ctx.settled - horizon, MAX_INTERVALS)
    began = live.pop(cdr.call_id, None)
    if began is not None:
        if began == st.live_latest:
            st.live_latest = None  # worked out again when next needed
        return  # already counted while it was live
    if len(st.done) - st.done.ended_by(s) + len(live) <= limit:
        return  # not enough calls ended after this one began to overlap it beyond the limit
    others = st.done.overlapping(s, end)  # this call included
    others += [(a, end) for a in live.values() if a < end]
    if len(others) <= limit:
        return
    acts = [Order("disable_outbound", cdr.src, ctx.tenant.settings.outbound_bar_seconds)]
    span = ctx.span(acts)
    for at, peak in first_per_epoch(_over(others, s, end, limit, span), span):
        _fire(ctx, cdr, trunk, peak, limit, acts, at)


def on_timer(ctx, call_id: str) -> None:
    """Event time passed a live call's start: the calls in progress then, live or since ended, against the limit."""
    st = ctx.state
    entry = st.pending.pop(call_id, None)
    if entry is None:
        return
    s = entry[0]
    n = sum(1 for a in st.live.values() if a <= s) + st.done.count_at(s)
    trunk = ctx.key.split("/", 1)[1]
    limit = (ctx.tenant.settings.trunks.get(trunk) or ctx.tenant.settings.default_trunk).max_concurrent_calls
    if n > limit:
        live = call_id in st.live  # a call that has ended since (its id was not kept) is not hung up
        ctx.emit(RULE, SEVERITY, "trunk", trunk, f"Trunk {trunk} carried {n} concurrent outbound calls (limit {limit})",
                 {"concurrent": n, "limit": limit, "call_id": call_id if live else None, "live": True},
                 [Order("hangup_call", call_id, None)] if live else [], at=s)


def pending(st):
    for call_id, (start, _) in st.pending.items():
        yield start - JUST_BEFORE, call_id


def _over(intervals, lo: float, hi: float, limit: int, span: float) -> list[tuple[float, int]]:
    """Instants in ``[lo, hi)`` where more than ``limit`` intervals overlap: the start of each such
    stretch and every epoch boundary inside one, with the peak reached in that stretch."""
    points = []
    for a, b in intervals:  # clipped to [lo, hi): as max(a, lo) and min(b, hi), without the calls
        if lo > a:
            a = lo
        if hi < b:
            b = hi
        if a < b:
            points += ((a, 1), (b, -1))
    points.sort()  # by time, and an end at t (-1) closes before a start at t opens
    if not points or max(accumulate(map(itemgetter(1), points))) <= limit:
        return []  # never over the limit: the usual answer, the sweep below done in C
    out: list[tuple[float, int]] = []
    cur, begun = 0, None
    for t, d in points:
        cur += d
        if cur > limit and begun is None:
            begun = t
            out.append((t, cur))
        elif begun is not None:
            if cur > limit:
                out[-1] = (out[-1][0], max(out[-1][1], cur))
            else:
                out.extend(_boundaries(begun, t, span, out[-1][1]))
                begun = None
    return out


def _boundaries(a: float, b: float, span: float, peak: int) -> list[tuple[float, int]]:
    e, last = epoch_of(a, span) + 1, epoch_of(b, span)
    return [(k * span, peak) for k in range(e, min(last, e + 24) + 1) if k * span < b]


def _fire(ctx, cdr, trunk, n, limit, actions, at) -> None:
    ctx.emit(RULE, SEVERITY, "trunk", trunk,
             f"Trunk {trunk} carried {n} concurrent outbound calls (limit {limit})",
             {"concurrent": n, "limit": limit, "call_id": cdr.call_id, "src": cdr.src, "dst": cdr.dst},
             actions, at=at)
