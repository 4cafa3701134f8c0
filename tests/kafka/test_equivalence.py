"""The same detections on both shells: replay vs producer -> broker -> worker -> alert topic."""

import subprocess
import sys

from streams.policy import Policy
from streams.replay import replay_file
from tests.kafka.conftest import ROOT, consume

SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"


def produce_file(prefix: str, path, broker: str) -> subprocess.CompletedProcess:
    env = {"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_worker_alerts_equal_replay_alerts(broker, prefix, worker):
    """Rules and the shipped anomaly model, in both shells."""
    from models.score import Scorer
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY), scorer=Scorer.load(ROOT / "models" / "default.skops"))
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    w = worker(policy=str(POLICY), model=True)
    p = produce_file(prefix, SAMPLE, broker)
    assert p.returncode == 0, p.stderr
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)
    got_ids = {a["alert_id"]: a["rule"] for a in got}
    assert got_ids == want, f"missing {set(want) - set(got_ids)}, extra {set(got_ids) - set(want)}\n{w.log()}"
    assert "3 rejected" in p.stderr and "sample-events.jsonl:102: rejected" in p.stderr
    assert consume(broker, f"{prefix}.dlq", want=0, timeout=5, idle=1) == []  # produce never sends bad lines
