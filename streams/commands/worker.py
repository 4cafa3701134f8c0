"""``tollguard worker``: the Faust worker on Kafka (the shell: streams.shells.worker)."""

from __future__ import annotations

import argparse

from streams.commands.common import log_format_arg, policy_args

HELP = "run the Faust worker on Kafka"


def add_arguments(p: argparse.ArgumentParser) -> None:
    policy_args(p)
    p.add_argument("--model-public-key", metavar="FILE", action="append",
                   help="switch only to models on <prefix>.models signed by this Ed25519 key (repeatable, to rotate; "
                        "default $TOLLGUARD_MODEL_PUBLIC_KEY). Without one, published models are refused")
    p.add_argument("--allow-unsigned", action="store_true",
                   help="also switch to unsigned published models (anyone who can write the topic picks the model)")
    p.add_argument("--loglevel", default="warning", help="debug, info, warning (default) or error")
    p.add_argument("--web-port", type=int, default=None, metavar="PORT",
                   help="serve /metrics and /health on this port (default $TOLLGUARD_WEB_PORT; none when unset)")
    log_format_arg(p)


def main(args) -> int:
    from streams.shells.worker import main as worker  # pulls in Faust
    return worker(args)
