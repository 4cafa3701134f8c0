"""A registration flood backlog and a fraudulent call through a real worker (issue 28.3, lanes).

A botnet's failed REGISTERs queue on the security topic; a premium-rate call made meanwhile must
be judged before the flood is, and the flood itself judged in full, as one campaign. The flood's
progress is read from the worker's own output (each source's country alert). How much of the flood
the call overtakes depends on when the worker fetched which record; with the flood in batch records
(a backlog at once), 1fc0160 judged the call after 12,001-13,501 of the 20,000 country alerts and the
lanes after 3,546-6,229 (single partition, runs of 2026-12-06, two of them under another test run's
load). The bench measures the latency itself (bench/HISTORY.md).
"""

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.kafka.conftest import consume, produce

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "fixtures" / "policy.example.yaml"
FLOOD = 20000


def alerts_before_the_call(broker: str, prefix: str, timeout: float) -> tuple[dict | None, dict]:
    """Read the alerts topic as it is written: (the flood's alerts by rule read when the call's alert came, or
    None if it never did; every flood alert by rule)."""
    from collections import Counter

    from kafka import KafkaConsumer
    c = KafkaConsumer(f"{prefix}.alerts", bootstrap_servers=[broker], auto_offset_reset="earliest",
                      enable_auto_commit=False, group_id=None)
    seen: Counter = Counter()
    at_call = None
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end and (at_call is None or seen["country_ip"] < FLOOD):
            for msgs in c.poll(timeout_ms=200).values():
                for m in msgs:
                    a = json.loads(m.value)
                    if a["subject"] == "2001":
                        at_call = at_call or dict(seen)
                    else:
                        seen[a["rule"]] += 1
        time.sleep(3)  # the last account alerts
        for msgs in c.poll(timeout_ms=1000).values():
            for m in msgs:
                seen[json.loads(m.value)["rule"]] += 1
    finally:
        c.close()
    return at_call, dict(seen)


def test_a_fraudulent_call_is_judged_while_a_flood_is_still_queued(broker, prefix, worker, tmp_path):
    flood = tmp_path / "flood.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_campaign_flood.py"), str(FLOOD), str(flood),
                    "--accounts", "200", "--minutes", "20", "--end", "now"], check=True, cwd=ROOT)
    lines = flood.read_bytes().splitlines()
    w = worker(policy=str(POLICY), partitions=1)  # one partition: the flood and the call share every scope partition
    # the flood as batch records (500 events each), so it is a backlog at once, however fast this producer is
    batches = [b"[" + b",".join(lines[i:i + 500]) + b"]" for i in range(0, len(lines), 500)]
    produce(broker, f"{prefix}.security", batches)
    call = {"type": "cdr", "phase": "start", "call_id": "fraud-1", "start": datetime.now(timezone.utc).isoformat(),
            "tenant": "default", "src": "2001", "dst": "09098790000", "direction": "outbound", "trunk": "sip-local"}
    produce(broker, f"{prefix}.cdr", [json.dumps(call).encode()], [b"default/2001"])
    at_call, seen = alerts_before_the_call(broker, prefix, 240)
    assert at_call is not None, w.log()
    assert seen.get("country_ip") == FLOOD, f"{seen} flood alerts\n{w.log()}"
    # judged before the flood was: how far before depends on when the worker fetched which record (the
    # alerts of every scope share one producer), so the lanes' gain is measured in the bench (bench/HISTORY.md:
    # 45.9-68.3 s before the lanes, 0.7-2.0 s with them, on a 30k backlog)
    assert at_call.get("country_ip", 0) < FLOOD, f"the call waited for the whole flood: {at_call} of {seen}"
    # and the flood itself is judged in full: one campaign, every source's country alert
    done = consume(broker, f"{prefix}.incidents", want=1, timeout=240,
                   predicate=lambda r: r["subject_type"] == "campaign" and r["campaign"]["detections"] >= FLOOD)
    assert done, w.log()
