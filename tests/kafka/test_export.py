"""tollguard export on the real broker: a topic or a time range of it (seeked, not scanned), JSONL or
Parquet, batch records split, alerts joined to their CDRs and incidents to their alerts and verdicts."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pandas as pd

from tests.kafka.conftest import ROOT, produce


def cdr(i: int, tenant="default") -> bytes:
    return json.dumps({"type": "cdr", "tenant": tenant, "call_id": f"c{i}", "start": "2026-12-04T10:00:00Z",
                       "src": "1001", "dst": "02079460000"}).encode()


def export(broker, prefix, *args):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}")
    return subprocess.run([sys.executable, "-m", "streams.cli", "export", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def test_export_topic_to_jsonl(broker, prefix, tmp_path):
    recs = [cdr(i) for i in range(25)]
    produce(broker, f"{prefix}.cdr", recs)
    out = tmp_path / "cdr.jsonl"
    p = export(broker, prefix, "--topic", "cdr", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert [json.loads(x) for x in out.read_bytes().splitlines()] == [json.loads(r) for r in recs]
    assert "25 records" in p.stderr


def test_a_time_range_is_seeked_and_batches_are_split_and_parquet_reads_back(broker, prefix, tmp_path):
    produce(broker, f"{prefix}.cdr", [cdr(i) for i in range(10)])
    time.sleep(1.5)
    cut = time.time()
    time.sleep(1.5)
    produce(broker, f"{prefix}.cdr", [cdr(i) for i in range(10, 14)] + [b"[" + cdr(14) + b"," + cdr(15) + b"]"])
    later = tmp_path / "later.jsonl"
    assert export(broker, prefix, "--topic", "cdr", "--since", iso(cut), "--out", str(later)).returncode == 0
    assert [json.loads(x)["call_id"] for x in later.read_bytes().splitlines()] == [f"c{i}" for i in range(10, 16)]
    earlier = tmp_path / "earlier.parquet"
    p = export(broker, prefix, "--topic", "cdr", "--until", iso(cut), "--format", "parquet", "--out", str(earlier))
    assert p.returncode == 0, p.stderr
    frame = pd.read_parquet(earlier)
    assert list(frame.call_id) == [f"c{i}" for i in range(10)] and set(frame.columns) >= {"start", "src", "dst"}
    assert export(broker, prefix, "--topic", "cdr", "--since", iso(cut), "--until", iso(cut - 5),
                  "--out", str(tmp_path / "x")).returncode == 2


def test_join_gives_alerts_their_calls_and_incidents_their_alerts_and_verdicts(broker, prefix, tmp_path):
    produce(broker, f"{prefix}.cdr", [cdr(i) for i in range(5)] + [cdr(3, tenant="other")])
    alert = {"type": "alert", "alert_id": "a1", "tenant": "default", "rule": "premium_rate", "ts": "2026-12-04T10:00:00Z",
             "subject_type": "extension", "subject": "1001", "summary": "s", "evidence": {"call_id": "c3"}}
    produce(broker, f"{prefix}.alerts", [json.dumps(alert).encode(), b"not json"])
    inc = {"type": "incident", "incident_id": "i-1", "tenant": "default", "alert_ids": ["a1"], "version": 1,
           "status": "open", "decisions": []}
    decided = {**inc, "version": 2, "status": "resolved", "verdict": "false_positive",
               "decisions": [{"status": "resolved", "by": "ana", "at": "2026-12-04T11:00:00Z", "verdict": "false_positive"}]}
    produce(broker, f"{prefix}.incidents", [json.dumps(inc).encode(), json.dumps(decided).encode()])
    out = tmp_path / "alerts.jsonl"
    p = export(broker, prefix, "--topic", "alerts", "--join", "--out", str(out))
    assert p.returncode == 0 and "1 not JSON objects" in p.stderr, p.stderr
    lines = out.read_bytes().splitlines()
    joined = json.loads(lines[0])
    assert [e["call_id"] for e in joined["events"]] == ["c3"] and joined["events"][0]["tenant"] == "default"
    assert lines[1] == b"not json"  # kept as it was, and counted
    out = tmp_path / "incidents.jsonl"
    assert export(broker, prefix, "--topic", "incidents", "--join", "--out", str(out)).returncode == 0
    [i] = [json.loads(x) for x in out.read_bytes().splitlines()]
    assert i["version"] == 2 and i["verdict"] == "false_positive" and [a["alert_id"] for a in i["alerts"]] == ["a1"]
    p = export(broker, prefix, "--topic", "alerts", "--format", "parquet", "--out", str(tmp_path / "a.parquet"))
    assert p.returncode == 1 and "not JSON objects" in p.stderr


def test_an_export_by_time_range_trains_a_model(broker, prefix, tmp_path):
    from streams.commands.simulate import simulate
    simulate(2, 8, tmp_path / "sim", extensions=15)
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    before = time.time() - 1
    p = subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(tmp_path / "sim" / "events.jsonl")],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    data = tmp_path / "cdr.parquet"
    p = export(broker, prefix, "--topic", "cdr", "--since", iso(before), "--format", "parquet", "--out", str(data))
    assert p.returncode == 0, p.stderr
    out = tmp_path / "m.skops"
    t = subprocess.run([sys.executable, "-m", "streams.cli", "train", "--data", str(data), "--policy",
                        str(tmp_path / "sim" / "policy.yaml"), "--labels", str(tmp_path / "sim" / "labels.json"),
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert t.returncode == 0, t.stderr
    card = json.loads(out.with_name("m.card.json").read_text())
    # the export lost no call: training on it sees every call training on the produced file sees
    from models.train import build_matrix
    from streams.policy import Policy
    direct = build_matrix([str(tmp_path / "sim" / "events.jsonl")], Policy.load(str(tmp_path / "sim" / "policy.yaml")))
    assert card["metrics"]["calls"] == len(direct.X) > 300 and "recall" in card["metrics"]


def test_labels_reads_the_socs_verdicts_from_the_incidents_topic(broker, prefix, tmp_path):
    alert = {"type": "alert", "alert_id": "a9", "tenant": "acme", "rule": "anomaly", "evidence": {"call_id": "c9"}}
    produce(broker, f"{prefix}.alerts", [json.dumps(alert).encode()])
    inc = {"type": "incident", "incident_id": "i-9", "tenant": "acme", "subject_type": "extension", "subject": "1004",
           "alert_ids": ["a9"], "version": 3, "status": "resolved", "verdict": "false_positive",
           "opened": "2026-12-04T10:00:00Z", "last_seen": "2026-12-04T10:05:00Z",
           "decisions": [{"status": "resolved", "by": "ana", "at": "2026-12-04T11:00:00Z", "verdict": "false_positive",
                          "note": "travelling"}]}
    produce(broker, f"{prefix}.incidents", [json.dumps(inc).encode(), json.dumps({**inc, "incident_id": "i-10",
                                                                                 "verdict": None}).encode()])
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}")
    out = tmp_path / "soc.json"
    p = subprocess.run([sys.executable, "-m", "streams.cli", "labels", "--out", str(out)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    [lab] = json.loads(out.read_text())["labels"]
    assert (lab["verdict"], lab["call_ids"], lab["by"], lab["note"]) == ("false_positive", ["c9"], "ana", "travelling")
