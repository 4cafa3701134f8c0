"""tollguard backup and restore through the real broker (issue 31.2): a worker's incidents with the SOC's
decisions, its blocks, loaded ranges and a published model are backed up, restored into a fresh prefix, and
every reader answers the same on both; a prefix that holds records is refused; a named file's secret comes
back byte for byte; a failed backup is told on notify's channels."""

import json
import os
import stat
import subprocess
import sys
import uuid

import pytest

from tests.kafka.conftest import BOOTSTRAP, ROOT, Worker, consume
from tests.kafka.test_equivalence import POLICY, SAMPLE, produce_file
from tests.builders import webhook

SECRET = b"password: 'Tr0ub4dor&3 \xc3\xa9\x00\xff'\r\nsmtp_password: \"x\\\"y\"\n"  # not UTF-8 throughout, NUL, CRLF


def cli(prefix: str, *args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    e = {**os.environ, "TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{BOOTSTRAP}",
         "TOLLGUARD_PARTITIONS": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "streams.cli", *map(str, args)], env=e, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def answers(prefix: str) -> dict:
    """What the readers say about a prefix, in a form two prefixes can be compared by."""
    incidents = sorted(jsonl(ok(cli(prefix, "incidents", "--format", "jsonl"))), key=lambda r: r["incident_id"])
    blocks = jsonl(ok(cli(prefix, "blocks", "--format", "jsonl")))
    every_block = jsonl(ok(cli(prefix, "blocks", "--all", "--format", "jsonl")))
    ranges = sorted(jsonl(ok(cli(prefix, "ranges", "list", "--all", "--format", "jsonl"))), key=lambda r: r["prefix"])
    models = ok(cli(prefix, "model", "list"))
    return {"incidents": incidents, "blocks": blocks, "every_block": every_block, "ranges": ranges, "models": models}


@pytest.fixture
def hook():
    with webhook() as (url, got):
        yield int(url.split(":")[2].split("/")[0]), got


def test_a_backup_restored_into_a_fresh_prefix_answers_the_same(broker, prefix, worker, tmp_path):
    w = worker(policy=str(POLICY))
    assert produce_file(prefix, SAMPLE, broker).returncode == 0
    consume(broker, f"{prefix}.incidents", want=None, timeout=90, idle=5)  # until the worker is quiet
    incidents = jsonl(ok(cli(prefix, "incidents", "--format", "jsonl")))
    assert len(incidents) >= 2, w.log()
    first, second = sorted(r["incident_id"] for r in incidents)[:2]
    ok(cli(prefix, "ack", first, "--note", "looking", "--by", "alice"))
    ok(cli(prefix, "resolve", second, "--false-positive", "--note", "pen test", "--by", "bob"))
    csv = tmp_path / "ranges.csv"
    csv.write_text("prefix,label,source,expires\n+88213,IRSF satellite range,feed-x,\n+3719,premium LV,manual,2020-01-01\n")
    ok(cli(prefix, "ranges", "load", csv))
    ok(cli(prefix, "model", "publish", ROOT / "models" / "default.skops", "--allow-unsigned", "--reason", "lab"))
    w.stop()  # a quiet prefix: what is backed up is what is compared
    before = answers(prefix)
    assert before["every_block"] and len(before["ranges"]) == 2 and "active default" in before["models"]
    decided = {r["incident_id"]: r for r in before["incidents"]}
    assert decided[first]["decisions"][-1]["by"] == "alice" and decided[second]["verdict"] == "false_positive"

    secret = tmp_path / "etc" / "notify.yaml"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    secret.chmod(0o640)
    archive = tmp_path / "tollguard.tar.gz"
    out = ok(cli(prefix, "backup", "--out", archive, "--with-state", "--file", secret, "--file", POLICY))
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600, oct(archive.stat().st_mode)
    assert f"{prefix}.incidents: {len(before['incidents'])} records" in out, out
    assert SECRET not in archive.read_bytes()  # gzip: the secret is not even readable in it with grep
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []

    fresh = f"t{uuid.uuid4().hex[:10]}"
    files = tmp_path / "restored"
    out = ok(cli(fresh, "restore", archive, "--prefix", fresh, "--files-to", files))
    assert f"restore: {fresh}.incidents: {len(before['incidents'])} of {len(before['incidents'])} records written, " \
           "to the partitions they were in (2)" in out, out
    assert f"{fresh}-worker-state-ip-changelog" in out
    after = answers(fresh)
    assert after == before
    back = files / str(secret).lstrip("/")
    assert back.read_bytes() == SECRET and stat.S_IMODE(back.stat().st_mode) == 0o640
    assert (files / str(POLICY).lstrip("/")).read_bytes() == POLICY.read_bytes()

    # a worker on the restored prefix picks its incidents up from the restored changelog: a decision lands
    third = sorted(decided)[2]
    w2 = Worker(fresh, tmp_path / "restored-worker.log", str(POLICY), 2).start().ready()
    try:
        acked = cli(fresh, "ack", third, "--note", "after the restore", "--by", "carol")
        assert acked.returncode == 0 and "acknowledged by carol" in acked.stdout, acked.stderr + w2.log()
    finally:
        w2.stop()

    again = cli(fresh, "restore", archive, "--prefix", fresh)  # the prefix holds records now
    assert again.returncode == 2, again.stdout + again.stderr
    last = again.stderr.strip().splitlines()[-1]
    assert f"{fresh}.incidents is not empty" in last and "--force" in last and "Traceback" not in again.stderr
    twice = cli(fresh, "restore", archive, "--prefix", f"t{uuid.uuid4().hex[:10]}", "--files-to", files)
    assert twice.returncode == 2 and "exists" in twice.stderr and "--force" in twice.stderr  # files are not overwritten


def test_a_failed_backup_is_told_on_notify_channels(broker, tmp_path, hook):
    port, got = hook
    notify = tmp_path / "notify.yaml"
    notify.write_text(f"channels:\n  - {{name: ops, type: webhook, url: 'http://127.0.0.1:{port}/hook'}}\n")
    archive = tmp_path / "b.tar"
    down = cli("tbackup", "backup", "--out", archive, "--notify", notify, env={"TOLLGUARD_BROKER": "kafka://127.0.0.1:9"})
    assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr
    assert "cannot reach Kafka at kafka://127.0.0.1:9" in down.stderr.strip().splitlines()[-1]
    assert len(got) == 1 and got[0]["type"] == "backup_failed" and "cannot reach Kafka" in got[0]["reason"]
    assert got[0]["prefix"] == "tbackup" and "backup failed" in got[0]["title"]
    nothing = f"t{uuid.uuid4().hex[:10]}"  # a prefix with no topics: a wrong TOLLGUARD_TOPIC_PREFIX
    empty = cli(nothing, "backup", "--out", archive, "--notify", notify)
    assert empty.returncode == 1 and "no tollguard topics" in empty.stderr.strip().splitlines()[-1], empty.stderr
    assert len(got) == 2 and "no tollguard topics" in got[1]["reason"] and got[1]["prefix"] == nothing
    assert not archive.exists()  # a failed backup writes nothing


def small_backup(path, roles: tuple[str, ...]) -> list:
    """A backup written by hand: binary keys and values, a header, on 2 partitions per topic."""
    from streams.services.backup.archive import FORMAT, FORMAT_VERSION, Part, Record, write
    records = [Record(0, b"\x00\xff k1", b"\x00v1\xfe", 1767225600000, 0, [("h", b"\xff")]),
               Record(1, b"k2", b'{"incident_id":"i-2"}', 1767225601000, 0)]
    parts, topics = [], []
    for role in roles:
        part = Part(f"topics/{role}.jsonl")
        for r in records:
            part.add_record(r)
        parts.append(part)
        topics.append({"role": role, "topic": f"src.{role}", "present": True, "partitions": 2,
                       "records": part.count, "part": part.name, "sha256": part.sha256})
    write(path, {"format": FORMAT, "format_version": FORMAT_VERSION, "prefix": "src", "topics": topics, "files": []},
          parts, False, 1767225600)
    return records


def test_other_partition_counts_go_by_key_but_never_for_a_state_changelog(broker, tmp_path):
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient
    from kafka.partitioner.default import murmur2
    dst = f"t{uuid.uuid4().hex[:10]}"
    small_backup(tmp_path / "state.tar", ("incidents", "state-ip-changelog"))
    no = cli(dst, "restore", tmp_path / "state.tar", "--prefix", dst, env={"TOLLGUARD_PARTITIONS": "3"})
    last = no.stderr.strip().splitlines()[-1]
    assert no.returncode == 2 and f"{dst}-worker-state-ip-changelog would have 3 partitions" in last, no.stderr
    assert "TOLLGUARD_PARTITIONS=2" in last
    admin = KafkaAdminClient(bootstrap_servers=[broker])
    assert not [t for t in admin.list_topics() if t.startswith(dst)]  # refused before anything was created
    admin.close()

    records = small_backup(tmp_path / "b.tar", ("incidents",))
    out = ok(cli(dst, "restore", tmp_path / "b.tar", "--prefix", dst, env={"TOLLGUARD_PARTITIONS": "3"}))
    assert "2 of 2 records written, by key over 3 partition(s) (the backup's topic had 2)" in out, out
    c = KafkaConsumer(f"{dst}.incidents", bootstrap_servers=[broker], auto_offset_reset="earliest", group_id=None,
                      consumer_timeout_ms=3000)
    got = {m.key: m for m in c}
    c.close()
    for r in records:
        m = got[r.key]
        assert (m.value, m.timestamp, list(m.headers)) == (r.value, r.timestamp, r.headers)
        assert m.partition == (murmur2(r.key) & 0x7FFFFFFF) % 3  # the Java client's key hashing
