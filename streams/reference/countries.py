"""The country of a public address, from the offline RIR data iptocc ships (no network)."""

from __future__ import annotations

import functools

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


def denied_networks4(allowed: set[str] | frozenset[str], exclude=()) -> list:
    """The IPv4 networks whose registered country is known and not in ``allowed``, minus ``exclude``.

    What an nftables interval set needs to drop what ``country_ip`` reports, for the whole address
    space at once. iptocc answers only single lookups (its ranges are not exposed), so every /24 is
    asked at its first and last address; a /24 whose two ends differ is asked address by address. RIR
    delegations are /24 or larger, so that finds every boundary short of a smaller assignment *inside*
    one /24 with both its ends alike, which the per-address ``country_ip`` alerts still see.
    Addresses with no country (private, reserved, unallocated) are never in the result. About 10 s.
    """
    import ipaddress

    exclude = [ipaddress.ip_network(x, strict=False) for x in exclude]
    return _without(list(_denied4(frozenset(allowed))), [x for x in exclude if x.version == 4])


@functools.lru_cache(maxsize=4)
def _denied4(allowed: frozenset) -> tuple:
    import ipaddress

    denied: list[tuple[int, int]] = []  # merged [first, last] integer runs

    def deny(first: int, last: int) -> None:
        if denied and denied[-1][1] + 1 == first:
            denied[-1] = (denied[-1][0], last)
        else:
            denied.append((first, last))

    for first, last, cc in _runs4():
        if cc is not None and cc not in allowed:
            deny(first, last)
    return tuple(n for first, last in denied
                 for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)))


def _runs4():
    """``(first, last, country)`` runs over the IPv4 space (as integers), in address order."""
    import ipaddress
    from itertools import groupby

    tails = [f"{b}.{c}." for b in range(256) for c in range(256)]
    for a in range(256):
        base = a << 24
        if a in (0, 10, 127) or a >= 224:  # this-network, private, loopback, multicast and reserved: no country
            yield base, base + (1 << 24) - 1, None
            continue
        head = f"{a}."
        rows = [head + t for t in tails]
        lo = iptocc.country_code([r + "0" for r in rows])
        hi = iptocc.country_code([r + "255" for r in rows])
        mixed = set() if lo == hi else {i for i, (x, y) in enumerate(zip(lo, hi)) if x != y}
        at = 0
        for cc, group in groupby(lo):
            n = sum(1 for _ in group)
            inside = sorted(i for i in mixed if at <= i < at + n) if mixed else []
            start = at
            for i in inside:  # a /24 whose ends differ: asked address by address
                if i > start:
                    yield base + (start << 8), base + (i << 8) - 1, cc
                one = base + (i << 8)
                each = iptocc.country_code([str(ipaddress.IPv4Address(one + k)) for k in range(256)])
                for k, c in enumerate(each):
                    yield one + k, one + k, c
                start = i + 1
            if start < at + n:
                yield base + (start << 8), base + ((at + n) << 8) - 1, cc
            at += n


def _without(nets: list, exclude: list) -> list:
    """``nets`` with every address of ``exclude`` carved out (never-block networks, the tenant's LAN)."""
    out = []
    for net in nets:
        parts = [net]
        for ex in exclude:
            nxt = []
            for p in parts:
                if p.overlaps(ex):
                    nxt.extend([] if p.subnet_of(ex) else p.address_exclude(ex))
                else:
                    nxt.append(p)
            parts = nxt
        out.extend(parts)
    return sorted(out)
