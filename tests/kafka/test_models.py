"""Models as versioned artifacts on the real broker: a published model reaches a running worker without
a restart, its version is named in the anomaly alerts it scores, and list / rollback work."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from models import artifact
from models.train import build_matrix, fingerprint, fit, population
from streams.policy import Policy
from streams.simulate import simulate
from tests.kafka.conftest import ROOT, consume
from tests.kafka.test_equivalence import POLICY, SAMPLE, produce_file

DEFAULT_VERSION = json.loads((ROOT / "models" / "default.card.json").read_text())["artifact_sha256"][:12]


def cli(broker, prefix, *args):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def eager_model(tmp_path) -> str:
    """A model that alerts on a third of ordinary calls: its alerts cannot be mistaken for the default's."""
    simulate(2, 3, tmp_path / "sim", extensions=15)
    events = [str(tmp_path / "sim" / "events.jsonl")]
    m = build_matrix(events, Policy.load(tmp_path / "sim" / "policy.yaml"))
    model, thr = fit(m.X, seed=0, target_rate=0.3)
    out = tmp_path / "eager.skops"
    artifact.save(model, out, thr, fingerprint(events), {"calls": len(m.X)}, population(m.X))
    return str(out)


def later(path, tmp_path, days: int, tag: str):
    """The sample day again, ``days`` later, as new calls (new ids): new traffic for the model to score."""
    out = tmp_path / f"later-{tag}.jsonl"
    lines = []
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if not isinstance(r, dict):
            continue
        for k in ("start", "answer", "end", "ts"):
            if isinstance(r.get(k), str):
                try:
                    r[k] = (datetime.fromisoformat(r[k].replace("Z", "+00:00")) + timedelta(days=days)).isoformat()
                except ValueError:
                    pass
        if "call_id" in r:
            r["call_id"] = f"{r['call_id']}-{tag}"
        lines.append(json.dumps(r))
    out.write_text("\n".join(lines) + "\n")
    return out


def anomaly_versions(broker, prefix, want):
    alerts = consume(broker, f"{prefix}.alerts", want=want, timeout=90, idle=5,
                     predicate=lambda a: a.get("rule") == "anomaly")
    return [a["evidence"].get("model") for a in alerts]


def test_a_published_model_reaches_the_running_worker_and_names_itself_in_alerts(broker, prefix, worker, tmp_path):
    eager = eager_model(tmp_path)
    w = worker(policy=str(POLICY), model=True)
    pid = w.proc.pid
    assert produce_file(prefix, SAMPLE, broker).returncode == 0
    first = anomaly_versions(broker, prefix, 1)
    assert first and set(first) == {DEFAULT_VERSION}, w.log()
    p = cli(broker, prefix, "model", "publish", eager, "--reason", "test")
    assert p.returncode == 0, p.stderr
    version = p.stdout.split("@")[1].split()[0]
    assert version != DEFAULT_VERSION
    # new traffic: the worker switches at its next micro-batch, without a restart
    assert produce_file(prefix, later(SAMPLE, tmp_path, 3, "b"), broker).returncode == 0
    seen = anomaly_versions(broker, prefix, len(first) + 3)
    assert version in seen, w.log()
    assert w.proc.poll() is None and w.proc.pid == pid
    assert f"switched from {DEFAULT_VERSION} to {version}" in w.log_path.read_text()
    listed = cli(broker, prefix, "model", "list")
    assert listed.returncode == 0 and f"* default@{version}" in listed.stdout, listed.stdout + listed.stderr


def test_list_and_rollback(broker, prefix, tmp_path):
    eager = eager_model(tmp_path)
    assert cli(broker, prefix, "model", "rollback").returncode == 1  # nothing published yet
    first = cli(broker, prefix, "model", "publish", eager)
    assert first.returncode == 0, first.stderr
    eager_version = first.stdout.split("@")[1].split()[0]
    assert cli(broker, prefix, "model", "publish", str(ROOT / "models" / "default.skops")).returncode == 0
    listed = cli(broker, prefix, "model", "list").stdout
    assert f"* default@{DEFAULT_VERSION}" in listed and f"  default@{eager_version}" in listed
    back = cli(broker, prefix, "model", "rollback", "--reason", "too eager? no: the other way round")
    assert back.returncode == 0 and f"now {eager_version}" in back.stdout, back.stderr
    assert f"* default@{eager_version}" in cli(broker, prefix, "model", "list").stdout
    # a tampered artifact is refused before it reaches the topic
    bad = tmp_path / "bad.skops"
    bad.write_bytes(open(eager, "rb").read() + b"x")
    (tmp_path / "bad.card.json").write_text(open(eager.replace(".skops", ".card.json")).read())
    refused = cli(broker, prefix, "model", "publish", str(bad))
    assert refused.returncode == 2 and "modified artifact" in refused.stderr
