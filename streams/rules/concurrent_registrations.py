"""concurrent_registrations — guide: Extension Registration Security, "Restrict Multiple Registrations on the Same Extension".

One device per extension unless ``concurrent_registrations`` raises it. A device is the
registration's ``contact`` (or source IP + user agent when no contact is given); a
registration stays active for ``registration_ttl`` seconds after its last refresh. When a
successful registration makes the number of active devices exceed the limit, the newest
device's source IP is blocked: the classic sign of a hijacked extension registering from
elsewhere.
"""

from ._common import is_registration

RULE = "concurrent_registrations"
SCOPE = "ext"
EVENTS = ("security",)
SEVERITY = "warning"


def check(ctx, ev) -> None:
    if ev.outcome != "success" or not is_registration(ev):
        return
    if ev.reason in ("unregister", "expired"):
        ctx.st.get("reg", {}).pop(ev.contact or f"{ev.src_ip}|{ev.user_agent}", None)
        return
    reg = ctx.st.setdefault("reg", {})
    device = ev.contact or f"{ev.src_ip}|{ev.user_agent}"
    ttl = ctx.tenant.p.registration_ttl
    for d in [d for d, v in reg.items() if v[0] <= ctx.ts - ttl]:
        del reg[d]
    reg[device] = [ctx.ts, ev.src_ip]
    limit = ctx.tenant.ext(ev.account).concurrent_registrations
    if len(reg) > 8:  # bounded: keep the most recent devices
        for d, _ in sorted(reg.items(), key=lambda kv: kv[1][0])[: len(reg) - 8]:
            del reg[d]
    if len(reg) > limit:
        ctx.emit(RULE, SEVERITY, "extension", ev.account,
                 f"Extension {ev.account} has {len(reg)} devices registered (limit {limit}); newest from {ev.src_ip}",
                 {"devices": {d: v[1] for d, v in reg.items()}, "limit": limit, "newest": device,
                  "user_agent": ev.user_agent},
                 [("block_ip", ev.src_ip, ctx.tenant.p.block_seconds)])
