"""``tollguard unblock TARGET``: lift the blocks on an address, number, account or extension (streams.commands.soc)."""

from __future__ import annotations

import argparse

HELP = "lift the blocks on a target (IP, number, account or extension)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="an IP address, a number, an account or an extension (tenant/ext)")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded with who and when)")
    p.add_argument("--tenant", default="default", help="the tenant whose blocks are lifted (default 'default')")
    p.add_argument("--by", default=None, metavar="WHO", help="who decided (default: $USER)")


def main(args) -> int:
    from streams.commands.soc import unblock
    return unblock(args)
