"""``tollguard incidents``: the incidents as they stand on the compacted incident topic (streams.commands.soc)."""

from __future__ import annotations

import argparse

HELP = "list incidents (the compacted incident topic)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--open", action="store_true", help="only incidents not closed or resolved")
    p.add_argument("--from-beginning", action="store_true", help="every incident on the topic (the default)")
    p.add_argument("--follow", action="store_true", help="keep reading and print updates as they come")
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="table (escaped; default) or jsonl (each incident's newest version)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="how long reading the topic to its end may take (default 60); the list says when it was cut")


def main(args) -> int:
    from streams.commands.soc import list_incidents
    return list_incidents(args)
