"""What a valid policy can still get badly wrong: ``tollguard policy`` warns about it.

A policy that parses may still switch detection off (every rule ``off``), exempt the whole
internet from blocking (``lan: 0.0.0.0/0``), let forged UDP sources get addresses blocked
(``block_on_unverified_udp``), or set limits no PBX reaches (10,000 calls a second),
which disarms the rule as surely as ``off``. Each warning names the key and its line.
"""

from __future__ import annotations

from typing import Iterable

from streams.domain.ruleids import RULE_IDS

# limits beyond any sane use: (path in a tenant policy, getter, ceiling, what it means)
SANE = [
    ("call_frequency", lambda p: p.call_frequency.calls / p.call_frequency.seconds, 50, "calls per second"),
    ("daily_calls", lambda p: p.daily_calls, 20_000, "calls per extension per day"),
    ("sequential_calls", lambda p: p.sequential_calls.calls, 2_000, "calls to one number per window"),
    ("max_call_duration", lambda p: p.max_call_duration, 86_400, "seconds of one call"),
    ("registration_lockout", lambda p: p.registration_lockout.failures, 1_000, "failed registrations before a lockout"),
    ("login_lockout", lambda p: p.login_lockout.failures, 1_000, "failed logins before a lockout"),
    ("pin_failures", lambda p: p.pin_failures.failures, 1_000, "bad PINs before a bar"),
    ("default_trunk", lambda p: p.default_trunk.max_concurrent_calls, 10_000, "concurrent calls on a trunk"),
]
PUBLIC_EXEMPT_MAX = 65_536  # public addresses a LAN or accept entry may cover before it looks like a mistake


def warnings(tenants: Iterable[tuple[str, object]], line_of) -> list[str]:
    """Warnings for each (prefix, TenantPolicy, keys it sets itself or None for all); ``line_of(path)``
    gives a line number. A tenant is warned only about what it sets (what it inherits is warned once)."""
    out: list[str] = []
    for prefix, p, own in tenants:
        for w in (_rules_off(prefix, p, line_of) + _exempt_internet(prefix, p, line_of)
                  + _insane_limits(prefix, p, line_of) + _spoofable(prefix, p, line_of)):
            key = w.split(": ", 2)[1].split(".")[len(prefix)].split(" ")[0] if own is not None else None
            if own is None or key in own:
                out.append(w)
    return out


def _where(prefix: tuple, key: str, line_of) -> str:
    path = (*prefix, key)
    return f"{line_of(path)}: {'.'.join(path)}"


def _rules_off(prefix, p, line_of) -> list[str]:
    off = sorted(r for r, s in p.rules.items() if s.mode == "off")
    if set(off) >= set(RULE_IDS):
        return [f"{_where(prefix, 'rules', line_of)}: every rule is off: this policy detects nothing"]
    if len(off) > len(RULE_IDS) // 2:
        return [f"{_where(prefix, 'rules', line_of)}: {len(off)} of {len(RULE_IDS)} rules are off ({', '.join(off)})"]
    return []


def _exempt_internet(prefix, p, line_of) -> list[str]:
    out = []
    for key, nets in (("lan", p.lan), ("static_defense", [r.source for r in p.static_defense if r.action == "accept"])):
        for net in nets:
            net = _network(net)
            if net is not None and not net.is_private and net.num_addresses > PUBLIC_EXEMPT_MAX:
                out.append(f"{_where(prefix, key, line_of)}: {net} covers {net.num_addresses:,} public addresses; "
                           "no rule will ever block any of them")
    return out


def _insane_limits(prefix, p, line_of) -> list[str]:
    out = []
    for key, get, ceiling, meaning in SANE:
        value = get(p)
        if value > ceiling:
            out.append(f"{_where(prefix, key, line_of)}: {value:,.0f} {meaning} is beyond any real PBX "
                       f"(more than {ceiling:,}): the rule will never fire")
    return out


def _spoofable(prefix, p, line_of) -> list[str]:
    if not p.block_on_unverified_udp:
        return []
    return [f"{_where(prefix, 'block_on_unverified_udp', line_of)}: failures that need no round trip over UDP "
            "block their source: anyone can write an innocent address (your SIP trunk's) as the source of such "
            "a packet and get it blocked"]


def _network(value):
    import ipaddress
    try:
        return ipaddress.ip_network(value, strict=False) if isinstance(value, str) else value
    except ValueError:
        return None
