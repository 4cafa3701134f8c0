"""``tollguard policy FILE``: validate a policy, and warn about settings that disarm detection."""

from __future__ import annotations

import argparse
import sys

from streams.reference.text import safe

HELP = "validate a policy file, and warn about settings that disarm detection"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the policy YAML to check")
    p.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")


def main(args) -> int:
    from streams.policy import Policy
    pol = Policy.load(args.file)
    for w in pol.warnings:
        print(f"policy warning: {safe(w, 400)}", file=sys.stderr)
    print(f"{args.file}: valid policy" + (f", {len(pol.warnings)} warning(s)" if pol.warnings else ""))
    return 1 if (pol.warnings and args.strict) else 0
