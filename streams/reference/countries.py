"""The country of a public address, from the offline RIR data iptocc ships (no network)."""

from __future__ import annotations

import iptocc

_cache: dict[str, str | None] = {}
CACHE = 200_000  # addresses remembered (a flood of new ones clears it, never grows it past this)


def country_of(ip: str) -> str | None:
    """ISO 3166 alpha-2 code of ``ip``'s registered country, or None (private, reserved, unknown)."""
    c = _cache.get(ip, "?")
    if c == "?":
        try:
            c = iptocc.country_code(ip)
        except Exception:
            c = None
        if len(_cache) > CACHE:
            _cache.clear()
        _cache[ip] = c
    return c
