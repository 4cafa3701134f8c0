"""``tollguard console``: the SOC's web page, and ``console user add`` for its users file
(streams.services.console)."""

from __future__ import annotations

import argparse
import os

from streams.commands.common import log_format_arg, zone

HELP = "the SOC's web page: incidents live, evidence, ack/resolve/unblock (docs/console.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", metavar="FILE", default=os.environ.get("TOLLGUARD_CONSOLE_USERS"),
                   help="who may log in (`tollguard console user add FILE NAME` writes it)")
    p.add_argument("--host", default=os.environ.get("TOLLGUARD_CONSOLE_HOST") or "127.0.0.1",
                   help="address to listen on (default $TOLLGUARD_CONSOLE_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOLLGUARD_CONSOLE_PORT") or 8080),
                   help="port to listen on (default $TOLLGUARD_CONSOLE_PORT or 8080)")
    p.add_argument("--metrics", metavar="URL", help="the worker's /metrics, for the health panel "
                   "(e.g. http://127.0.0.1:9108/metrics)")
    p.add_argument("--session-minutes", type=float, default=30.0, help="a session ends this long after its last use")
    p.add_argument("--tz", metavar="ZONE", type=zone, default=os.environ.get("TOLLGUARD_CONSOLE_TZ") or "UTC",
                   help="IANA zone the pages show times in, to the second (default $TOLLGUARD_CONSOLE_TZ or UTC)")
    p.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"],
                   help="the least severe log lines written (default info: start-up and the audit trail of sign-ins and decisions)")
    p.add_argument("--insecure-cookie", action="store_true",
                   help="send the session cookie over plain HTTP too (a lab without HTTPS; warns at start)")
    p.add_argument("--secure-cookie", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    p.add_argument("--trust-proxy", metavar="CIDR", action="append", default=[],
                   help="believe X-Forwarded-For/-Proto only from a peer in CIDR (your HTTPS proxy; repeatable)")
    log_format_arg(p)
    users = p.add_subparsers(dest="console_cmd").add_parser("user", help="manage the users file")
    add = users.add_subparsers(dest="user_cmd", required=True).add_parser(
        "add", help="add or replace a user (the password is read from the terminal, or stdin)")
    add.add_argument("file", help="the users file (created if missing)")
    add.add_argument("name", help="the user's login name")
    add.add_argument("--role", choices=["viewer", "analyst"], default="viewer",
                     help="viewer (looks) or analyst (also acknowledges, resolves and unblocks); default viewer")
    add.add_argument("--tenant", help="bind the user to this tenant's data (default: every tenant)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")


def main(args) -> int:
    from streams.services.console.service import main as console
    return console(args)
