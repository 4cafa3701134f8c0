"""A registration flood backlog and a fraudulent call through a real worker (issue 28.3, lanes).

A botnet's failed REGISTERs queue on the security topic; a premium-rate call made meanwhile must
be judged at once, not after the flood. The flood's progress is read from the worker's own output:
each source's country alert (the IP scope judges them at its own pace). When the call's alert is
written, most of the flood must still be unjudged: the call overtook it in its own lane. Before the
lanes (one repartition topic per scope) the call waited behind its partition's share of the flood
and came after more than half of the flood's alerts (reproduced on 1fc0160: 20k flood, 2 partitions).
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


def flood_alerts_before_the_call(broker: str, prefix: str, timeout: float) -> tuple[int | None, int]:
    """Read the alerts topic as it is written: (flood country alerts read when the call's alert came, or None
    if it never did; every flood country alert read)."""
    from kafka import KafkaConsumer
    c = KafkaConsumer(f"{prefix}.alerts", bootstrap_servers=[broker], auto_offset_reset="earliest",
                      enable_auto_commit=False, group_id=None)
    seen, at_call = 0, None
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end and (at_call is None or seen < FLOOD):
            for msgs in c.poll(timeout_ms=200).values():
                for m in msgs:
                    a = json.loads(m.value)
                    if a["rule"] == "country_ip":
                        seen += 1
                    elif a["subject"] == "2001" and at_call is None:
                        at_call = seen
    finally:
        c.close()
    return at_call, seen


def test_a_fraudulent_call_is_judged_while_a_flood_is_still_queued(broker, prefix, worker, tmp_path):
    flood = tmp_path / "flood.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_campaign_flood.py"), str(FLOOD), str(flood),
                    "--accounts", "200", "--minutes", "20", "--end", "now"], check=True, cwd=ROOT)
    lines = flood.read_bytes().splitlines()
    w = worker(policy=str(POLICY), partitions=1)  # one partition: the flood and the call share every scope partition
    produce(broker, f"{prefix}.security", lines, [json.loads(x)["src_ip"].encode() for x in lines])
    call = {"type": "cdr", "phase": "start", "call_id": "fraud-1", "start": datetime.now(timezone.utc).isoformat(),
            "tenant": "default", "src": "2001", "dst": "09098790000", "direction": "outbound", "trunk": "sip-local"}
    produce(broker, f"{prefix}.cdr", [json.dumps(call).encode()], [b"default/2001"])
    at_call, seen = flood_alerts_before_the_call(broker, prefix, 240)
    assert at_call is not None, w.log()
    assert seen == FLOOD, f"{seen} of {FLOOD} sources' country alerts\n{w.log()}"
    assert at_call < FLOOD // 5, f"the call was judged after {at_call} of {FLOOD} flood alerts: it waited behind the flood"
    # and the flood itself is judged in full: one campaign, every source's country alert
    done = consume(broker, f"{prefix}.incidents", want=1, timeout=240,
                   predicate=lambda r: r["subject_type"] == "campaign" and r["campaign"]["detections"] >= FLOOD)
    assert done, w.log()
