"""An Asterisk full log under a brute-force and scanning attack, for the side-by-side with fail2ban.

    python bench/gen_asterisk_log.py LINES PATH [--sources 2000] [--seed 29]

Lines in the shapes Asterisk writes (chan_sip and res_pjsip registration failures, PJSIP and chan_sip
"extension not found" scans, IAX2 authentication failures, res_security_log events) from ``--sources``
public addresses, among ordinary VERBOSE dialplan lines (a third of the log), over one day in order.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta

START = datetime(2026, 11, 2, 0, 0, 0)


def failure(rnd: random.Random, ip: str, account: str) -> str:
    port = rnd.randint(1024, 65535)
    pick = rnd.random()
    if pick < 0.35:
        return (f"NOTICE[{rnd.randint(1000, 9999)}] chan_sip.c: Registration from '\"{account}\" "
                f"<sip:{account}@198.51.100.10>' failed for '{ip}:{port}' - Wrong password")
    if pick < 0.6:
        return (f"NOTICE[{rnd.randint(1000, 9999)}] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from "
                f"'<sip:{account}@198.51.100.10>' failed for '{ip}:{port}' (callid: {rnd.getrandbits(64):x}) - "
                "No matching endpoint found")
    if pick < 0.75:
        return (f"NOTICE[{rnd.randint(1000, 9999)}] res_pjsip/pjsip_distributor.c: Request 'INVITE' from "
                f"'<sip:{account}@198.51.100.10>' failed for '{ip}:{port}' (callid: {rnd.getrandbits(64):x}) - "
                "Failed to authenticate")
    if pick < 0.9:
        dialled = f"9011{rnd.randint(10**9, 10**10 - 1)}"
        return (f"NOTICE[{rnd.randint(1000, 9999)}][C-{rnd.getrandbits(28):08x}] chan_sip.c: Call from '' "
                f"({ip}:{port}) to extension '{dialled}' rejected because extension not found in context 'default'.")
    return f"NOTICE[{rnd.randint(1000, 9999)}] chan_iax2.c: Host {ip} failed to authenticate as '{account}'"


def ordinary(rnd: random.Random) -> str:
    ext = rnd.randint(100, 199)
    return (f"VERBOSE[{rnd.randint(1000, 9999)}][C-{rnd.getrandbits(28):08x}] pbx.c:     -- Executing "
            f"[{ext}@from-internal:1] Dial(\"PJSIP/{ext + 1}-{rnd.getrandbits(28):08x}\", \"PJSIP/{ext},30\") in new stack")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lines", type=int)
    ap.add_argument("path")
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=29)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    sources = [f"{rnd.choice([45, 77, 91, 103, 185, 193])}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
               for _ in range(a.sources)]
    accounts = [str(n) for n in range(1000, 1400)] + ["admin", "100", "test", "asterisk"]
    step = 86400 / a.lines
    with open(a.path, "w") as out:
        for i in range(a.lines):
            at = START + timedelta(seconds=i * step)
            body = ordinary(rnd) if rnd.random() < 1 / 3 else failure(rnd, rnd.choice(sources), rnd.choice(accounts))
            out.write(f"[{at:%Y-%m-%d %H:%M:%S}] {body}\n")


if __name__ == "__main__":
    main()
