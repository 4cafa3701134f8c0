"""A distributed registration flood: issue 28's campaign, as JSONL security events.

    python bench/gen_campaign_flood.py N OUT [--accounts 500] [--minutes 30] [--end ISO] [--seed 28]

N failed SIP REGISTERs (wrong password, so each proved its round trip), every one from a new
public IPv4 address, against accounts 1000..1000+A-1 of tenant ``default``, spread evenly (with
a little jitter, still in time order) over the M minutes that end at ``--end``. That is a botnet
brute force: no address comes back, so the per-IP lockouts never fire, while each account takes
N/A guesses.

- Addresses are drawn at random over the globally routable IPv4 space (no private, shared,
  documentation, multicast or reserved block) and kept only when the shipped IP-to-country data
  (iptocc) names a country outside ``--exclude-countries`` (default GB,IE: the Allowed Country
  IPs of fixtures/policy.example.yaml). So every address is one a country filter judges, as in
  the issue's measurement.
- Accounts are drawn at random (seeded), so every account is hit about N/A times, interleaved.
- Transport: 85% UDP, 15% TCP (SIP scanners mostly speak UDP); port 5060.
- User agents: a few common softphones (a flood that named itself friendly-scanner would be
  stopped by ``scanner_user_agent`` and measure something else).

The same arguments always write the same bytes. ``--end`` defaults to a fixed instant
(2026-10-01T09:00:00Z); pass ``--end now`` for a flood that ends at the wall clock (the worker
refuses events ahead of its clock, not behind it).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
from datetime import datetime, timedelta, timezone

import iptocc

DEFAULT_END = "2026-10-01T09:00:00Z"
USER_AGENTS = ("Z 3.15.40006 rv2.8.20", "MicroSIP/3.21.3", "Linphone/5.2.5 (Desktop)", "Zoiper rv2.10.20.3",
               "Bria 6 release 6.6.1 stamp 113035", "PolycomVVX-VVX_411-UA/6.4.3.5018")
BOGONS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")]


def parse_end(text: str) -> datetime:
    if text == "now":
        return datetime.now(timezone.utc).replace(microsecond=0)
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def public(addr: int) -> bool:
    ip = ipaddress.IPv4Address(addr)
    return ip.is_global and not any(ip in net for net in BOGONS)


def sources(rng: random.Random, n: int, excluded: set[str]):
    """N distinct routable IPv4 addresses whose country is known and not excluded, in draw order."""
    seen: set[int] = set()
    while len(seen) < n:
        addr = rng.randrange(1 << 24, 224 << 24)
        if addr in seen or addr & 255 in (0, 255) or not public(addr):
            continue
        text = str(ipaddress.IPv4Address(addr))
        cc = iptocc.country_code(text)
        if cc is None or cc in excluded:
            continue
        seen.add(addr)
        yield text


def stamp(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--end", default=DEFAULT_END, help=f"RFC 3339 end of the flood, or 'now' (default {DEFAULT_END})")
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--exclude-countries", default="GB,IE",
                    help="countries no source address is drawn from (default GB,IE)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    excluded = {c.strip().upper() for c in a.exclude_countries.split(",") if c.strip()}
    end = parse_end(a.end)
    start = end - timedelta(minutes=a.minutes)
    step = a.minutes * 60 / a.n
    with open(a.out, "w") as fh:
        for i, ip in enumerate(sources(rng, a.n, excluded)):
            ts = start + timedelta(seconds=(i + rng.random()) * step)  # jitter within its own slot: still ordered
            tcp = rng.random() < 0.15
            ev = {"type": "security", "ts": stamp(ts), "tenant": "default", "service": "sip", "action": "register",
                  "src_ip": ip, "outcome": "failure", "account": str(1000 + rng.randrange(a.accounts)),
                  "protocol": "tcp" if tcp else "udp", "port": 5060, "user_agent": rng.choice(USER_AGENTS),
                  "reason": "Wrong password", "round_trip": True}
            fh.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
