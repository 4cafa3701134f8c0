"""``tollguard verdict``: the HTTP service that allows or refuses a call before it is routed (streams.services.verdict)."""

from __future__ import annotations

import argparse
import os

from streams.commands.common import log_format_arg, policy_args

HELP = "HTTP service: allow or refuse a call before it is routed (docs/verdict.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    policy_args(p, model=False)  # the verdict judges by the policy's rules and the live blocks: no model
    p.add_argument("--host", default=os.environ.get("TOLLGUARD_VERDICT_HOST") or "127.0.0.1",
                   help="address to listen on (default $TOLLGUARD_VERDICT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOLLGUARD_VERDICT_PORT") or 8089),
                   help="port to listen on (default $TOLLGUARD_VERDICT_PORT or 8089)")
    p.add_argument("--fail", choices=["open", "closed"], default="closed",
                   help="when no verdict can be formed (an exception, or the live blocks unknown): closed = refuse "
                        "with SIP 503, open = allow what the rules allow (default closed; docs/verdict.md says why)")
    p.add_argument("--token-file", default=os.environ.get("TOLLGUARD_VERDICT_TOKEN_FILE") or None,
                   help="/v1/verdict and /metrics need 'Authorization: Bearer <the file's token>'; "
                        "without it the service binds to loopback only")
    p.add_argument("--no-live", action="store_true", help="the policy's rules only: do not read <prefix>.actions")
    log_format_arg(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO (default: warnings only)")


def main(args) -> int:
    from streams.services.verdict.service import main as verdict
    return verdict(args)
