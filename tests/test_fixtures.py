"""The bundled sample day through `tollguard replay`: each staged attack is caught, benign traffic is not."""

import json
import subprocess
import sys
from pathlib import Path

from streams.policy import Policy
from streams.shells.replay import replay_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"

EXPECTED = {
    ("concurrent_registrations", "1004"), ("country_ip", "102.129.143.9"),         # hijacked registration
    ("time_condition", "1004"), ("international_disallowed", "1004"), ("country_code", "1004"),
    ("blocked_number", "1004"), ("premium_rate", "1004"), ("call_frequency", "1004"),  # night pumping
    ("scanner_user_agent", "185.53.91.77"), ("global_blocklist", "185.53.91.77"),
    ("registration_lockout", "51.140.77.12"), ("login_lockout", "91.92.240.18"),
    ("trunk_concurrency", "sip-intl"), ("call_duration", "2000"), ("pin_failures", "2002"),
    ("premium_rate", "200"), ("blocked_number", "200"),
}
BENIGN_SUBJECTS = {"1001", "1002", "1003", "10.0.0.1"}


def test_sample_day_detections():
    out, stats, rejects = replay_file([str(SAMPLE)], Policy.load(POLICY))
    got = {(r.rule, r.subject) for r in out if r.type == "alert"} if hasattr(out[0], "type") else \
        {(r.rule, r.subject) for r in out if r.__class__.__name__ == "Alert"}
    assert EXPECTED <= got, f"missed: {EXPECTED - got}"
    assert not {s for _, s in got} & BENIGN_SUBJECTS
    assert [r.line for r in rejects] == [102, 203, 284]
    assert stats.events == 313


def test_replay_cli_jsonl_is_parseable_and_matches_library():
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--no-model", "--policy", str(POLICY), "--format",
                           "jsonl", "-q", str(SAMPLE)], capture_output=True, text=True, check=True, cwd=ROOT)
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["type"] for r in recs} == {"alert", "action", "incident"}
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY))
    assert [r["alert_id"] for r in recs if r["type"] == "alert"] == \
        [r.alert_id for r in out if r.__class__.__name__ == "Alert"]
    assert "fixtures/sample-events.jsonl:102: rejected" in proc.stderr


def test_replay_reads_stdin():
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--format", "jsonl", "-q", "-"],
                          input=SAMPLE.read_text(), capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.count('"type":"alert"') > 0
