"""``tollguard archive --to URL``: a backup sent to a folder, an SFTP server or an S3-compatible store, the
newest N kept (streams.services.archive, docs/backup.md)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HELP = "back up tollguard's topics and files and send the archive to file://, sftp:// or s3://, keeping the last N"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, metavar="URL",
                   help="file:///dir, sftp://user@host[:port]/path (key authentication) or s3://bucket/prefix")
    p.add_argument("--keep", type=int, default=7, metavar="N", help="archives of this prefix kept there (default 7; 0: all)")
    p.add_argument("--endpoint", metavar="URL", help="s3://: an S3-compatible store's endpoint (default AWS)")
    p.add_argument("--identity", metavar="FILE", help="sftp://: the private key (default: ~/.ssh's keys)")
    p.add_argument("--known-hosts", metavar="FILE", help="sftp://: the server's key must be in it (default ~/.ssh/known_hosts)")
    p.add_argument("--with-state", action="store_true", help="also the workers' state changelogs (larger)")
    p.add_argument("--file", action="append", default=[], metavar="FILE",
                   help="a file to keep with it (policy, notify, enforce, users); repeatable")
    p.add_argument("--notify", metavar="FILE", help="notify's configuration: a failure is sent on its channels")


def main(args) -> int:
    from streams.kafka.config import Config
    from streams.reference.text import safe
    from streams.services.archive import ArchiveError, destination, notify_failure, send
    for f in [*args.file, *([args.notify] if args.notify else []), *([args.identity] if args.identity else [])]:
        if not os.path.exists(f):
            raise FileNotFoundError(2, "No such file or directory", f)
    if args.keep < 0:
        print("tollguard archive: --keep must be 0 (keep all) or more", file=sys.stderr)
        return 2
    try:
        store = destination(args.to, args.endpoint, args.identity, args.known_hosts)
    except ValueError as exc:
        print(f"tollguard archive: {safe(str(exc), 300)}", file=sys.stderr)
        return 2
    config = Config.from_env()

    def fail(what: str) -> int:
        print(f"tollguard archive: FAILED: {safe(what, 600)}", file=sys.stderr)
        unsent = notify_failure(args.notify, f"tollguard archive to {store.where()} failed: {what}")
        if unsent:
            print(f"tollguard archive: the failure could not be notified either: {safe(unsent, 300)}", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="tollguard-archive-") as tmp:
        local = Path(tmp) / "backup.tar.gz"
        cmd = [sys.executable, "-m", "streams.cli", "backup", "--out", str(local)]
        cmd += ["--with-state"] if args.with_state else []
        for f in args.file:
            cmd += ["--file", f]
        made = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(made.stderr)
        if made.returncode != 0 or not local.exists():
            lines = [x for x in made.stderr.strip().splitlines() if x.strip()]
            return fail("the backup failed: " + (lines[-1] if lines else f"exit {made.returncode}"))
        try:
            name, size, gone = send(local, store, config.prefix, args.keep)
        except ArchiveError as exc:
            return fail(str(exc))
        finally:
            store.close()
    print(f"archive: {name} ({size:,} bytes) to {store.where()}"
          + (f"; {len(gone)} older removed (--keep {args.keep})" if gone else ""), file=sys.stderr)
    return 0
