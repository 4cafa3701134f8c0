"""global_blocklist — guide: Network Security, "Restrict Access to PBX by Yeastar-Shared IP Blocklist".

An IP blocked by any tenant is blocked for all: the first event of another tenant from an
IP that some tenant has blocked raises one alert and blocks it for that tenant too (for the
remaining time of the longest block).
"""

from ..core import FOREVER

RULE = "global_blocklist"
SCOPE = "ip"
EVENTS = ("security", "cdr")
SEVERITY = "warning"


def check(ctx, ev) -> None:
    blk = ctx.st.get("blk")
    if not blk or not ev.src_ip:
        return
    others = {t: u for t, u in blk.items() if t != ctx.tenant.name and u > ctx.ts}
    if not others:
        return
    until = max(others.values())
    duration = None if until >= FOREVER else int(until - ctx.ts) + 1
    ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
             f"{ev.src_ip} is on the global blocklist (blocked by {len(others)} other tenant(s)) and reached tenant {ctx.tenant.name}",
             {"blocked_by": sorted(others), "service": getattr(ev, "service", "call")},
             [("block_ip", ev.src_ip, duration)])
