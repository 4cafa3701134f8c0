"""Arguments that several commands share: the policy and model, the input format, a long-running service's."""

from __future__ import annotations

import argparse
import os

from streams.intake import FORMATS


def zone(name: str) -> str:
    """An IANA time zone name (argparse type), refused in one line with the zones it may have meant."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    import difflib
    zones = sorted(available_timezones())
    last: dict[str, list[str]] = {}
    for z in zones:
        last.setdefault(z.rsplit("/", 1)[-1].lower(), []).append(z)
    key = name.lower().replace(" ", "_")
    near = last.get(key) or [z for t in difflib.get_close_matches(key, last, n=2) for z in last[t]] \
        or difflib.get_close_matches(name, zones, n=3)
    hint = f"; did you mean {' or '.join(near[:3])}?" if near else " (an IANA name such as Europe/London or UTC)"
    raise argparse.ArgumentTypeError(f"unknown time zone {name!r}{hint}")


def policy_args(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("--policy", metavar="FILE", help="policy YAML (default: built-in guide defaults)")
    if not model:  # a command that runs no model takes no model options (an ignored --model would mislead)
        return
    p.add_argument("--no-model", action="store_true", help="rules only: do not load the anomaly model")
    p.add_argument("--model", metavar="FILE", help="anomaly model artifact (default: the shipped models/default.skops)")


def input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", choices=FORMATS, default="auto",
                   help="input format: the JSONL contract, a PBX CDR export or a PBX security log "
                        "(default auto: told from each file's first lines)")
    p.add_argument("--map", metavar="MAP.yaml", help="with --input csv: which column is which (docs/intake.md)")
    p.add_argument("--tz", default="UTC", metavar="ZONE", type=zone,
                   help="IANA zone of local times in CSV exports and logs (default UTC)")
    p.add_argument("--tenant", default="default", help="tenant of the records of CSV exports and logs (default 'default')")


def log_format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("TOLLGUARD_LOG_FORMAT") or "text",
                   help="text (escaped, no terminal codes) or json (one object per line); default $TOLLGUARD_LOG_FORMAT or text")


def service_args(p: argparse.ArgumentParser) -> None:
    """What every long-running consumer takes: where to serve metrics, how to log, where to start."""
    p.add_argument("--web-port", type=int, default=None, metavar="PORT",
                   help="serve /metrics and /health on this port (default $TOLLGUARD_WEB_PORT; none when unset)")
    log_format_arg(p)
    p.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"],
                   help="the least severe log lines written (default info)")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop after this long without a record (default: run until stopped)")
