"""`tollguard doctor` against the real broker: fine on a working setup, and each fault named with its fix
when one thing at a time is broken (issue 30.4)."""

import os
import subprocess
import sys

import pytest

from streams.services.doctor import BAD, OK, judge_skew
from tests.kafka.conftest import ROOT
from tests.builders import webhook

pytestmark = pytest.mark.kafka
POLICY = ROOT / "fixtures" / "policy.example.yaml"


def doctor(prefix, broker, *args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGUARD_")}
    full.update({"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2"})
    full.update(env or {})
    p = subprocess.run([sys.executable, "-m", "streams.cli", "doctor", "--timeout", "5", *map(str, args)], env=full,
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def marks(out: str) -> dict:
    return {line[2:].split(":", 1)[0]: line[0] for line in out.splitlines() if line[:1] in (OK, BAD, "·")}


@pytest.fixture
def setup(broker, prefix, tmp_path):
    """A working deployment: the topics created, a policy, a notify channel that answers, an enforcer that runs."""
    subprocess.run([sys.executable, "-m", "streams.cli", "topics", "--create"], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "TOLLGUARD_TOPIC_PREFIX": prefix,
                                             "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2"})
    with webhook() as (url, got):
        notify = tmp_path / "notify.yaml"
        notify.write_text(f"channels:\n  - {{name: soc, type: webhook, url: '{url}'}}\n")
        enforce = tmp_path / "enforce.yaml"
        enforce.write_text("backends:\n  - {name: pbx, type: command, kinds: [lock_account], argv: [/bin/true, '{target}']}\n")
        yield {"notify": notify, "enforce": enforce, "got": got, "tmp": tmp_path}


def test_a_working_setup_is_all_fine(broker, prefix, setup):
    p = doctor(prefix, broker, "--policy", POLICY, "--notify", setup["notify"], "--send-test", "--enforce", setup["enforce"])
    assert p.returncode == 0, p.stdout + p.stderr
    m = marks(p.stdout)
    assert m["broker"] == m["topics"] == m["clock skew"] == m["policy"] == m["model"] == m["notify soc"] == OK, p.stdout
    assert m["enforce pbx"] == OK and BAD not in m.values()
    assert [g["type"] for g in setup["got"]] == ["doctor_test"]  # the test message reached the channel


@pytest.mark.parametrize("fault", ["broker", "topics", "compaction", "lag", "policy", "model", "notify", "enforce"])
def test_each_fault_alone_is_named_with_its_fix(broker, prefix, setup, fault):
    tmp = setup["tmp"]
    args = ["--policy", POLICY, "--notify", setup["notify"], "--enforce", setup["enforce"]]
    env, want, run_prefix = {}, fault, prefix
    if fault == "broker":
        env = {"TOLLGUARD_BROKER": "kafka://127.0.0.1:9"}
    elif fault == "topics":
        run_prefix = prefix + "x"  # a prefix whose topics nobody created
    elif fault == "compaction":
        from kafka.admin import KafkaAdminClient, NewTopic
        run_prefix = prefix + "c"
        a = KafkaAdminClient(bootstrap_servers=[broker])
        a.create_topics([NewTopic(f"{run_prefix}.incidents", 2, 1)])  # not compacted: state would be deleted
        a.close()
        subprocess.run([sys.executable, "-m", "streams.cli", "topics", "--create"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "TOLLGUARD_TOPIC_PREFIX": run_prefix, "TOLLGUARD_BROKER": f"kafka://{broker}",
                            "TOLLGUARD_PARTITIONS": "2"})
        want = "topic settings"
    elif fault == "lag":
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        from kafka.structs import OffsetAndMetadata
        p = KafkaProducer(bootstrap_servers=[broker])
        for i in range(40):
            p.send(f"{prefix}.cdr", b"{}", partition=i % 2)
        p.flush()
        p.close()
        c = KafkaConsumer(bootstrap_servers=[broker], group_id=f"{prefix}-worker", enable_auto_commit=False)
        c.commit({TopicPartition(f"{prefix}.cdr", n): OffsetAndMetadata(0, "", -1) for n in (0, 1)})
        c.close()
        args += ["--max-lag", "10"]
        want = f"lag of {prefix}-worker"
    elif fault == "policy":
        bad = tmp / "policy.yaml"
        bad.write_text("home_country: GB\nallowed_countries: [UK]\n")
        args[1] = bad
    elif fault == "model":
        broken = tmp / "broken.skops"
        broken.write_bytes(b"not a model")  # there, but not a model (a missing file is a wrong argument: exit 2)
        args += ["--model", broken]
    elif fault == "notify":
        setup["notify"].write_text("channels:\n  - {name: soc, type: webhook, url: 'http://127.0.0.1:9/hook', timeout_s: 2}\n")
        args += ["--send-test"]
        want = "notify soc"
    elif fault == "enforce":
        setup["enforce"].write_text("backends:\n  - {name: pbx, type: command, kinds: [lock_account], "
                                    "argv: [/nonexistent/pbx-lock, '{target}']}\n")
        want = "enforce pbx"
    p = doctor(run_prefix, broker, *args, env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    m = marks(p.stdout)
    assert m.get(want) == BAD, p.stdout
    broken = [k for k, v in m.items() if v == BAD]
    assert broken == [want], f"only {want} is broken, yet: {broken}\n{p.stdout}"
    assert "fix:" in p.stdout.split(f"{BAD} {want}:", 1)[1].split("\n", 2)[1]


def test_the_clock_check_allows_the_round_trip_and_names_a_skew():
    assert judge_skew(1000.4, 1000.0, 1000.2, 5.0).mark == OK
    far = judge_skew(1060.0, 1000.0, 1000.2, 5.0)
    assert far.mark == BAD and "+59.90 s" in far.detail and "NTP" in far.fix
