"""Synthetic load for throughput runs: N time-ordered events over many extensions and IPs.

Not a realistic simulator (that is `tollguard simulate`): a fixed mix — 60% completed CDRs
(national, mobile, some international, a few premium), 40% security events (LAN
re-registrations, some failures from public IPs) — spread over E extensions in T tenants,
deterministic for a seed. Usage: python bench/gen_events.py N OUT [--extensions E] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta, timezone


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--extensions", type=int, default=10_000)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=200.0, help="events per second of event time")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    t = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)  # in the past: the worker refuses events ahead of its clock
    dests = ["02079460%03d" % i for i in range(500)] + ["07700900%03d" % i for i in range(500)] + \
            ["0033142278%03d" % i for i in range(50)] + ["0049301234%03d" % i for i in range(50)] + ["09098790000"]
    pub = [f"{rng.randrange(11, 220)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(2000)]
    with open(a.out, "w") as fh:
        for i in range(a.n):
            t += timedelta(seconds=rng.expovariate(a.rate))
            ext = rng.randrange(a.extensions)
            tenant = f"t{ext % a.tenants}"
            src = str(1000 + ext // a.tenants)
            z = t.isoformat().replace("+00:00", "Z")
            if rng.random() < 0.6:
                dur = int(rng.expovariate(1 / 120))
                start = (t - timedelta(seconds=dur)).isoformat().replace("+00:00", "Z")
                ev = {"type": "cdr", "call_id": f"c{i}", "tenant": tenant, "start": start, "end": z, "src": src,
                      "dst": rng.choice(dests), "duration": dur + 5, "billsec": dur, "disposition": "answered",
                      "trunk": f"trunk{ext % (a.extensions // 20 or 1)}", "src_ip": f"10.{ext % 250}.{ext // 250 % 250}.10"}
            elif rng.random() < 0.9:
                ev = {"type": "security", "ts": z, "tenant": tenant, "service": "sip", "action": "register",
                      "src_ip": f"10.{ext % 250}.{ext // 250 % 250}.10", "outcome": "success", "account": src,
                      "user_agent": "Yealink SIP-T46U 108.86.0.40", "protocol": "udp",
                      "contact": f"sip:{src}@10.{ext % 250}.{ext // 250 % 250}.10:5060"}
            else:
                ev = {"type": "security", "ts": z, "tenant": tenant, "service": rng.choice(["sip", "web"]),
                      "action": rng.choice(["register", "login"]), "src_ip": rng.choice(pub), "outcome": "failure",
                      "account": src, "protocol": "udp"}
            fh.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
