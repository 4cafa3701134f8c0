"""``tollguard ack ID``: the SOC has seen an incident and works on it (streams.commands.soc)."""

from __future__ import annotations

import argparse

HELP = "acknowledge an incident: the SOC has seen it and works on it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    decision_args(p)


def decision_args(p: argparse.ArgumentParser) -> None:
    """What ``ack`` and ``resolve`` both take."""
    p.add_argument("incident_id", metavar="ID", help="the incident's id (i-…, as `tollguard incidents` lists)")
    p.add_argument("--note", default="", metavar="TEXT", help="what was found or done")
    p.add_argument("--by", default=None, metavar="WHO", help="who decided (default: $USER)")
    p.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                   help="how long to wait for the worker to record it on the incident (default 15; 0: do not wait)")


def main(args) -> int:
    from streams.commands.soc import decide
    return decide(args)
