"""Every command against a broker that only speaks SASL_SSL (SCRAM users, TLS client certificates),
started by `scripts/kafka.sh secure-up` with a CA, certificates and passwords made at test time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.policy import Policy
from streams.shells.replay import replay_file
from tests.kafka.conftest import ROOT

SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"


def tollguard(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGUARD_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_every_command_works_over_sasl_ssl(secure_env, prefix, worker, tmp_path):
    env = dict(secure_env, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_PARTITIONS="2")
    # the secured broker does not auto-create topics: `topics --create` makes the declared ones
    made = tollguard(env, "topics", "--create")
    assert made.returncode == 0, made.stderr
    check = tollguard(env, "topics", "--check")
    assert check.returncode == 0 and "missing" not in check.stdout, check.stdout + check.stderr
    w = worker(policy=str(POLICY), env=env)
    sent = tollguard(env, "produce", str(SAMPLE))
    assert sent.returncode == 0, sent.stderr
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY))
    want = {r.alert_id for r in out if r.__class__.__name__ == "Alert"}
    seen = tollguard(env, "alerts", "--from-beginning", "--format", "jsonl", "--idle-timeout", "20", timeout=240)
    got = {json.loads(line)["alert_id"] for line in seen.stdout.splitlines() if line.strip()}
    assert got == want, f"missing {want - got}, extra {got - want}\n{seen.stderr}\n{w.log()}"
    dump = tmp_path / "alerts.jsonl"
    exported = tollguard(env, "export", "--topic", "alerts", "--out", str(dump), "--idle-timeout", "3")
    assert exported.returncode == 0, exported.stderr
    assert {json.loads(x)["alert_id"] for x in dump.read_text().splitlines()} == want
    password = Path(env["TOLLGUARD_SASL_PASSWORD_FILE"]).read_text()
    assert password not in w.log_path.read_text() + sent.stderr + seen.stderr + made.stderr


@pytest.mark.parametrize("command", [["topics", "--check"], ["produce", str(SAMPLE)], ["alerts", "--idle-timeout", "1"],
                                     ["export", "--out", "-"], ["worker", "--no-model"]])
def test_a_wrong_password_is_refused_clearly(secure_env, prefix, command, tmp_path):
    wrong = tmp_path / "pw"
    wrong.write_text("not-alices-password-42")
    env = dict(secure_env, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_SASL_PASSWORD_FILE=str(wrong))
    r = tollguard(env, *command, timeout=60)
    assert r.returncode != 0
    assert "refused the credentials" in r.stderr and "'alice'" in r.stderr, r.stderr
    assert "not-alices-password-42" not in r.stderr + r.stdout
    assert len(r.stderr.splitlines()) <= 3, f"one clear sentence, not a traceback:\n{r.stderr}"


def test_other_misconfigurations_say_what_is_wrong(secure_env, prefix):
    base = dict(secure_env, TOLLGUARD_TOPIC_PREFIX=prefix)
    r = tollguard(dict(base, TOLLGUARD_SSL_CAFILE="/etc/ssl/certs/ca-certificates.crt"), "topics", "--check")
    assert r.returncode == 1 and "does not verify" in r.stderr, r.stderr
    r = tollguard(dict(base, TOLLGUARD_BROKER="kafka://alice:s3cret@127.0.0.1:9192"), "topics", "--check")
    assert r.returncode == 2 and "holds credentials" in r.stderr and "s3cret" not in r.stderr, r.stderr
    r = tollguard(dict(base, TOLLGUARD_SASL_MECHANISM="SCRAM-SHA-512"), "topics", "--check")
    assert r.returncode == 1 and "SCRAM-SHA-512" in r.stderr, r.stderr  # alice exists for SHA-256 only


def test_without_create_rights_missing_topics_are_named(secure_env, prefix):
    env = dict(secure_env, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_CREATE_TOPICS="0")
    r = tollguard(env, "worker", "--no-model", timeout=60)
    assert r.returncode == 1 and f"{prefix}.cdr" in r.stderr and "TOLLGUARD_CREATE_TOPICS=0" in r.stderr, r.stderr
    r = tollguard(env, "produce", str(SAMPLE), timeout=60)
    assert r.returncode == 1 and f"{prefix}.security" in r.stderr, r.stderr
