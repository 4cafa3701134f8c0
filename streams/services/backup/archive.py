"""The backup file: one tar archive (gzip-compressed when asked) holding ``manifest.json``, one part per topic
and the operator's named files, byte for byte.

A topic's part is JSON lines, one record each, in partition and offset order::

    {"partition": 0, "offset": 41, "timestamp": 1767225600000, "key": "<base64>", "value": "<base64>"}

(``headers``: ``[[name, "<base64>"], ...]`` when the record had any). Keys and values are kept as the
bytes they were, base64 in the line. A key whose latest value is a tombstone is not in the part.

The manifest names every part with its sha256; :class:`Archive` refuses a file whose manifest is missing
or of a newer format, a part whose sha256 differs (naming it), a part that is not listed and a listed
one that is missing, before anything is written anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

FORMAT = "tollguard-backup"
FORMAT_VERSION = 1  # raise when a reader of this version could not restore what a newer one writes
MANIFEST = "manifest.json"
SPOOL = 16 * 1024 * 1024  # a part larger than this is spooled to a temporary file while it is built
_SHA = re.compile(r"^[0-9a-f]{64}$")


class BackupError(Exception):
    """A backup or restore that cannot go on; ``str()`` is one line for the operator. ``code`` is the exit
    status: 2 for a bad file or argument, 1 for a failure of the cluster or the disk."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class Record:
    partition: int
    key: bytes | None
    value: bytes
    timestamp: int | None = None
    offset: int | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def encode(r: Record) -> bytes:
    line = {"partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
            "key": None if r.key is None else base64.b64encode(r.key).decode(),
            "value": base64.b64encode(r.value).decode()}
    if r.headers:
        line["headers"] = [[k, base64.b64encode(v or b"").decode()] for k, v in r.headers]
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Record:
    """One part line back to its record; ValueError says what is wrong with it."""
    try:
        d = json.loads(line)
        if not isinstance(d, dict) or not isinstance(d.get("partition"), int) or d["partition"] < 0:
            raise ValueError("no partition")
        if not isinstance(d.get("value"), str) or not isinstance(d.get("key"), (str, type(None))):
            raise ValueError("no value")
        if not isinstance(d.get("timestamp"), (int, type(None))):
            raise ValueError("a timestamp that is not a whole number")
        key = None if d["key"] is None else base64.b64decode(d["key"], validate=True)
        headers = [(str(k), base64.b64decode(v, validate=True)) for k, v in d.get("headers") or []]
        return Record(d["partition"], key, base64.b64decode(d["value"], validate=True), d["timestamp"],
                      d.get("offset"), headers)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"not base64 ({exc})") from None


class Part:
    """One member as it is built: spooled, hashed and counted as lines are added."""

    def __init__(self, name: str):
        self.name = name
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL)
        self.hash = hashlib.sha256()
        self.size = self.count = 0

    def add(self, data: bytes) -> None:
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)

    def add_record(self, r: Record) -> None:
        self.add(encode(r))
        self.count += 1

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()


def _info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write(out: str | os.PathLike, manifest: dict, parts: list[Part], gzip: bool, mtime: float) -> int:
    """Write the archive to a temporary file beside ``out`` (mode 0600 from its creation), synced, then
    renamed over ``out``: a reader never sees half a backup, a failed one leaves the old file. Its size."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz" if gzip else "w", format=tarfile.PAX_FORMAT) as tar:
                data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
                tar.addfile(_info(MANIFEST, len(data), mtime), io.BytesIO(data))
                for p in parts:
                    p.file.seek(0)
                    tar.addfile(_info(p.name, p.size, mtime), p.file)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # a directory that cannot be synced (some network file systems): the rename stands
        pass
    return out.stat().st_size


def safe_path(path) -> bool:
    """An original path a restore may write under ``--files-to``: absolute, no ``..``, no empty name."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
        return False
    p = PurePosixPath(path)
    return ".." not in p.parts and len(p.parts) > 1


def _check_manifest(m, where: str) -> dict:
    """The manifest's shape; a newer format is refused first, with the version it needs."""
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BackupError(f"{where}: not a tollguard backup (its manifest.json says format {m.get('format')!r})"
                          if isinstance(m, dict) else f"{where}: not a tollguard backup (manifest.json is not an object)")
    version = m.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BackupError(f"{where}: manifest.json has no usable format_version ({version!r})")
    if version > FORMAT_VERSION:
        raise BackupError(f"{where}: backup format version {version} is newer than this tollguard "
                          f"({m.get('tollguard_version', '?')} wrote it; this one reads up to version {FORMAT_VERSION}): "
                          "restore it with that version or a later one")
    if not isinstance(m.get("prefix"), str) or not isinstance(m.get("topics"), list) or \
            not isinstance(m.get("files", []), list):
        raise BackupError(f"{where}: manifest.json lacks its prefix, topics or files")
    for t in m["topics"]:
        ok = isinstance(t, dict) and all(isinstance(t.get(k), str) for k in ("role", "topic")) and \
            isinstance(t.get("partitions"), int) and isinstance(t.get("records"), int)
        if ok and t.get("present", True):
            ok = isinstance(t.get("part"), str) and isinstance(t.get("sha256"), str) and bool(_SHA.match(t["sha256"]))
        if not ok:
            raise BackupError(f"{where}: manifest.json: a topic entry is incomplete: {json.dumps(t)[:200]}")
    for f in m.get("files", []):
        if not (isinstance(f, dict) and safe_path(f.get("path")) and isinstance(f.get("part"), str)
                and isinstance(f.get("sha256"), str) and _SHA.match(f["sha256"])):
            raise BackupError(f"{where}: manifest.json: a file entry is incomplete or its path is not absolute and "
                              f"plain: {json.dumps(f)[:200]}")
    return m


def _whole_stream(path: str) -> None:
    """A gzip archive read through once: its CRC, checked only at the end of the stream, catches a changed
    byte before any member (the manifest first) is believed."""
    import gzip
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return
    try:
        with gzip.open(path, "rb") as z:
            while z.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{path}: damaged archive: its gzip stream does not check out ({exc})") from None


class Archive:
    """A backup file opened for reading: :meth:`verify` checks every part against the manifest before
    :meth:`records` or :meth:`file_bytes` hand anything out."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(2, "No such file or directory", self.path)
        _whole_stream(self.path)
        try:
            self.tar = tarfile.open(self.path, "r:*")
            members = self.tar.getmembers()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, (IsADirectoryError, PermissionError)):
                raise
            raise BackupError(f"{self.path}: not a readable tollguard backup (not a tar archive: {exc})") from None
        names = [m.name for m in members]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BackupError(f"{self.path}: the archive holds {twice[0]} twice")
        self.members = {m.name: m for m in members}
        if MANIFEST not in self.members:
            raise BackupError(f"{self.path}: not a tollguard backup (no {MANIFEST})")
        try:
            raw = json.loads(self._read(MANIFEST))
        except ValueError as exc:
            raise BackupError(f"{self.path}: {MANIFEST} is not JSON ({exc})") from None
        self.manifest = _check_manifest(raw, self.path)
        self.topics = [t for t in self.manifest["topics"] if t.get("present", True)]
        self.files = list(self.manifest.get("files", []))
        listed = [MANIFEST] + [t["part"] for t in self.topics] + [f["part"] for f in self.files]
        for name in listed:
            if name not in self.members or not self.members[name].isfile():
                raise BackupError(f"{self.path}: part {name} is listed in the manifest but missing from the archive")
        extra = sorted(set(self.members) - set(listed))
        if extra:
            raise BackupError(f"{self.path}: part {extra[0]} is not listed in the manifest")

    def _open(self, name: str):
        return self.tar.extractfile(self.members[name])

    def _read(self, name: str) -> bytes:
        try:
            return self._open(name).read()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BackupError(f"{self.path}: damaged archive: part {name} cannot be read ({exc})") from None

    def _lines(self, name: str):
        try:
            yield from self._open(name)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BackupError(f"{self.path}: damaged archive: part {name} cannot be read ({exc})") from None

    def verify(self) -> None:
        """Every part's sha256 against the manifest (a mismatch names the part), every record readable and
        counted as the manifest says; named files too."""
        for t in self.topics:
            digest, count, bad = hashlib.sha256(), 0, None
            for n, line in enumerate(self._lines(t["part"]), 1):
                digest.update(line)
                count += 1
                if bad is None:
                    try:
                        r = decode(line)
                        if r.partition >= max(t["partitions"], 1):
                            raise ValueError(f"partition {r.partition} of a topic of {t['partitions']}")
                    except ValueError as exc:
                        bad = f"line {n}: {exc}"
            self._same(t["part"], digest.hexdigest(), t["sha256"], "; nothing was restored")
            if bad:
                raise BackupError(f"{self.path}: part {t['part']}: {bad}")
            if count != t["records"]:
                raise BackupError(f"{self.path}: part {t['part']} holds {count} records, its manifest says {t['records']}")
        for f in self.files:
            self._same(f["part"], hashlib.sha256(self._read(f["part"])).hexdigest(), f["sha256"],
                       "; nothing was restored")

    def _same(self, part: str, got: str, want: str, tail: str = "") -> None:
        if got != want:
            raise BackupError(f"{self.path}: part {part} is damaged: its sha256 is {got[:16]}…, "
                              f"the manifest says {want[:16]}…{tail}")

    def records(self, topic: dict):
        for line in self._lines(topic["part"]):
            yield decode(line)

    def file_bytes(self, entry: dict) -> bytes:
        data = self._read(entry["part"])
        self._same(entry["part"], hashlib.sha256(data).hexdigest(), entry["sha256"])
        return data

    def close(self) -> None:
        self.tar.close()
