"""tollguard export: a topic back to JSONL, for retraining."""

import json
import os
import subprocess
import sys

from tests.kafka.conftest import ROOT, produce


def test_export_topic_to_jsonl(broker, prefix, tmp_path):
    recs = [json.dumps({"type": "cdr", "call_id": str(i), "start": "2026-12-04T10:00:00Z", "src": "1001",
                        "dst": "02079460000"}).encode() for i in range(25)]
    produce(broker, f"{prefix}.cdr", recs)
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}")
    out = tmp_path / "cdr.jsonl"
    p = subprocess.run([sys.executable, "-m", "streams.cli", "export", "--topic", "cdr", "--out", str(out),
                        "--idle-timeout", "2"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = out.read_bytes().splitlines()
    assert lines == recs
