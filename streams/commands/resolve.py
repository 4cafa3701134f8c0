"""``tollguard resolve ID``: close an incident with a verdict, kept as a training label (streams.commands.soc)."""

from __future__ import annotations

import argparse

from streams.commands.ack import decision_args

HELP = "resolve an incident, with a verdict kept as a training label"


def add_arguments(p: argparse.ArgumentParser) -> None:
    decision_args(p)
    v = p.add_mutually_exclusive_group()
    v.add_argument("--verdict", choices=["true_positive", "false_positive"], default=None,
                   help="was it fraud? a false positive becomes a label for retraining")
    v.add_argument("--false-positive", dest="verdict", action="store_const", const="false_positive",
                   help="same as --verdict false_positive")


def main(args) -> int:
    from streams.commands.soc import decide
    return decide(args)
