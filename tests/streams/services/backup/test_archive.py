"""The backup file without a broker (issue 31.2): records and named files kept byte for byte, the archive
mode 0600 and replaced whole, and every refusal of `tollguard restore` made before Kafka is asked (the
broker in these runs is unreachable: a restore that got that far would say so, exit 1)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest

from streams.services.backup.archive import (FORMAT, FORMAT_VERSION, Archive, BackupError, Part, Record, decode,
                                             encode, write)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SECRET = b"smtp_password: \"p\\\"a\xffss\x00\"\r\n"


def restore(*args, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TOLLGUARD_BROKER="kafka://127.0.0.1:9", TOLLGUARD_TOPIC_PREFIX="offline")
    return subprocess.run([sys.executable, "-m", "streams.cli", "restore", *map(str, args)], env=env, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=60)


def refused(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2 and "Traceback" not in p.stderr, (p.returncode, p.stderr)
    return p.stderr.strip().splitlines()[-1]


def build(path, gzip: bool = False, version: int = FORMAT_VERSION, file_path: str = "/etc/tollguard/notify.yaml",
          extra: tuple = ()) -> dict:
    incidents = Part("topics/incidents.jsonl")
    for r in [Record(0, b"i-1", b'{"incident_id":"i-1"}', 1767225600000, 3),
              Record(1, b"\x00\xff key", b"\x00\x01\xfe value", None, 7, [("h", b"\xff")])]:
        incidents.add_record(r)
    named = Part("files/01-notify.yaml")
    named.add(SECRET)
    manifest = {"format": FORMAT, "format_version": version, "tollguard_version": "0.1.0",
                "created_at": "2026-01-01T00:00:00+00:00", "prefix": "src", "app_id": "src-worker",
                "with_state": False,
                "topics": [{"role": "incidents", "topic": "src.incidents", "kind": "latest", "present": True,
                            "partitions": 2, "records": incidents.count, "part": incidents.name,
                            "sha256": incidents.sha256},
                           {"role": "ranges", "topic": "src.ranges", "present": False, "partitions": 0, "records": 0}],
                "files": [{"path": file_path, "part": named.name, "bytes": named.size, "sha256": named.sha256,
                           "mode": "0640"}]}
    write(path, manifest, [incidents, named, *extra], gzip, 1767225600)
    return manifest


def flip(path, member: str) -> None:
    """One byte of ``member``'s data changed in place (an uncompressed tar)."""
    with tarfile.open(path) as tar:
        at = tar.getmember(member).offset_data
    with open(path, "r+b") as f:
        f.seek(at + 5)
        b = f.read(1)
        f.seek(at + 5)
        f.write(bytes([b[0] ^ 0x01]))


def test_records_keep_their_bytes_and_a_tombstone_has_no_line():
    for r in [Record(0, b"\x00\xff", b"", 0, 0), Record(3, None, b"\x80" * 70, None, None, [("a", b""), ("b", b"\x00")])]:
        assert decode(encode(r)) == r
    with pytest.raises(ValueError):
        decode(b'{"partition": 0, "key": null, "value": "not base64!"}')


def test_the_archive_is_mode_0600_replaced_whole_and_reads_back(tmp_path):
    out = tmp_path / "b.tar"
    out.write_bytes(b"the previous backup")
    out.chmod(0o644)
    old = os.umask(0o022)
    try:
        build(out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar"]  # no temporary file left beside it
    a = Archive(out)
    a.verify()
    assert [r.key for r in a.records(a.topics[0])] == [b"i-1", b"\x00\xff key"]
    assert a.file_bytes(a.files[0]) == SECRET
    with tarfile.open(out) as tar:
        assert tar.getnames()[0] == "manifest.json" and {m.mode for m in tar} == {0o600}


def test_check_says_what_a_backup_holds_without_kafka(tmp_path):
    build(tmp_path / "b.tar.gz", gzip=True)
    p = restore("--check", tmp_path / "b.tar.gz")
    assert p.returncode == 0, p.stderr
    assert "every part's sha256 matches" in p.stdout and "src.incidents: 2 records, 2 partition(s)" in p.stdout
    assert "src.ranges: absent at backup" in p.stdout and "file /etc/tollguard/notify.yaml: " in p.stdout


@pytest.mark.parametrize("member", ["topics/incidents.jsonl", "files/01-notify.yaml"])
def test_a_damaged_part_is_refused_by_name(tmp_path, member):
    build(tmp_path / "b.tar")
    flip(tmp_path / "b.tar", member)
    last = refused(restore(tmp_path / "b.tar", "--prefix", "dst", "--files-to", tmp_path / "out"))
    assert f"part {member} is damaged" in last and "nothing was restored" in last
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", [2, 3, 10])
def test_a_damaged_compressed_archive_is_refused_in_one_line(tmp_path, where):
    """A changed byte inside the deflate stream may inflate to plausible garbage (a manifest that is not
    JSON was the first symptom): the whole stream's CRC is checked before any member is read."""
    build(tmp_path / "b.tgz", gzip=True)
    data = bytearray((tmp_path / "b.tgz").read_bytes())
    data[len(data) // where] ^= 0xFF
    (tmp_path / "b.tgz").write_bytes(bytes(data))
    last = refused(restore(tmp_path / "b.tgz"))
    assert "damaged archive: its gzip stream does not check out" in last, last


def test_a_newer_format_is_refused_with_its_reason(tmp_path):
    build(tmp_path / "b.tar", version=FORMAT_VERSION + 1)
    last = refused(restore(tmp_path / "b.tar"))
    assert f"backup format version {FORMAT_VERSION + 1} is newer than this tollguard" in last
    assert f"reads up to version {FORMAT_VERSION}" in last


def test_what_is_not_a_backup_is_refused(tmp_path):
    (tmp_path / "x.tar").write_bytes(b"not a tar at all" * 100)
    assert "not a readable tollguard backup" in refused(restore(tmp_path / "x.tar"))
    with tarfile.open(tmp_path / "y.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("hello.txt"), io.BytesIO(b""))
    assert "no manifest.json" in refused(restore(tmp_path / "y.tar"))
    stray = Part("topics/extra.jsonl")
    stray.add(b"{}\n")
    build(tmp_path / "z.tar", extra=(stray,))
    assert "part topics/extra.jsonl is not listed in the manifest" in refused(restore(tmp_path / "z.tar"))
    build(tmp_path / "w.tar", file_path="/etc/../root/.ssh/authorized_keys")
    assert "path is not absolute and plain" in refused(restore(tmp_path / "w.tar"))
    assert "missing.file" in refused(restore(tmp_path / "missing.file"))


def test_named_files_go_under_files_to_and_are_never_overwritten_unasked(tmp_path):
    build(tmp_path / "b.tar")
    there = tmp_path / "out" / "etc" / "tollguard" / "notify.yaml"
    there.parent.mkdir(parents=True)
    there.write_bytes(b"the operator's current file")
    last = refused(restore(tmp_path / "b.tar", "--prefix", "dst", "--files-to", tmp_path / "out"))
    assert f"{there} exists" in last and "--force" in last
    assert there.read_bytes() == b"the operator's current file"
    bad = refused(restore(tmp_path / "b.tar", "--prefix", "no/slashes"))
    assert "--prefix 'no/slashes'" in bad


def test_the_manifest_lists_what_the_docs_say(tmp_path):
    m = build(tmp_path / "b.tar")
    with tarfile.open(tmp_path / "b.tar") as tar:
        got = json.loads(tar.extractfile("manifest.json").read())
    assert got == m
    assert {"format_version", "tollguard_version", "created_at", "prefix", "topics", "files"} <= set(got)
    assert {"partitions", "records", "sha256"} <= set(got["topics"][0]) and {"path", "sha256"} <= set(got["files"][0])
    with pytest.raises(BackupError):
        Archive(tmp_path / "b.tar").file_bytes({"part": "files/01-notify.yaml", "sha256": "0" * 64})
