"""The steps of ``tollguard backup`` and ``tollguard restore`` (docs/backup.md); the commands in
streams/commands hold their arguments and exit statuses."""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from streams import __version__
from streams.kafka.config import Config
from streams.reference.text import safe
from streams.services.backup.archive import FORMAT, FORMAT_VERSION, Archive, BackupError, Part, write
from streams.services.backup.topics import COMPACTED, LOG, plan, read, roles, topic_of
from streams.services.backup.topics import write as produce

_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def check_files(paths: list[str]) -> list[str]:
    """The named files as absolute paths; a missing one or a directory is a bad argument (raised as the
    OSError it is, which ``tollguard`` turns into one line and exit 2)."""
    out = []
    for p in paths:
        if not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
        if not os.path.isfile(p):
            raise IsADirectoryError(21, "Not a regular file", p)
        with open(p, "rb"):  # unreadable: PermissionError now, not after the topics were read
            pass
        out.append(os.path.abspath(p))
    return out


def check_out(out: str) -> None:
    parent = Path(out).parent
    if not parent.is_dir():
        raise BackupError(f"--out {out}: no such directory {parent}")
    if Path(out).is_dir():
        raise BackupError(f"--out {out} is a directory; name the archive file")


def make_backup(config: Config, out: str, files: list[str], with_state: bool, gzip: bool,
                timeout: float, say=print) -> None:
    """Read every topic of the backup to its end, then write the archive (atomically, mode 0600)."""
    from streams.kafka.connect import preflight
    existing = preflight(config)
    deadline = time.monotonic() + timeout
    topics, parts = [], []
    for role in roles(with_state):
        name = topic_of(config, role)
        entry = {"role": role, "topic": name, "kind": "log" if role in LOG else "latest"}
        if name not in existing:
            topics.append({**entry, "present": False, "partitions": 0, "records": 0})
            say(f"backup: {name}: absent, nothing to keep")
            continue
        part = Part(f"topics/{role}.jsonl")
        partitions, left_out = read(config, name, role, part, deadline)
        topics.append({**entry, "present": True, "partitions": partitions, "records": part.count,
                       "part": part.name, "bytes": part.size, "sha256": part.sha256})
        parts.append(part)
        why = "not blocks" if role in LOG else "overwritten or deleted"
        say(f"backup: {name}: {part.count} records from {partitions} partition(s)"
            + (f" ({left_out} {why} left out)" if left_out else ""))
    if not any(t["present"] for t in topics if t["role"] in COMPACTED):
        raise BackupError(f"no tollguard topics with prefix {config.prefix!r} on {config.where} "
                          "(is TOLLGUARD_TOPIC_PREFIX right?); no backup written", code=1)
    entries = []
    for i, path in enumerate(files, 1):
        part = Part(f"files/{i:02d}-{os.path.basename(path)}")
        part.add(Path(path).read_bytes())
        entries.append({"path": path, "part": part.name, "bytes": part.size, "sha256": part.sha256,
                        "mode": f"{os.stat(path).st_mode & 0o777:04o}"})
        parts.append(part)
        say(f"backup: {path}: {part.size} bytes")
    now = time.time()
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "tollguard_version": __version__,
                "created_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
                "prefix": config.prefix, "app_id": config.app_id, "with_state": with_state, "topics": topics,
                "files": entries}
    size = write(out, manifest, parts, gzip, now)
    say(f"backup: wrote {out} ({size} bytes, mode 0600): {len([t for t in topics if t['present']])} topic(s), "
        f"{sum(t['records'] for t in topics)} record(s), {len(entries)} file(s)")


def destinations(entries: list[dict], files_to: str | None, force: bool) -> list[tuple[dict, Path]]:
    """Where each named file goes: under ``files_to`` at its original path (``/``: the original path
    itself); an existing file is refused without ``force``."""
    if files_to is None:
        return []
    out = [(e, Path(files_to) / e["path"].lstrip("/")) for e in entries]
    for e, dest in out:
        if (dest.exists() or dest.is_symlink()) and not force:
            raise BackupError(f"{dest} exists (the backup's {e['path']}): add --force to overwrite it, "
                              "or choose another --files-to")
    return out


def _put(dest: Path, data: bytes, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def describe(archive: Archive, say=print) -> None:
    m = archive.manifest
    say(f"restore: {archive.path}: format {m['format_version']}, written by tollguard {m.get('tollguard_version', '?')} "
        f"at {m.get('created_at', '?')} from prefix {safe(m['prefix'], 80)}; every part's sha256 matches")
    for t in m["topics"]:
        say(f"  {safe(t['topic'], 120)}: " + (f"{t['records']} records, {t['partitions']} partition(s)"
                                               if t.get("present", True) else "absent at backup"))
    for f in archive.files:
        say(f"  file {safe(f['path'], 200)}: {f.get('bytes', '?')} bytes")


def restore(path: str, prefix: str | None, force: bool, files_to: str | None, timeout: float, check: bool,
            say=print) -> int:
    """Check the archive whole, then the targets (empty topics, files not there), then write; 1 when a
    record was not acknowledged."""
    from streams.kafka.connect import preflight
    archive = Archive(path)
    try:
        archive.verify()
        if check:
            describe(archive, say)
            return 0
        target_prefix = archive.manifest["prefix"] if prefix is None else prefix
        if not _PREFIX.match(target_prefix):
            raise BackupError(f"--prefix {target_prefix!r}: a topic prefix is 1 to 200 of A-Z a-z 0-9 . _ -")
        dests = destinations(archive.files, files_to, force)
        config = replace(Config.from_env(), prefix=target_prefix)
        targets = plan(config, archive.topics, preflight(config), force)
        failed = 0
        for t, done, bad, first in produce(config, archive, targets, timeout):
            how = (f"to the partitions they were in ({t.partitions})" if t.same_partitions else
                   f"by key over {t.partitions} partition(s) (the backup's topic had {t.entry['partitions']})")
            say(f"restore: {t.topic}: {done} of {t.entry['records']} records written, {how}"
                + (f"; {bad} NOT acknowledged: {safe(first, 300)}" if bad else ""))
            failed += bad
        for e, dest in dests:
            try:
                _put(dest, archive.file_bytes(e), int(str(e.get("mode", "0600")), 8) & 0o777)
            except OSError as exc:
                raise BackupError(f"cannot write {dest}: {exc.strerror}", code=1) from None
            say(f"restore: {dest}: {e.get('bytes', '?')} bytes (the backup's {e['path']})")
        if archive.files and files_to is None:
            say(f"restore: {len(archive.files)} named file(s) not written (--files-to DIR writes them)")
        if failed:
            raise BackupError(f"{failed} record(s) were not acknowledged by Kafka; the restore is incomplete", code=1)
        say(f"restore: done into prefix {target_prefix} from {path}")
        return 0
    finally:
        archive.close()
