"""wangiri_inbound — no guide section: one-ring calls from abroad that bait callbacks to premium numbers (ClearIP's inbound Wangiri score).

A Wangiri burst rings many extensions once from foreign numbers and hangs up, so that people
call back a number that bills them. More than ``calls`` inbound calls that were not answered and
rang at most ``max_ring`` seconds, from callers in one foreign country within ``seconds``, to at
least ``extensions`` different extensions, raise one alert per country and epoch, and (enforce
mode) a ``block_number`` on every calling number of the burst for ``block_seconds``: enforcers
and ``tollguard verdict`` then refuse the callbacks.

A burst's callers usually come from one range of one mobile operator abroad, and the fraudster
owns the numbers beside them that did not ring. The burst's range is the longest prefix that most
of its numbers share (a strict majority, at least two, and at least the country code and two
national digits: :func:`common_range`); it is blocked as one ``block_number`` on the prefix, the
callers outside it one by one, and listed on the ranges topic (label ``wangiri``, expiring with
the block) by the worker for the verdict, enforcers and other tools. The rule decides from its own
state, never from that listing, so replay and the worker agree (``high_risk_range`` ignores the
ranges tollguard lists itself).

A callback — an outbound call from the tenant to a number of the burst, one that rang in it, or
any number in its range, from the burst's first window until its block ends — raises one alert per
extension and epoch naming the burst, and orders the number blocked (and the call hung up when it
is in progress).
The tenant's calls abroad are judged under its tenant key while this rule is on, so a callback
judged before its burst is found (a shuffled feed) is remembered and alerted when it is.

Counted per tenant (inbound unanswered calls are already judged under the tenant key), in any
order, each call once. Callers at home are not counted: a missed national call is ordinary.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import phonenumbers

from streams.rules.contract import Order
from streams.rules._common import names_during, note_name, window_hits
from streams.core.epochs import FOREVER, HORIZON, iso
from streams.state import Burst, Dialled, OneRing
from streams.state.expiry import PROFILE

RULE = "wangiri_inbound"
SCOPE = "tenant"
EVENTS = ("cdr",)
WANTS = {"inbound_end", "outbound_start", "outbound_end"}


def routes(cdr, tenant) -> bool:
    """An unanswered inbound call (a ring), and the tenant's calls abroad (callbacks)."""
    if cdr.direction == "inbound":
        return not cdr.billsec
    return tenant.numbers.classify(cdr.dst).international
SEVERITY = "alert"
STATE = ("wangiri_inbound", "wangiri_dialled")  # the slots of its key's state it keeps (streams/state/schema.py)
KEEP_COUNTRIES = 64
KEEP_NAMES = 64       # calling numbers and extensions remembered per country (the most recent)
KEEP_BURSTS = 8       # bursts remembered per country (the latest ending)
KEEP_DIALLED = 256    # numbers abroad called recently, remembered until no late burst can cover them (the most recent)
KEEP_CALLS = 8        # calls remembered per such number


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.wangiri.seconds


def keeps(st, seen: float):
    """Past its look-back, a key is kept until a Wangiri burst's block ends: calling its numbers back is
    still a callback (instants, streams.state.expiry)."""
    for ring in st.wangiri_inbound.values():
        for b in ring.bursts:
            yield min(b.until, seen + PROFILE) + HORIZON


def check(ctx, cdr) -> None:
    if cdr.direction == "outbound":
        _callback(ctx, cdr)
        return
    p = ctx.tenant.settings.wangiri
    if cdr.disposition == "answered" or (cdr.billsec or 0) > 0:
        return
    ring = cdr.duration if cdr.duration is not None else ctx.ts - ctx.call_start
    if ring is None or ring > p.max_ring:
        return
    if ctx.tenant.settings.cdr.is_extension(cdr.src):
        return  # an internal caller
    caller = foreign(cdr.src, ctx.tenant.settings.home_country)
    if caller is None:
        return
    number, country = caller
    st = _state(ctx.state.wangiri_inbound, country)
    note_name(st.callers, number, ctx.ts, KEEP_NAMES)
    note_name(st.targets, cdr.dst[:64], ctx.ts, KEEP_NAMES)
    block = p.block_seconds
    for at, n in window_hits(ctx, st.calls, ctx.ts, p.seconds, p.calls, _span(ctx, block), keep=4 * (p.calls + 1)):
        rung = names_during(st.targets, at, p.seconds)
        if len(rung) < p.extensions:
            continue
        callers = names_during(st.callers, at, p.seconds)[-32:]
        prefix = common_range(callers, country)
        until = FOREVER if block is None else at + _span(ctx, block)
        ctx.emit(RULE, SEVERITY, "country", country,
                 f"Wangiri: {n} one-ring calls from {len(callers)} number(s) in {country} to {len(rung)} extensions "
                 f"within {p.seconds:g} s; calling them back is blocked" + (f", and any number in {prefix}" if prefix else ""),
                 {"calls": n, "limit": p.calls, "seconds": p.seconds, "country": country, "callers": callers,
                  "extensions": rung[-32:], "max_ring": p.max_ring, "range": prefix,
                  "range_expires": None if until >= FOREVER else iso(until).isoformat()},
                 _blocks(prefix, callers, block), at=at)
        first = next((t for t in st.calls.t if t >= at - p.seconds), at)  # the burst's first ring
        _found(ctx, st, country, Burst(first, until, callers, prefix or ""))
    for b in st.bursts:  # a caller that joined a burst already found: callbacks to it are callbacks too
        if b.start <= ctx.ts < b.until:
            _recall(ctx, number, b, country)


# -- callbacks ---------------------------------------------------------------------------------

def _callback(ctx, cdr) -> None:
    """An outbound call abroad: a callback to a burst found, else remembered for one found late."""
    n = ctx.num
    if not ctx.first_sight or not n.international or not n.e164:
        return
    start = ctx.call_start
    for country, ring in ctx.state.wangiri_inbound.items():
        for b in ring.bursts:
            if b.start <= start < b.until and _in_burst(ring, b, n.e164, start):
                _alert(ctx, Dialled(start, cdr.src[:64], cdr.call_id[:128], cdr.phase == "start"), n.e164, b, country)
                return
    _remember(ctx, n.e164, Dialled(start, cdr.src[:64], cdr.call_id[:128], cdr.phase == "start"))


def _in_burst(ring: OneRing, b: Burst, number: str, start: float) -> bool:
    if number in b.callers or (b.prefix and number.startswith(b.prefix)):
        return True
    rang = ring.callers.get(number)  # rang after the burst was found (a joiner)
    return rang is not None and b.start <= rang <= start


def _found(ctx, ring: OneRing, country: str, b: Burst) -> None:
    """Keep a burst found (once), and alert the callbacks already judged that it covers."""
    if any(x.start == b.start for x in ring.bursts):
        return
    ring.bursts.append(b)
    if len(ring.bursts) > KEEP_BURSTS:
        ring.bursts.sort(key=lambda x: (x.until, x.start))
        del ring.bursts[0]
    for number in b.callers:
        _recall(ctx, number, b, country)
    if b.prefix:  # remembered calls to the range's numbers that did not ring
        for number in sorted(n for n in ctx.state.wangiri_dialled if n.startswith(b.prefix) and n not in b.callers):
            _recall(ctx, number, b, country)


def _recall(ctx, number: str, b: Burst, country: str) -> None:
    """Alert the remembered calls to ``number`` that fall in burst ``b`` (judged before it was found)."""
    calls = ctx.state.wangiri_dialled.get(number)
    if not calls:
        return
    for d in [d for d in calls if b.start <= d.start < b.until]:
        ring = ctx.state.wangiri_inbound[country]
        if d.start >= ring.callers.get(number, b.start) or number in b.callers or _ranged(b, number):
            _alert(ctx, d, number, b, country)


def _alert(ctx, d: Dialled, number: str, b: Burst, country: str) -> None:
    left = None if b.until >= FOREVER else max(1, int(b.until - d.start))
    acts = [Order("hangup_call", d.call_id, None)] if d.live else []
    acts.append(Order("block_number", number, left))
    ctx.emit(RULE, SEVERITY, "extension", d.src,
             f"Extension {d.src} called back {number}, a Wangiri number that rang the tenant from {country}",
             {"call_id": d.call_id, "src": d.src, "e164": number, "country": country, "callback": True,
              "burst_start": b.start, "burst_callers": len(b.callers)},
             acts, at=d.start)


def _remember(ctx, number: str, d: Dialled) -> None:
    """Calls abroad are kept while a late burst may still cover them (its window and lateness), bounded."""
    dialled = ctx.state.wangiri_dialled
    new = number not in dialled
    calls = dialled.setdefault(number, [])
    if any(c.call_id == d.call_id for c in calls):
        return
    calls.append(d)
    if len(calls) > KEEP_CALLS:
        calls.sort(key=lambda c: (c.start, c.call_id))
        del calls[0]
    if new and (len(dialled) > KEEP_DIALLED + KEEP_DIALLED // 4 or (len(dialled) > 64 and len(dialled) % 32 == 0)):
        before = ctx.settled - ctx.tenant.settings.wangiri.seconds - HORIZON
        latest = {k: max(c.start for c in v) for k, v in dialled.items()}
        stale = [k for k, t in latest.items() if t < before]
        fresh = sorted((k for k, t in latest.items() if t >= before), key=lambda k: (latest[k], k))
        for k in stale + fresh[:max(0, len(fresh) - KEEP_DIALLED)]:
            del dialled[k]


def _ranged(b: Burst, number: str) -> bool:
    return bool(b.prefix) and number.startswith(b.prefix)


def _blocks(prefix: str | None, callers: list[str], block) -> list[Order]:
    """The range as one block, and each caller outside it on its own."""
    head = [Order("block_number", prefix, block)] if prefix else []
    return head + [Order("block_number", c, block) for c in callers if not (prefix and c.startswith(prefix))]


def common_range(numbers: list[str], country: str) -> str | None:
    """The longest prefix that a strict majority (and at least two) of ``numbers`` (E.164) share, no
    shorter than the country code and two national digits; None when there is none (callers from
    many ranges: each is blocked alone). Ties go to the smallest prefix, so any order gives one answer."""
    cc = phonenumbers.country_code_for_region(country)
    if not cc:
        return None
    head = f"+{cc}"
    nums = sorted({n for n in numbers if n.startswith(head)})
    need = max(2, len(set(numbers)) // 2 + 1)
    if len(nums) < need:
        return None
    for size in range(max(map(len, nums)) - 1, len(head) + 1, -1):
        counts = Counter(n[:size] for n in nums if len(n) > size)
        if not counts:
            continue
        prefix, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if count >= need:
            return prefix
    return None


def _span(ctx, block) -> float:
    return float(block) if block else float(ctx.tenant.settings.incident_seconds)


def _state(states: dict, country: str) -> OneRing:
    st = states.get(country)
    if st is None:
        if len(states) >= KEEP_COUNTRIES:
            del states[min(states, key=lambda c: (states[c].calls.t[-1] if states[c].calls.t else 0.0, c))]
        st = states[country] = OneRing()
    return st


@lru_cache(maxsize=1 << 14)
def foreign(number: str, home: str) -> tuple[str, str] | None:
    """(E.164, country) of a caller outside ``home``, read as international (``+``/``00``, or bare
    digits with a country code as many trunks deliver them); None for a caller at home or unreadable."""
    digits = "".join(c for c in number if c.isdigit() or c == "+")[:32]
    for text in (digits, "+" + digits.removeprefix("00").lstrip("+")):
        try:
            n = phonenumbers.parse(text, home)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(n):
            region = phonenumbers.region_code_for_number(n)
            if region == home:
                return None
            return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164), region or "ZZ"
    return None
