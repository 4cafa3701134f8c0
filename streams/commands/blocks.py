"""``tollguard blocks``: the active blocks with their expiry (streams.services.enforce.blocks)."""

from __future__ import annotations

import argparse

HELP = "list active blocks with their expiry"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--all", action="store_true", help="expired and lifted blocks too")
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="table (escaped; default) or jsonl (one block per line)")


def main(args) -> int:
    from streams.services.enforce.blocks import main as blocks
    return blocks(args)
