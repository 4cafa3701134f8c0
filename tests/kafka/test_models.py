"""Models as versioned artifacts on the real broker: a published model reaches a running worker without
a restart, its version is named in the anomaly alerts it scores, and list / rollback work. Only a model
signed by a key the worker trusts is switched to (issue 25.7)."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from kafka import KafkaProducer

from models import artifact
from models.train import build_matrix, fingerprint, fit, population
from streams.policy import Policy
from streams.commands.simulate import simulate
from tests.kafka.conftest import ROOT, consume
from tests.kafka.test_equivalence import POLICY, SAMPLE, produce_file
from tests.kafka.test_observe import free_port, get, metric
from tests.models.forge import activate, record, sha, signed_by

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


def make_keys(tmp_path) -> dict:
    """The operator's key pair (PEM files, as `tollguard model keygen` writes them) and an attacker's own key."""
    trusted = Ed25519PrivateKey.generate()
    d = tmp_path / "keys"
    d.mkdir()
    (d / "model-signing.key").write_bytes(trusted.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (d / "model-signing.pub").write_bytes(trusted.public_key().public_bytes(Encoding.PEM,
                                                                           PublicFormat.SubjectPublicKeyInfo))
    return {"trusted": trusted, "attacker": Ed25519PrivateKey.generate(), "key": str(d / "model-signing.key"),
            "pub": str(d / "model-signing.pub")}


def attacker_sends(broker, prefix, *pairs) -> None:
    """Straight onto the models topic with kafka-python, as anyone with write access could."""
    p = KafkaProducer(bootstrap_servers=[broker], max_request_size=32 * 1024 * 1024, compression_type="gzip")
    try:
        for key, value in pairs:
            p.send(f"{prefix}.models", key=key, value=value).get(timeout=60)
    finally:
        p.close()


def wait_for_refusal(w, what: str, reason: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = w.log_path.read_text(errors="replace")
        assert "switching at the next micro-batch" not in text, f"the worker took {what}\n{w.log()}"
        if f"refused default@" in text and f"({reason}:" in text:
            return
        time.sleep(0.3)
    raise AssertionError(f"no refusal ({reason}) of {what} logged within {timeout} s\n{w.log()}")


def test_a_worker_switches_only_to_models_signed_by_its_key(broker, prefix, worker, tmp_path):
    """An attacker who can write to <prefix>.models ships an unsigned model, one signed by their own key, and
    the operator's signed model under a swapped card: the running worker refuses each (logged, counted) and
    keeps scoring with the bundled model. The operator's `model publish --signing-key` is then switched to
    without a restart, and the alerts name it."""
    keys = make_keys(tmp_path)
    eager = eager_model(tmp_path)
    data = open(eager, "rb").read()
    card = json.loads(open(eager.replace(".skops", ".card.json")).read())
    version = sha(data)[:12]
    port = free_port()
    w = worker(policy=str(POLICY), model=True,
               env={"TOLLGUARD_MODEL_PUBLIC_KEY": keys["pub"], "TOLLGUARD_WEB_PORT": str(port)})
    pid = w.proc.pid
    attacks = [("an unsigned model", "unsigned", record(data, card)),
               ("a model signed by another key", "unknown_key",
                record(data, card, signature=signed_by(keys["attacker"], "default", data, card))),
               ("a swapped card under the operator's signature", "bad_signature",
                record(data, dict(card, threshold=0.0), signature=signed_by(keys["trusted"], "default", data, card)))]
    for what, reason, rec in attacks:
        attacker_sends(broker, prefix, rec, activate(version))
        wait_for_refusal(w, what, reason)
    metrics = get(f"http://127.0.0.1:{port}/metrics")[1]
    for _, reason, _ in attacks:
        assert metric(metrics, "tollguard_model_refused_total", reason=reason) == 1.0, metrics
    assert produce_file(prefix, SAMPLE, broker).returncode == 0
    first = anomaly_versions(broker, prefix, 1)
    assert first and set(first) == {DEFAULT_VERSION}, w.log()

    p = cli(broker, prefix, "model", "publish", eager, "--reason", "test", "--signing-key", keys["key"],
            "--public-key", keys["pub"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("@")[1].split()[0] == version != DEFAULT_VERSION
    # new traffic: the worker switches at its next micro-batch, without a restart
    assert produce_file(prefix, later(SAMPLE, tmp_path, 3, "b"), broker).returncode == 0
    seen = anomaly_versions(broker, prefix, len(first) + 3)
    assert version in seen, w.log()
    assert w.proc.poll() is None and w.proc.pid == pid
    assert f"switched from {DEFAULT_VERSION} to {version}" in w.log_path.read_text()
    listed = cli(broker, prefix, "model", "list")
    assert listed.returncode == 0 and f"* default@{version}" in listed.stdout, listed.stdout + listed.stderr


def test_list_and_rollback(broker, prefix, tmp_path):
    keys = make_keys(tmp_path)
    eager = eager_model(tmp_path)
    assert cli(broker, prefix, "model", "rollback").returncode == 1  # nothing published yet
    unsigned = cli(broker, prefix, "model", "publish", eager)
    assert unsigned.returncode == 2 and "--signing-key" in unsigned.stderr  # refused, nothing sent
    assert "nothing published" in cli(broker, prefix, "model", "list").stdout
    first = cli(broker, prefix, "model", "publish", eager, "--signing-key", keys["key"])
    assert first.returncode == 0, first.stderr
    eager_version = first.stdout.split("@")[1].split()[0]
    # deliberately unsigned: list must say so (a worker with a public key would refuse it)
    assert cli(broker, prefix, "model", "publish", str(ROOT / "models" / "default.skops"),
               "--allow-unsigned").returncode == 0
    listed = cli(broker, prefix, "model", "list").stdout
    assert f"* default@{DEFAULT_VERSION}" in listed and f"  default@{eager_version}" in listed
    fp = sha(keys["trusted"].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))[:16]
    assert [ln for ln in listed.splitlines() if eager_version in ln and f"signed {fp}" in ln], listed
    assert [ln for ln in listed.splitlines() if f"@{DEFAULT_VERSION}" in ln and "UNSIGNED" in ln], listed
    back = cli(broker, prefix, "model", "rollback", "--reason", "too eager? no: the other way round")
    assert back.returncode == 0 and f"now {eager_version}" in back.stdout, back.stderr
    assert f"* default@{eager_version}" in cli(broker, prefix, "model", "list").stdout
    # a tampered artifact is refused before it reaches the topic, signing key or not
    bad = tmp_path / "bad.skops"
    bad.write_bytes(open(eager, "rb").read() + b"x")
    (tmp_path / "bad.card.json").write_text(open(eager.replace(".skops", ".card.json")).read())
    refused = cli(broker, prefix, "model", "publish", str(bad), "--signing-key", keys["key"])
    assert refused.returncode == 2 and "modified artifact" in refused.stderr
