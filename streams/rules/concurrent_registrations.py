"""concurrent_registrations — guide: Extension Registration Security, "Restrict Multiple Registrations on the Same Extension".

One device per extension unless ``concurrent_registrations`` raises it. A device is the
registration's ``contact`` (or source IP + user agent when no contact is given); it is
active from a successful registration for ``registration_ttl`` seconds, or until it
unregisters. When the devices active at a registration exceed the limit, the newest
device's source IP is blocked: the classic sign of a hijacked extension registering from
elsewhere. Registrations and unregistrations are kept in time order per device, so a late
one changes the verdict at the instants it concerns, as it would have on time.
"""

from streams.rules.contract import Order

from bisect import bisect_left, bisect_right, insort

from streams.rules._common import is_registration
from streams.core.epochs import HORIZON
from streams.state import Device

RULE = "concurrent_registrations"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = {"reg_success"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "warning"
STATE = ("devices",)  # the slots of its key's state it keeps (streams/state/schema.py)
MAX_DEVICES, MAX_TIMES = 8, 128


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.registration_ttl


def _active(dev: Device, at: float, ttl: float) -> bool:
    """Did this device's last registration at or before ``at`` happen within ttl, with no unregister since?"""
    i = bisect_right(dev.regs, at)
    if not i:
        return False
    last = dev.regs[i - 1]
    if at - last >= ttl:
        return False
    j = bisect_right(dev.unregs, at)
    return not (j and dev.unregs[j - 1] >= last)


def _prune(times: list[float], before: float) -> None:
    """Forget what no event within ``HORIZON`` of event time can need (by time, never by arrival: a
    device's regular re-registrations read ahead of a hijacker's must not push out the ones it
    overlaps), then, against a flood, all but the newest ``MAX_TIMES``."""
    k = bisect_left(times, before) if times and times[0] < before else 0
    if len(times) - k > MAX_TIMES + MAX_TIMES // 4:
        k = len(times) - MAX_TIMES
    if k:
        del times[:k]


def check(ctx, ev) -> None:
    if ev.outcome != "success" or not is_registration(ev):
        return
    devices = ctx.state.devices
    name = ev.contact or f"{ev.src_ip}|{ev.user_agent}"
    dev = devices.get(name)
    if dev is None:
        dev = devices[name] = Device(ip=ev.src_ip)
        if len(devices) > MAX_DEVICES:  # keep the devices active most recently
            for d, _ in sorted(devices.items(), key=lambda kv: max(kv[1].regs[-1:] + kv[1].unregs[-1:] or [0.0]))[
                    :len(devices) - MAX_DEVICES]:
                del devices[d]
    times = dev.unregs if ev.reason in ("unregister", "expired") else dev.regs
    if ctx.ts in times:
        return  # seen before
    insort(times, ctx.ts)
    ttl = ctx.tenant.settings.registration_ttl
    _prune(times, ctx.settled - ttl - HORIZON)
    if times is dev.regs:
        dev.ip = ev.src_ip if ctx.ts >= dev.regs[-1] else dev.ip
    limit = ctx.tenant.ext(ev.account).concurrent_registrations
    # registrations from this instant on, within ttl, are the ones whose verdict this event can change
    if times is dev.regs and all(not v.regs or v.regs[-1] <= ctx.ts for v in devices.values()):
        instants = [(ctx.ts, name)]  # the usual case: the latest registration
    else:
        instants = sorted({(t, d) for d, v in devices.items() for t in v.regs if ctx.ts <= t < ctx.ts + ttl})
    if len(devices) <= limit:
        return  # not enough devices to be over the limit at any instant
    for at, newest in instants:
        active = {d: v for d, v in devices.items() if _active(v, at, ttl)}
        if len(active) > limit and newest in active:
            ip = devices[newest].ip
            ctx.emit(RULE, SEVERITY, "extension", ev.account,
                     f"Extension {ev.account} has {len(active)} devices registered (limit {limit}); newest from {ip}",
                     {"devices": {d: v.ip for d, v in active.items()}, "limit": limit, "newest": newest,
                      "user_agent": ev.user_agent},
                     [Order("block_ip", ip, ctx.tenant.settings.block_seconds)], at=at)
