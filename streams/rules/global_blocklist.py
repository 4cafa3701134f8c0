"""global_blocklist — guide: Network Security, "Restrict Access to PBX by Yeastar-Shared IP Blocklist".

An IP blocked by any tenant is blocked for all: an event of another tenant from that IP
while the block lasts raises one alert per incident epoch and blocks it for that tenant too
(for the rest of the longest block). The IP key remembers each tenant's blocks and recent
event times, and checks both ways — an event against the blocks, and a new or extended
block against the events already seen — so it does not matter which arrives first.
"""

from streams.rules.contract import Order

from bisect import bisect_left, insort

from streams.core.epochs import FOREVER, HORIZON

RULE = "global_blocklist"
SCOPE = "ip"
EVENTS = ("security", "cdr")
SEVERITY = "warning"
STATE = ("seen",)  # the slots of its key's state it keeps (streams/state/schema.py)
MAX_SEEN = 128


def check(ctx, ev) -> None:
    if not ev.src_ip:
        return
    st = ctx.state
    if len(st.blocks) < 2 and (not st.blocks or ctx.tenant.name in st.blocks) and not ctx.blocks_changed:
        _remember(st, ctx.tenant.name, ctx.ts, ctx.settled - HORIZON)  # nobody else blocked it: only note it
        return
    _remember(st, ctx.tenant.name, ctx.ts, ctx.settled - HORIZON)
    pairs = [(t, s) for t, times in st.seen.items() for s in times] if ctx.blocks_changed else [(ctx.tenant.name, ctx.ts)]
    for name, at in pairs:
        others = {t: u for t, spans in st.blocks.items() if t != name for s, u in spans if s <= at < u}
        if not others:
            continue
        until = max(others.values())
        duration = None if until >= FOREVER else int(until - at) + 1
        ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                 f"{ev.src_ip} is on the global blocklist (blocked by {len(others)} other tenant(s)) and reached tenant {name}",
                 {"blocked_by": sorted(others), "service": getattr(ev, "service", "call")},
                 [Order("block_ip", ev.src_ip, duration)], at=at, span=float(ctx.tenant.settings.incident_seconds),
                 tenant=ctx.detector.policy.tenant(name))


def _remember(st, tenant: str, ts: float, before: float) -> None:
    """Note that ``tenant`` was seen at ``ts``; times before ``before`` are forgotten (by event time, so
    the order events arrive in does not decide what a late block finds), and past a flood's worth
    the oldest."""
    times = st.seen.get(tenant)
    if times is None:
        st.seen[tenant] = [ts]
        return
    if ts > times[-1]:
        times.append(ts)
    elif ts not in times:
        insort(times, ts)
    k = bisect_left(times, before) if times[0] < before else 0
    if len(times) - k > MAX_SEEN + MAX_SEEN // 4:
        k = len(times) - MAX_SEEN
    if k:
        del times[:k]
