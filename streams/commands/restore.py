"""``tollguard restore FILE [--prefix P]``: check a backup whole, then write its topics into an empty (or new)
prefix and its named files under ``--files-to`` (streams.services.backup; docs/backup.md)."""

from __future__ import annotations

import argparse
import sys

from streams.reference.text import safe

HELP = "check a backup, then write its topics into an empty prefix and its files under --files-to (docs/backup.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="the archive `tollguard backup` wrote")
    p.add_argument("--prefix", metavar="P",
                   help="the topic prefix to write into (default: the backup's); its topics must be empty or absent")
    p.add_argument("--force", action="store_true",
                   help="write into topics that already hold records, and over named files that exist")
    p.add_argument("--files-to", metavar="DIR",
                   help="write the named files under DIR at their original paths (DIR/etc/tollguard/policy.yaml); "
                        "'/' puts them back in place; without it they are not written")
    p.add_argument("--check", action="store_true",
                   help="only check the archive (manifest, every part's sha256) and say what it holds; no Kafka")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="per Kafka request and for the deliveries of each topic (default 60)")


def main(args) -> int:
    from streams.services.backup.archive import BackupError
    from streams.services.backup.run import restore
    try:
        return restore(args.file, args.prefix, args.force, args.files_to, args.timeout, args.check)
    except BackupError as exc:
        print(f"restore: {safe(str(exc), 600)}", file=sys.stderr)
        return exc.code
