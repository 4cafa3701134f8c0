"""``tollguard archive --to URL``: a backup (``tollguard backup``), sent off the host, the last N kept.

The guide's Contingency Plan asks for scheduled backups archived to FTP/SFTP or S3-compatible storage.
A destination is a URL:

- ``file:///srv/backups/tollguard`` (a folder, e.g. a mounted NAS);
- ``sftp://user@host[:port]/path`` (OpenSSH's ``sftp``, key authentication, the host checked against ``known_hosts``);
- ``s3://bucket/prefix`` (AWS, or any S3-compatible store with ``--endpoint``; credentials from the
  usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or ``AWS_PROFILE``).

Each archive is named ``tollguard-<topic prefix>-<UTC time>.tar.gz``, uploaded under a temporary name
and renamed (or, on S3, written at once), its size checked after the upload, and then all but the
newest ``--keep`` of that prefix are deleted. Only names of that shape are ever deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

NAME = "tollguard-{prefix}-{stamp}.tar.gz"


class ArchiveError(Exception):
    """The destination refused or could not be reached; the text names no secret."""


def archive_name(prefix: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return NAME.format(prefix=prefix, stamp=stamp)


def ours(prefix: str, names) -> list[str]:
    """The archives of ``prefix`` among ``names``, oldest first (the stamp sorts as time)."""
    pattern = re.compile(rf"tollguard-{re.escape(prefix)}-\d{{8}}T\d{{6}}Z\.tar\.gz")
    return sorted(n for n in names if pattern.fullmatch(n))


def destination(url: str, endpoint: str | None = None, identity: str | None = None, known_hosts: str | None = None):
    """The store a URL names (ValueError with the reason for one it cannot use)."""
    u = urlparse(url)
    if u.scheme == "file":
        if u.netloc not in ("", "localhost"):
            raise ValueError(f"{url}: a file:// URL names a folder on this host (file:///path)")
        return Folder(Path(unquote(u.path)))
    if u.scheme == "sftp":
        if not u.hostname or not u.username:
            raise ValueError(f"{url}: an sftp:// URL needs a user and a host (sftp://user@host/path)")
        if u.password:
            raise ValueError("sftp:// takes key authentication only: put no password in the URL (--identity KEYFILE)")
        return Sftp(u.hostname, u.port or 22, u.username, unquote(u.path) or ".", identity, known_hosts)
    if u.scheme == "s3":
        if not u.netloc:
            raise ValueError(f"{url}: an s3:// URL needs a bucket (s3://bucket/prefix)")
        return S3(u.netloc, unquote(u.path).strip("/"), endpoint)
    raise ValueError(f"{url}: the destination must be file://, sftp:// or s3://")


class Folder:
    def __init__(self, path: Path):
        self.path = path

    def where(self) -> str:
        return f"file://{self.path}"

    def put(self, local: Path, name: str) -> int:
        self.path.mkdir(parents=True, exist_ok=True)
        part = self.path / f".{name}.part"
        shutil.copyfile(local, part)
        os.chmod(part, 0o600)
        os.replace(part, self.path / name)
        return (self.path / name).stat().st_size

    def names(self) -> list[str]:
        return [p.name for p in self.path.iterdir()] if self.path.is_dir() else []

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def close(self) -> None:
        pass


class Sftp:
    """OpenSSH's ``sftp`` program in batch mode (run, not linked, as nft and fail2ban-client are: the
    Python SFTP clients are LGPL). Key authentication only (``BatchMode``), the host's key checked
    against ``known_hosts`` (``StrictHostKeyChecking=yes``: an unknown or changed key is refused)."""

    def __init__(self, host: str, port: int, user: str, path: str, identity: str | None, known_hosts: str | None):
        if any(c in path for c in '"\n\r\\'):
            raise ValueError("an sftp:// path with a quote, a backslash or a line break cannot be sent to sftp")
        self.host, self.port, self.user, self.dir = host, port, user, path
        self.identity, self.known_hosts = identity, known_hosts

    def where(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{self.dir}"

    def _run(self, commands: list[str]) -> list[str]:
        """Run the batch; the lines it printed (its own echo of each command left out)."""
        import subprocess
        prog = shutil.which("sftp")
        if prog is None:
            raise ArchiveError("no sftp program: install OpenSSH's client (Debian: openssh-client)")
        known = self.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        argv = [prog, "-b", "-", "-P", str(self.port), "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20", "-o", f"UserKnownHostsFile={known}"]
        if self.identity:
            argv += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        argv.append(f"{self.user}@{self.host}")
        try:
            p = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise ArchiveError(f"{self.where()}: sftp did not finish within 600 s") from None
        if p.returncode != 0:
            said = [line for line in p.stderr.strip().splitlines() if line.strip()][-2:]
            raise ArchiveError(f"{self.where()}: {' '.join(said) or f'sftp exited {p.returncode}'}")
        return [line for line in p.stdout.splitlines() if not line.startswith("sftp>")]

    def _path(self, name: str = "") -> str:
        return str(PurePosixPath(self.dir) / name) if name else self.dir

    def put(self, local: Path, name: str) -> int:
        parts = PurePosixPath(self.dir).parts
        mkdirs = [f'-mkdir "{PurePosixPath(*parts[:i])}"' for i in range(2, len(parts) + 1)]
        part = self._path(f".{name}.part")
        out = self._run(mkdirs + [f'put "{local}" "{part}"', f'chmod 600 "{part}"', f'-rm "{self._path(name)}"',
                                  f'rename "{part}" "{self._path(name)}"', f'ls -ln "{self._path(name)}"'])
        sizes = [int(f[4]) for f in (line.split() for line in out) if len(f) >= 5 and f[4].isdigit()]
        if not sizes:
            raise ArchiveError(f"{self.where()}: {name} was not listed after the upload")
        return sizes[-1]

    def names(self) -> list[str]:
        try:
            out = self._run([f'ls -1 "{self.dir}"'])
        except ArchiveError as exc:
            if "No such file" in str(exc) or "not found" in str(exc):
                return []
            raise
        return [PurePosixPath(line.strip()).name for line in out if line.strip()]

    def delete(self, name: str) -> None:
        self._run([f'-rm "{self._path(name)}"'])

    def close(self) -> None:
        pass


class S3:
    def __init__(self, bucket: str, prefix: str, endpoint: str | None):
        self.bucket, self.prefix, self.endpoint = bucket, prefix, endpoint
        self._client = None

    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config
            self._client = boto3.client("s3", endpoint_url=self.endpoint, region_name=os.environ.get("AWS_REGION")
                                        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                                        config=Config(s3={"addressing_style": "path"} if self.endpoint else {},
                                                      retries={"max_attempts": 3}, connect_timeout=20, read_timeout=60,
                                                      # checksums only where S3 requires them: S3-compatible stores
                                                      # (MinIO, Ceph, s3proxy) refuse the newer optional headers
                                                      request_checksum_calculation="when_required",
                                                      response_checksum_validation="when_required"))
        return self._client

    def _call(self, fn, *args, **kw):
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return fn(*args, **kw)
        except Boto3Error as exc:  # upload_file's S3UploadFailedError wraps the store's answer
            raise ArchiveError(f"{self.where()}: {exc}") from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ArchiveError(f"{self.where()}: {err.get('Code')}: {err.get('Message')}") from None
        except BotoCoreError as exc:
            raise ArchiveError(f"{self.where()}: {exc}") from None

    def put(self, local: Path, name: str) -> int:
        c = self.client()
        self._call(c.upload_file, str(local), self.bucket, self._key(name))
        return int(self._call(c.head_object, Bucket=self.bucket, Key=self._key(name))["ContentLength"])

    def names(self) -> list[str]:
        c = self.client()
        out, token = [], None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": self._key("")}
            if token:
                kw["ContinuationToken"] = token
            page = self._call(c.list_objects_v2, **kw)
            out += [o["Key"].rsplit("/", 1)[-1] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return out
            token = page.get("NextContinuationToken")

    def delete(self, name: str) -> None:
        self._call(self.client().delete_object, Bucket=self.bucket, Key=self._key(name))

    def close(self) -> None:
        pass


def send(local: Path, store, prefix: str, keep: int, now: float | None = None) -> tuple[str, int, list[str]]:
    """Upload ``local`` as this run's archive, check its size, keep the newest ``keep``; (name, size, deleted)."""
    name = archive_name(prefix, now)
    size = store.put(local, name)
    if size != local.stat().st_size:
        raise ArchiveError(f"{store.where()}: {name} holds {size} bytes after the upload, not {local.stat().st_size}")
    mine = ours(prefix, store.names())
    gone = mine[:-keep] if keep > 0 and len(mine) > keep else []
    for old in gone:
        store.delete(old)
    return name, size, gone


def notify_failure(path: str | None, what: str, env: dict | None = None, kind: str = "archive_failure",
                   title: str = "tollguard archive failed") -> str | None:
    """The guide's Event Notification: one message on each of notify's channels saying what failed (None when
    sent, else why not). ``path``: notify's configuration (``--notify``)."""
    if not path:
        return None
    from streams.kafka.config import ConfigError
    from streams.services.notify.render import Message
    from streams.services.notify.senders import broadcast
    from streams.services.notify.settings import load
    try:
        loaded = load(path, dict(os.environ) if env is None else env)
    except (ConfigError, OSError) as exc:
        return f"cannot read {path}: {exc}"
    msg = Message(kind="alert", severity="critical", title=title, text=what,
                  body={"type": kind, "reason": what, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    problems = [f"{name}: {why}" for name, why in broadcast(loaded, msg).items() if why is not None]
    return "; ".join(problems) or None
