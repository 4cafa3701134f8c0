"""``tollguard backup --out FILE``: every compacted topic's latest records (incidents with the SOC's decisions,
blocklist, ranges, models), the block actions, optionally the worker's state, and the operator's named
files, in one archive with a manifest (streams.services.backup; docs/backup.md)."""

from __future__ import annotations

import argparse
import os
import sys

from streams.reference.text import safe

HELP = ("write what tollguard knows (incidents and decisions, blocks, ranges, models, optionally the worker's "
        "state, and named files) to one archive (docs/backup.md)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the archive to write (a tar; gzip with --gzip or a name ending .gz or .tgz); written to a "
                        "temporary file and renamed, mode 0600")
    p.add_argument("--gzip", action="store_true", help="compress the archive with gzip")
    p.add_argument("--with-state", action="store_true",
                   help="also the worker's state changelogs (<prefix>-worker-state-<scope>-changelog and "
                        "<prefix>-worker-incidents-changelog)")
    p.add_argument("--file", action="append", metavar="PATH", default=[],
                   help="an operator file to keep, byte for byte (policy, notify, enforce, console users); "
                        "repeatable. It may hold secrets: so may the archive")
    p.add_argument("--notify", metavar="FILE",
                   help="notify.yaml: when the backup fails, one message on each of its channels says what failed")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help="fail when the topics are not read to their end within this (default 120)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return f"{type(exc).__name__}: {exc}" if type(exc).__module__.startswith("kafka") else str(exc)


def main(args) -> int:
    from streams.kafka.config import Config
    from streams.services.backup.alarm import Alarm
    from streams.services.backup.archive import BackupError
    from streams.services.backup.run import check_files, check_out, make_backup
    files = check_files(args.file)
    if args.notify is not None and not os.path.exists(args.notify):
        raise FileNotFoundError(2, "No such file or directory", args.notify)
    alarm = Alarm(args.notify, dict(os.environ)) if args.notify else None  # a bad file: exit 2 before any work
    gzip = args.gzip or args.out.endswith((".gz", ".tgz"))
    prefix = os.environ.get("TOLLGUARD_TOPIC_PREFIX", "tollguard")
    try:
        check_out(args.out)
        config = Config.from_env()
        make_backup(config, args.out, files, args.with_state, gzip, args.timeout)
        return 0
    except Exception as exc:
        reason = _reason(exc)
        if alarm is not None:
            problems = alarm.send("tollguard backup", reason, {"prefix": prefix, "out": os.path.abspath(args.out)})
            for p in problems:
                print(f"backup: notify channel {p}", file=sys.stderr)
            sent = len(alarm.loaded.channels) - len(problems)
            print(f"backup: the failure was sent to {sent} of {len(alarm.loaded.channels)} notify channel(s)",
                  file=sys.stderr)
        if isinstance(exc, BackupError):
            print(f"backup: {safe(str(exc), 600)}", file=sys.stderr)
            return exc.code
        if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError,
                                                             IsADirectoryError, NotADirectoryError)):
            print(f"backup: cannot write {safe(args.out, 300)}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        raise
