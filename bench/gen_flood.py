"""A flood of failed SIP registrations, each from a new source address (a spoofed or botnet scan).

    python bench/gen_flood.py N OUT [--hours H]

N events, every one from a distinct IPv4 address, spread evenly over H hours (default 168:
a week) from 2026-10-01. The state a detector keeps for them is what ``make bench`` measures:
without expiry every address would stay a key forever.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--hours", type=float, default=168.0)
    a = ap.parse_args()
    step = a.hours * 3600 / a.n
    with open(a.out, "w") as fh:
        for i in range(a.n):
            ip = f"{11 + (i >> 24)}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            ts = (T0 + timedelta(seconds=i * step)).isoformat().replace("+00:00", "Z")
            fh.write(json.dumps({"type": "security", "ts": ts, "service": "sip", "src_ip": ip, "outcome": "failure",
                                 "action": "register", "account": str(1000 + i % 500),
                                 "user_agent": "Z 3.15.40006 rv2.8.20"}, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
