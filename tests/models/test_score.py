"""Live scoring through replay: the shipped model, batch independence, refusal of bad artifacts."""

import shutil
import subprocess
import sys
from pathlib import Path

from models.score import Scorer
from streams.core.detector import Detector
from streams.domain.events import decode_event
from streams.policy import Policy
from streams.shells.replay import read_events
from streams.commands.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "models" / "default.skops"


def replay_with(path, batch_every):
    pol = Policy.load(path / "policy.yaml")
    det = Detector(pol, scorer=Scorer.load(DEFAULT))
    out = []
    for i, (_, _, raw, _) in enumerate(read_events([str(path / "events.jsonl")])):
        out += det.feed(decode_event(raw))
        if i % batch_every == 0:
            out += det.flush()
    out += det.finish()
    out += det.flush()
    return [r for r in out if getattr(r, "rule", None) == "anomaly"]


def test_shipped_model_catches_slow_pumping_and_explains_why(tmp_path):
    simulate(3, 99, tmp_path, extensions=30, scenarios=["slow_pumping"])
    import json
    label = json.loads((tmp_path / "labels.json").read_text())["scenarios"][0]
    victim = label["subjects"][0].split("/")[-1]
    alerts = replay_with(tmp_path, 1000)
    mine = [a for a in alerts if a.subject == victim]
    assert mine, "slow pumping should look anomalous"
    a = mine[0]
    assert a.mode == "report" and a.evidence["score"] > a.evidence["threshold"]
    top = a.evidence["top_features"]
    assert 1 <= len(top) <= 3 and {"feature", "value", "extension_usual", "population_usual"} <= set(top[0])
    assert all(w["value"] > max(w["population_usual"], w["extension_usual"] or 0.0) for w in top)  # riskier only
    assert len([x for x in alerts if x.subject != victim]) <= 2  # few alerts on the 29 benign extensions over 3 days


def test_alerts_do_not_depend_on_batch_boundaries(tmp_path):
    simulate(2, 5, tmp_path, extensions=20, scenarios=["slow_pumping", "night_pumping"])
    a = [x.alert_id for x in replay_with(tmp_path, 1)]
    b = [x.alert_id for x in replay_with(tmp_path, 5000)]
    assert a == b and a


def test_cli_refuses_a_tampered_model(tmp_path):
    bad = tmp_path / "m.skops"
    shutil.copy(DEFAULT, bad)
    shutil.copy(DEFAULT.with_name("default.card.json"), tmp_path / "m.card.json")
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0x01
    bad.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--model", str(bad), "-q",
                           str(ROOT / "fixtures" / "sample-events.jsonl")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "model error" in proc.stderr and "refusing a modified artifact" in proc.stderr


def test_no_model_means_rules_only():
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--no-model", "--format", "jsonl", "-q",
                           str(ROOT / "fixtures" / "sample-events.jsonl")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and '"rule":"anomaly"' not in proc.stdout


def test_a_retrained_artifact_is_picked_up_by_replay(tmp_path):
    simulate(3, 8, tmp_path / "d", extensions=20)
    out = tmp_path / "m" / "retrained.skops"
    t = subprocess.run([sys.executable, "-m", "streams.cli", "train", "--data", str(tmp_path / "d" / "events.jsonl"),
                        "--policy", str(tmp_path / "d" / "policy.yaml"), "--labels", str(tmp_path / "d" / "labels.json"),
                        "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert t.returncode == 0, t.stderr
    r = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--model", str(out), "--policy",
                        str(tmp_path / "d" / "policy.yaml"), "--format", "jsonl", "-q", str(tmp_path / "d" / "events.jsonl")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and '"rule":"anomaly"' in r.stdout
