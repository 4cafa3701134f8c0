"""``tollguard enforce``: carry out block actions (streams.services.enforce)."""

from __future__ import annotations

import argparse

from streams.commands.common import service_args

HELP = "carry out block actions: nftables, fail2ban, commands, webhooks"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE", help="enforce.yaml (docs/enforce.md)")
    p.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    p.add_argument("--state", metavar="FILE", default=None,
                   help="where applied action ids are kept across restarts (default: `state:` in the config; none)")
    service_args(p)


def main(args) -> int:
    from streams.services.enforce import main as enforce
    return enforce(args)
