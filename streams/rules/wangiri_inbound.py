"""wangiri_inbound — no guide section: one-ring calls from abroad that bait callbacks to premium numbers (ClearIP's inbound Wangiri score).

A Wangiri burst rings many extensions once from foreign numbers and hangs up, so that people
call back a number that bills them. More than ``calls`` inbound calls that were not answered and
rang at most ``max_ring`` seconds, from callers in one foreign country within ``seconds``, to at
least ``extensions`` different extensions, raise one alert per country and epoch, and (enforce
mode) a ``block_number`` on every calling number of the burst for ``block_seconds``: enforcers
and ``tollguard verdict`` then refuse the callbacks.

Counted per tenant (inbound unanswered calls are already judged under the tenant key), in any
order, each call once. Callers at home are not counted: a missed national call is ordinary.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from .contract import Order
from ._common import names_during, note_name, window_hits
from ..state import OneRing

RULE = "wangiri_inbound"
SCOPE = "tenant"
EVENTS = ("cdr",)
WANTS = {"inbound_end"}
SEVERITY = "alert"
KEEP_COUNTRIES = 64
KEEP_NAMES = 64       # calling numbers and extensions remembered per country (the most recent)


def check(ctx, cdr) -> None:
    p = ctx.tenant.p.wangiri
    if cdr.disposition == "answered" or (cdr.billsec or 0) > 0:
        return
    ring = cdr.duration if cdr.duration is not None else ctx.ts - ctx.call_start
    if ring is None or ring > p.max_ring:
        return
    if ctx.tenant.p.cdr.is_extension(cdr.src):
        return  # an internal caller
    caller = foreign(cdr.src, ctx.tenant.p.home_country)
    if caller is None:
        return
    number, country = caller
    st = _state(ctx.st.wangiri_inbound, country)
    note_name(st.callers, number, ctx.ts, KEEP_NAMES)
    note_name(st.targets, cdr.dst[:64], ctx.ts, KEEP_NAMES)
    block = p.block_seconds
    for at, n in window_hits(ctx, st.calls, ctx.ts, p.seconds, p.calls, _span(ctx, block), keep=4 * (p.calls + 1)):
        rung = names_during(st.targets, at, p.seconds)
        if len(rung) < p.extensions:
            continue
        callers = names_during(st.callers, at, p.seconds)
        ctx.emit(RULE, SEVERITY, "country", country,
                 f"Wangiri: {n} one-ring calls from {len(callers)} number(s) in {country} to {len(rung)} extensions "
                 f"within {p.seconds:g} s; calling them back is blocked",
                 {"calls": n, "limit": p.calls, "seconds": p.seconds, "country": country, "callers": callers[-32:],
                  "extensions": rung[-32:], "max_ring": p.max_ring},
                 [Order("block_number", c, block) for c in callers[-32:]], at=at)


def _span(ctx, block) -> float:
    return float(block) if block else float(ctx.tenant.p.incident_seconds)


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
