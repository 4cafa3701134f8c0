"""inbound_probe — guide: Network Security (SIP scanners) and Outbound Call Security; peers: fail2ban's
asterisk/freeswitch jails ("extension not found", calls to unknown numbers).

A scanner looking for an open route sends INVITEs from outside to international numbers in
every prefix variant (``00441134900292``, ``900441134900292``, …), hoping one is dialled out.
The PBX refuses them, and they show as security-log lines (Asterisk "Call from … to extension
'…' rejected because extension not found", with the number in ``dialled``) or as unanswered
inbound CDRs in a public context to a number that is no DID of ours (dialled in international
form, or in another country). More than ``probes`` of them from one source within ``seconds``
raise the alert and block the source IP when it is known; without an IP (FreeSWITCH's default
CDR template has none) the calling number is the subject. Counted per tenant, each source in
its own window, so one partition sees them all; a LAN source is never a scanner. A refused call
that needed no round trip over UDP (``round_trip`` false) counts toward the alert, but blocks the
address only beside a proven one (``block_on_unverified_udp``): its source may be forged.
A slow scan that rotates its caller ids or addresses never reaches this count from one source;
``route_scan`` counts the same calls per target instead.
"""

from streams.rules.contract import Order

from functools import lru_cache

import phonenumbers

from streams.rules._common import flagged, proven_hits, proven_orders
from streams.domain.events import Cdr, parse_ip
from streams.state import TimeSet

RULE = "inbound_probe"
SCOPE = "tenant"
EVENTS = ("security", "cdr")
SEVERITY = "warning"
STATE = ("probes",)  # the slots of its key's state it keeps (streams/state/schema.py)
KEEP = 256  # sources remembered per tenant (the most recent)


def routes(ev, tenant) -> bool:
    """A call refused with the number it asked for, or an unanswered inbound call (``_probe`` judges the number)."""
    if isinstance(ev, Cdr):
        return ev.direction == "inbound" and ev.phase != "start" and not ev.billsec
    return ev.outcome == "failure" and ev.dialled is not None


def _probe(ctx, ev) -> str | None:
    """The number probed, or None when the event is no probe."""
    if isinstance(ev, Cdr):
        if ev.direction != "inbound" or ev.phase == "start" or (ev.billsec or 0) > 0 or ev.disposition == "answered":
            return None
        if ctx.tenant.settings.cdr.is_extension(ev.dst):
            return None
        return ev.dst if international_form(ev.dst, ctx.tenant.settings.home_country) else None
    if ev.outcome != "failure" or ev.dialled is None:
        return None
    return ev.dialled


@lru_cache(maxsize=1 << 14)
def international_form(dst: str, home: str) -> bool:
    """A number dialled in international form (``00``/``011``/``+`` and a valid number), behind up to
    four junk digits a scanner adds for other dialplans (``9``, ``88``, ``00``). A DID of ours is
    reached in national form or as E.164 of the home country, so ``+<home number>`` is no probe."""
    digits = "".join(c for c in dst if c.isdigit() or c == "+")[:32]
    for off in range(0, 5):
        s = digits[off:]
        for prefix in ("+", "00", "011"):
            if not s.startswith(prefix):
                continue
            try:
                n = phonenumbers.parse("+" + s[len(prefix):].lstrip("+"), None)
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(n):
                continue
            if off == 0 and prefix == "+" and phonenumbers.region_code_for_number(n) == home:
                continue
            return True
    return False


def check(ctx, ev) -> None:
    dialled = _probe(ctx, ev)
    if dialled is None:
        return
    ip = ev.src_ip
    if ip:
        try:
            if ctx.tenant.in_lan(parse_ip(ip)):
                return
        except ValueError:
            ip = None
    source = ip or f"number:{ev.src}" if isinstance(ev, Cdr) else ip
    if not source:
        return
    cfg = ctx.tenant.settings.inbound_probes
    windows = ctx.state.probes
    window = windows.get(source)
    if window is None:
        window = windows[source] = TimeSet()
        if len(windows) > KEEP + KEEP // 4:  # forget the sources probing least recently
            for k in sorted(windows, key=lambda s: (windows[s].t[-1] if windows[s].t else 0.0, s))[:len(windows) - KEEP]:
                if k != source:
                    del windows[k]
    actions = [Order("block_ip", ip, ctx.tenant.settings.scanner_block_seconds)] if ip else []
    span = ctx.span(actions)
    for at, n, ok in proven_hits(ctx, window, ctx.ts, cfg.seconds, cfg.probes - 1, span, flagged(ctx.ident, ev)):
        subject_type, subject = ("ip", ip) if ip else ("number", ev.src)
        evidence = {"probes": n, "seconds": cfg.seconds, "dialled": dialled[:64], "context": _context(ev),
                    "source": "security log" if not isinstance(ev, Cdr) else "cdr"}
        acts, variant = proven_orders(ctx, ok, actions, evidence)
        ctx.emit(RULE, SEVERITY, subject_type, subject,
                 f"Scanner probing for an open route: {n} calls from {subject} to unknown or international "
                 f"numbers in {cfg.seconds} s (latest {dialled[:40]!r})",
                 evidence, acts, variant=variant, at=at, span=span)


def _context(ev) -> str | None:
    return getattr(ev, "context", None)
