"""auto_defense — guide: Network Security, "Restrict Access to PBX by Dynamic Firewall Rules" (Auto Defense).

Per source IP and rule: more than ``packets`` requests in ``seconds`` blocks the IP.
Defaults are the guide's: ssh 10/60 s (TCP), SIP UDP 40/2 s, SIP TCP 40/2 s, http 120/60 s,
https 120/60 s. Every security event (request, failure or success) counts as a packet of its
service; a rule matches on service, protocol (``both`` = any) and optional port. Events that
prove no round trip over UDP (``round_trip`` false: a forged source is possible) count toward the
alert, but block only beside a proven one (``block_on_unverified_udp``).
"""

from streams.rules.contract import Order
from streams.rules._common import flagged, proven_hits, proven_orders
from streams.core.epochs import FOREVER
from streams.state import TimeSet

RULE = "auto_defense"
SCOPE = "ip"
EVENTS = ("security",)
SEVERITY = "warning"
STATE = ("auto_defense",)  # the slots of its key's state it keeps (streams/state/schema.py)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    for r in p.auto_defense:
        yield SCOPE, r.seconds


def _matches(r, ev) -> bool:
    if r.service != ev.service:
        return False
    if r.protocol != "both" and ev.protocol is not None and r.protocol != ev.protocol:
        return False
    if r.port is not None and ev.port != r.port:
        return False
    return True


def _by_service(tenant) -> dict:
    """The tenant's rules grouped by service, each with its name and incident span (cached on the tenant)."""
    idx = getattr(tenant, "_auto_defense_idx", None)
    if idx is None:
        idx = {}
        for r in tenant.settings.auto_defense:
            span = FOREVER if r.block_seconds is None else float(max(r.block_seconds, 1))
            idx.setdefault(r.service, []).append((r, r.name or f"{r.service}/{r.protocol}", span))
        tenant._auto_defense_idx = idx
    return idx


def check(ctx, ev) -> None:
    rules = _by_service(ctx.tenant).get(ev.service)
    if not rules:
        return
    for r, name, span in rules:
        if not _matches(r, ev):
            continue
        window = ctx.state.auto_defense.get(name)
        if window is None:
            window = ctx.state.auto_defense[name] = TimeSet()
        for at, n, ok in proven_hits(ctx, window, ctx.ts, r.seconds, r.packets, span, flagged(ctx.ident, ev)):
            evidence = {"rule": name, "service": r.service, "protocol": r.protocol, "packets": n,
                        "limit": r.packets, "seconds": r.seconds}
            acts, unproven = proven_orders(ctx, ok, [Order("block_ip", ev.src_ip, r.block_seconds)], evidence)
            ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
                     f"{ev.src_ip} sent more than {r.packets} {r.service} packets in {r.seconds:g} s (rule {name})",
                     evidence, acts, variant=f"{name}/{unproven}" if unproven else name, at=at, span=span)
