"""route_scan — guide: Network Security (SIP scanners) and Outbound Call Security; peers: the route-enumeration signature of SIPVicious-style scans (one foreign number tried behind every dial prefix), counted per target, not per source.

A scanner that found a PBX looks for a route out by calling one foreign number again and again,
each time behind another dial prefix: none, ``+``, the international prefix, a trunk-access code
or junk digits before it (``441134900292``, ``+441134900292``, ``00441134900292``,
``900441134900292``, ``8800441134900292``, …). A slow one rotates its caller ids and calls once
every ~48 minutes, so ``inbound_probe`` (per source, per hour) never sees enough of it in one
place. Its signature is the *target*: the dialled number is normalised (up to four junk digits
and an international prefix taken off, read with libphonenumber) and the attempts on each foreign
target are counted across every source and caller id. The ``forms``-th distinct dial form of one
target within ``seconds`` (default the 5th in 24 h, ``route_scan`` in the policy) raises the alert.

What counts: an unanswered inbound CDR (no billed second) whose destination is no extension of
ours, and a refused call in a security log (``dialled``: Asterisk's "extension not found", a
FreeSWITCH INVITE that failed authentication). A destination counts when, read this way, it is a
valid number of another country than the tenant's: a DID of ours is a home number and never does;
a bare number (no prefix) counts only when the home plan does not read it as a valid national one.
A LAN source is never a scanner (as in ``inbound_probe``).

Why five: a person who cannot get through retries a foreign number in the forms people dial
(``+``, the international prefix, the digits alone, perhaps with the outside-line code): at most
four. The fifth needs digits nobody dials on purpose, which a scanner's rotation reaches within a
few hours at one call every 48 minutes.

The alert (subject the target number) blocks the source addresses of the window that reached the
count (the most recent 32) for ``scanner_block_seconds``: the policy's LAN and static-accept
addresses never are, and a source whose every attempt needed no round trip over UDP only under
``block_on_unverified_udp`` (when no source of the window proved its address, the alert is one of
its own, variant ``unverified``, so a proven one still opens the blocking one). Attempts without an
address (a FreeSWITCH CDR from the default template) count the same and block nothing. An alert's
incident lasts the block (a permanent block: for ever), so a day-long scan is one alert unless it
straddles a grid line of that length, as every incident does (``streams.core.epochs``); an address that
joins the scan after the alert is left to ``inbound_probe`` and ``auto_defense`` until then. Every
window end that reaches the count is a detection, so which alerts are raised does not depend on the
order the calls arrive in (which addresses the first detection of an incident saw may).

Partitioned by the tenant key, the one key that sees every unanswered inbound call and refused call of
a tenant from every source: a scan on one PBX is one tenant's traffic, and within that key the state is
kept per normalised target (``TenantState.route_scan``). State is bounded: the most recent targets,
and per target the most recent attempts, forms, sources and callers.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from zlib import crc32

import phonenumbers

from streams.rules._common import flagged
from streams.rules.contract import Order
from streams.core.epochs import FOREVER, HORIZON
from streams.domain.events import Cdr, parse_ip
from streams.reference.numbers import dialled_digits
from streams.state.schema import ScanTarget

RULE = "route_scan"
SCOPE = "tenant"
EVENTS = ("security", "cdr")
WANTS = {"inbound_end", "other_failure"}  # unanswered inbound calls; calls refused (``dialled``)


def routes(ev, tenant) -> bool:
    """An unanswered inbound call, or a refused call that names what it dialled (``_attempt``)."""
    if isinstance(ev, Cdr):
        return not ev.billsec
    return bool(ev.dialled)
SEVERITY = "alert"
STATE = ("route_scan",)  # the slots of its key's state it keeps (streams/state/schema.py)

JUNK = 4               # digits a scanner puts before the prefix (trunk access, another dialplan's codes)
PREFIXES = ("+", "011", "00")   # besides the tenant's own international prefixes
KEEP_TARGETS = 128     # targets remembered per tenant (the most recently tried)
KEEP_TRIES = 256       # attempts kept per target (the most recent)
KEEP_NAMES = 64        # forms, sources and callers named per target (the most recent)
SHOW = 12              # dial forms listed in an alert
KEEP_BLOCKS = 32       # sources an alert blocks (the most recent in its window)


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.route_scan.seconds


def check(ctx, ev) -> None:
    dialled = _attempt(ctx, ev)
    if dialled is None:
        return
    found = target_of(dialled, ctx.tenant.settings.home_country, tuple(ctx.tenant.numbers.intl_prefixes))
    if found is None:
        return
    e164, form, bare = found
    if bare:
        home = ctx.tenant.numbers.classify(dialled)
        if home.valid and not home.international:
            return  # the digits alone read as a valid number at home: a DID or a local call, no foreign target
    ip = _source(ctx, ev)
    if ip is False:
        return  # from the LAN
    caller = (ev.src if isinstance(ev, Cdr) else ev.account) or ""
    cfg = ctx.tenant.settings.route_scan
    st = _target(ctx, e164)
    i = st.tries.add(ctx.ts, (_h(form[:32]) << 32) | flagged(_h(ip or ""), ev))  # proven in the lowest bit
    _name(st.forms, form[:32], ctx.ts)
    _name(st.sources, ip or "", ctx.ts)
    if caller:
        _name(st.callers, caller[:64], ctx.ts)
    if i >= 0:
        _detect(ctx, e164, st, i, cfg)
    _prune(ctx, st, cfg)


# -- what is an attempt, on what target --------------------------------------------------------
def _attempt(ctx, ev) -> str | None:
    """The number dialled by an unanswered inbound call or a refused call, else None."""
    if isinstance(ev, Cdr):
        if ev.direction != "inbound" or ev.phase == "start" or (ev.billsec or 0) > 0 or ev.disposition == "answered":
            return None
        if ctx.tenant.settings.cdr.is_extension(ev.dst):
            return None
        return ev.dst
    if ev.outcome != "failure" or not ev.dialled:
        return None
    return ev.dialled


def _source(ctx, ev):
    """The source address (None when unknown or unreadable), or False for a LAN source."""
    ip = ev.src_ip
    if not ip:
        return None
    try:
        addr = parse_ip(ip)
    except ValueError:
        return None
    return False if ctx.tenant.in_lan(addr) else ip


@lru_cache(maxsize=1 << 14)
def target_of(dialled: str, home: str, prefixes: tuple[str, ...]) -> tuple[str, str, bool] | None:
    """``(E.164, dial form, bare)`` of a foreign number dialled behind up to ``JUNK`` digits and an
    international prefix (``+``, ``00``, ``011`` or the tenant's), or bare (its country code first, no
    prefix and no junk); None when it is no valid number of another country than ``home``.
    The dial form is what was dialled without formatting (``+44 113…`` and ``+44113…`` are one form)."""
    form = dialled_digits(dialled)[:40]
    if not form or any(c not in "+0123456789" for c in form):
        return None
    marks = sorted({*PREFIXES, *prefixes}, key=len, reverse=True)
    for off in range(0, JUNK + 1):
        if off and not form[:off].isdigit():
            break
        rest = form[off:]
        for mark in marks:
            if rest.startswith(mark):
                e164 = _foreign("+" + rest[len(mark):].lstrip("+"), home)
                if e164:
                    return e164, form, False
    if form.isdigit():
        e164 = _foreign("+" + form, home)
        if e164:
            return e164, form, True
    return None


def _foreign(text: str, home: str) -> str | None:
    try:
        n = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    region = phonenumbers.region_code_for_number(n)
    if region == home.upper():
        return None
    return f"+{n.country_code}{n.national_number}"


# -- state --------------------------------------------------------------------------------------
def _h(text: str) -> int:
    return crc32(text.encode()) & 0x7FFFFFFF


def _target(ctx, e164: str) -> ScanTarget:
    targets = ctx.state.route_scan
    st = targets.get(e164)
    if st is None:
        st = targets[e164] = ScanTarget()
        if len(targets) > KEEP_TARGETS + KEEP_TARGETS // 4:  # forget the targets tried least recently
            ranked = sorted(targets, key=lambda k: (targets[k].tries.t[-1] if targets[k].tries.t else ctx.ts, k))
            for k in ranked[:len(targets) - KEEP_TARGETS]:
                if k != e164:
                    del targets[k]
    return st


def _name(names: dict[str, float], name: str, ts: float) -> None:
    if ts >= names.get(name, float("-inf")):
        names[name] = ts
    if len(names) > KEEP_NAMES + KEEP_NAMES // 4:
        for k in sorted(names, key=lambda n: (names[n], n))[:len(names) - KEEP_NAMES]:
            del names[k]


def _prune(ctx, st: ScanTarget, cfg) -> None:
    st.tries.prune(ctx.settled - cfg.seconds - HORIZON, KEEP_TRIES)


# -- detection ----------------------------------------------------------------------------------
def _detect(ctx, e164: str, st: ScanTarget, i: int, cfg) -> None:
    """Every window end the new attempt falls in (its own instant and later ones within ``seconds``)
    that now holds ``forms`` distinct dial forms is a detection of the target's scan."""
    times, ids = st.tries.t, st.tries.ids
    t = times[i]
    span = _span(ctx)
    last = None
    for j in range(i, bisect_right(times, t + cfg.seconds)):
        end = times[j]
        if end == last or end - cfg.seconds >= t:
            continue
        last = end
        if ctx.absorbed(RULE, "number", e164, "", at=end, span=span):
            continue  # the target's blocking incident is open: nothing new to say or block
        lo, hi = bisect_right(times, end - cfg.seconds), bisect_right(times, end)
        forms = {ids[k] >> 32 for k in range(lo, hi)}
        if len(forms) < cfg.forms:
            continue
        proven: dict[int, bool] = {}  # source hash -> did one of its attempts prove its address?
        for k in range(lo, hi):
            src = (ids[k] >> 1) & 0x7FFFFFFF
            proven[src] = proven.get(src, False) or bool(ids[k] & 1)
        blockable = ctx.tenant.settings.block_on_unverified_udp or any(ok for src, ok in proven.items() if src)
        variant = "" if blockable or set(proven) == {0} else "unverified"
        if not variant or not ctx.absorbed(RULE, "number", e164, variant, at=end, span=span):
            _alert(ctx, e164, st, end, hi - lo, forms, proven, variant, span, cfg)


def _span(ctx) -> float:
    """An alert's incident: the scanner block's length (for ever for a permanent one), with or without
    an address to block, so one scan is one alert."""
    block = ctx.tenant.settings.scanner_block_seconds
    return FOREVER if block is None else float(max(block, 1))


def _alert(ctx, e164, st, end, attempts, forms, proven, variant, span, cfg) -> None:
    names = {_h(s): s for s in st.sources if s}
    known = sorted(((names[h], ok) for h, ok in proven.items() if h in names), key=lambda x: (-st.sources[x[0]], x[0]))
    anyway = ctx.tenant.settings.block_on_unverified_udp
    block = [ip for ip, ok in known if ok or anyway][:KEEP_BLOCKS]
    shown = sorted(f for f in st.forms if _h(f[:32]) in forms)[:SHOW]
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    evidence = {"target": e164, "country": region, "forms": len(forms), "dial_forms": shown, "attempts": attempts,
                "seconds": cfg.seconds, "sources": [ip for ip, _ in known][:KEEP_BLOCKS], "sourceless": 0 in proven,
                "callers_recently": sum(1 for ts in st.callers.values() if end - cfg.seconds < ts)}
    unproven = [ip for ip, ok in known if not (ok or anyway)]
    if unproven:
        evidence["not_blocked"] = (f"{len(unproven)} source(s) whose every attempt needed no round trip over UDP, "
                                   "so their addresses may be forged: alert only (block_on_unverified_udp)")
    orders = [Order("block_ip", ip, ctx.tenant.settings.scanner_block_seconds) for ip in block]
    who = f"from {len(known)} address(es)" if known else "(no source address known)"
    ctx.emit(RULE, SEVERITY, "number", e164,
             f"Route scan: {len(forms)} dial forms of {e164} ({region or 'abroad'}) within {cfg.seconds / 3600:g} h, "
             f"{attempts} unanswered or refused calls {who}",
             evidence, orders, variant=variant, at=end, span=span)
