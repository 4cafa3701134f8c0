"""``tollguard notify``: route incidents and alerts to webhooks, email, chat and syslog (streams.services.notify)."""

from __future__ import annotations

import argparse

from streams.commands.common import service_args

HELP = "route incidents and alerts to webhooks, email and syslog"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE", help="notify.yaml (docs/notify.md)")
    service_args(p)


def main(args) -> int:
    from streams.services.notify import main as notify
    return notify(args)
