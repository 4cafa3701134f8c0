"""Load test of ``tollguard verdict`` against the real server: a fixed request rate, open loop.

    python bench/verdict_load.py [--rate 1000] [--seconds 20] [--policy FILE] [--url URL]

Without ``--url`` it starts the server itself (``tollguard verdict --no-live``, or with the live
blocks when ``--live``) in its own process, waits for it, and stops it after. Requests go out on a
fixed schedule (every 1/rate s) whatever the answers do, and each latency runs from the moment
the request was due, so a stalled server shows as latency instead of as fewer requests
(no coordinated omission). The calls are a mix: allowed national calls, premium, abroad, blocked,
emergency. Prints one JSON object: rate asked and achieved, p50/p90/p99/max ms, errors, verdicts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS = [("1001", "02079460000"), ("1002", "07700900123"), ("1003", "09098790000"), ("1004", "0033142868200"),
         ("1005", "999"), ("1006", "0037190012345"), ("1007", "02071838750"), ("1008", "08001111")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_up(url: str, timeout: float = 60.0) -> None:
    import aiohttp
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url + "/health") as r:
                    if r.status in (200, 503):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"verdict_load: the server at {url} did not come up in {timeout:g} s")


async def load(url: str, rate: float, seconds: float) -> dict:
    import aiohttp
    n = int(rate * seconds)
    lat: list[float] = []
    errors = 0
    verdicts: dict[str, int] = {}
    conn = aiohttp.TCPConnector(limit=256, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=conn) as s:
        for i in range(50):  # warm the connection pool and the number cache
            src, dst = CALLS[i % len(CALLS)]
            async with s.get(f"{url}/v1/verdict", params={"tenant": "default", "src": src, "dst": dst}) as r:
                await r.read()

        async def one(i: int, due: float) -> None:
            nonlocal errors
            src, dst = CALLS[i % len(CALLS)]
            try:
                async with s.get(f"{url}/v1/verdict", params={"tenant": "default", "src": src, "dst": dst,
                                                             "ip": f"10.0.{i % 200}.{i % 250 + 1}"}) as r:
                    body = await r.json()
                    lat.append(time.perf_counter() - due)
                    verdicts[body["verdict"]] = verdicts.get(body["verdict"], 0) + 1
            except Exception:
                errors += 1
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    lat.sort()
    ms = [x * 1000 for x in lat]
    q = (lambda p: round(ms[min(len(ms) - 1, int(p * len(ms)))], 3)) if ms else (lambda p: None)
    return {"rate": rate, "seconds": seconds, "requests": n, "answered": len(lat), "errors": errors,
            "achieved_per_s": round(len(lat) / elapsed, 1), "p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99),
            "max_ms": round(ms[-1], 3) if ms else None, "mean_ms": round(statistics.mean(ms), 3) if ms else None,
            "verdicts": verdicts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--policy", default=str(ROOT / "fixtures" / "policy.example.yaml"))
    ap.add_argument("--url")
    ap.add_argument("--live", action="store_true", help="the server reads <prefix>.actions (needs the broker)")
    a = ap.parse_args()
    proc = None
    url = a.url
    if url is None:
        port = free_port()
        cmd = [sys.executable, "-m", "streams.cli", "verdict", "--policy", a.policy, "--port", str(port)]
        if not a.live:
            cmd.append("--no-live")
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_up(url))
        out = asyncio.run(load(url, a.rate, a.seconds))
        out["live"] = a.live
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
