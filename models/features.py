"""Per-extension behaviour features, incremental and O(1) per call (no train/serve skew).

The same ``ExtensionFeatures.update`` turns a completed outbound call into a feature vector
in training (over files) and in live scoring (over the stream). State per extension is a
``streams.state.Features`` struct: exponentially decayed sums with 1-hour and 24-hour time
constants (event time), the last time each recent destination and country was called, and a
bounded set of destinations ever seen.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

FEATURES = (
    "calls_1h", "calls_24h", "distinct_dst_1h", "distinct_countries_24h", "intl_share_24h",
    "premium_share_24h", "offhours_share_24h", "mean_billsec_24h", "max_billsec_24h", "cost_per_hour_1h",
    "new_dst_share_24h", "failed_ratio_24h",
)
H1, H24 = 3600.0, 86400.0
MAX_RECENT_DST = 64
MAX_SEEN = 512


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the features need to know about one completed outbound call."""
    ts: float            # call start, epoch seconds
    dst: str             # E.164 when known, else as dialled
    country: str | None
    international: bool
    premium: bool        # premium rate, shared cost, or an unallocated international range
    offhours: bool       # outside the tenant's business hours
    billsec: float
    cost: float
    failed: bool


class ExtensionFeatures:
    """Update one extension's state (``streams.state.Features``) with a call; the feature vector after it."""

    @staticmethod
    def update(st, c: CallFacts) -> list[float]:
        last = st.t
        dt = 0.0 if last is None else max(0.0, c.ts - last)
        st.t = max(c.ts, last if last is not None else c.ts)
        s1, s24 = st.s1, st.s24                                 # 1 h: calls, cost; 24 h: calls, intl, premium,
        if dt > 0:                                              # offhours, billsec, new, failed, answered
            k1, k24 = math.exp(-dt / H1), math.exp(-dt / H24)  # decay: value * e^(-dt/tau), one factor per tau
            s1[:] = [v * k1 for v in s1]
            s24[:] = [v * k24 for v in s24]
            st.mx = max(st.mx * k24, c.billsec)
        else:
            st.mx = max(st.mx, c.billsec)
        h = zlib.crc32(c.dst.encode()) & 0x7FFFFFFF
        seen = st.seen
        new = h not in seen
        if new:
            seen.append(h)
            if len(seen) > MAX_SEEN:
                del seen[: len(seen) - MAX_SEEN]
        recent = st.recent
        recent[h] = c.ts
        while len(recent) > MAX_RECENT_DST:  # one over at a time: drop the least recent (the first on a tie)
            del recent[min(recent, key=recent.get)]
        countries = st.countries
        if c.country:
            countries[c.country] = c.ts
        s1[0] += 1
        s1[1] += c.cost
        s24[0] += 1
        s24[1] += c.international
        s24[2] += c.premium
        s24[3] += c.offhours
        s24[4] += c.billsec
        s24[5] += new
        s24[6] += c.failed
        s24[7] += not c.failed
        calls24 = s24[0]
        return [
            s1[0],
            calls24,
            float(len([t for t in recent.values() if c.ts - t < H1])),
            float(len([t for t in countries.values() if c.ts - t < H24])),
            s24[1] / calls24,
            s24[2] / calls24,
            s24[3] / calls24,
            s24[4] / max(s24[7], 1e-9) if s24[7] > 1e-9 else 0.0,
            st.mx,
            s1[1],                                              # decayed cost over ~1 h: $ per hour
            s24[5] / calls24,
            s24[6] / calls24,
        ]


def call_facts(cdr, tenant, rates) -> CallFacts | None:
    """The facts of a completed outbound call to a real destination, or None for anything else."""
    if cdr.direction != "outbound" or cdr.phase != "end":
        return None
    n = tenant.numbers.classify(cdr.dst)
    if n.kind in ("short", "emergency"):
        return None
    start = cdr.start.timestamp()
    billsec = cdr.billsec if cdr.billsec is not None else (cdr.duration or 0.0)
    cost = cdr.cost if cdr.cost is not None else rates.cost(n, billsec)
    inside = tenant.business_hours(start)
    return CallFacts(
        ts=start, dst=n.e164 or cdr.dst, country=n.region, international=n.international,
        premium=n.premium or (n.international and n.possible and not n.valid), offhours=inside is False,
        billsec=float(billsec), cost=float(cost), failed=(cdr.disposition or "answered") != "answered",
    )
