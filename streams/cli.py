"""The ``tollguard`` command, assembled from its commands: each ``streams/commands/<name>.py`` owns its
``HELP``, its ``add_arguments`` and its ``main`` (docs/architecture.md).

Only the command being run is imported to build its arguments, so ``tollguard replay`` does not load
Faust and ``tollguard tail`` does not load scikit-learn; ``tollguard --help`` imports them all to list them.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from streams.reference.text import safe

COMMANDS = (
    "replay", "worker", "produce", "tail", "alerts", "incidents", "ack", "resolve", "unblock",
    "notify", "enforce", "blocks", "simulate", "evaluate", "train", "model", "labels", "export",
    "topics", "policy", "verdict", "ranges", "console", "schema", "doctor", "audit", "backup", "restore", "archive",
)


OFFLINE = ("replay", "simulate", "evaluate", "train", "policy", "schema", "audit")  # the commands that never reach Kafka
KAFKA_HELP = """Kafka (README.md, "Configuration", has every setting):
  TOLLGUARD_BROKER        kafka://host:port[,host:port…] (default kafka://127.0.0.1:9092)
  TOLLGUARD_TOPIC_PREFIX  the topics' prefix: <prefix>.cdr, <prefix>.alerts, … (default tollguard)
  TOLLGUARD_SECURITY_PROTOCOL, TOLLGUARD_SASL_USERNAME, TOLLGUARD_SASL_PASSWORD(_FILE), TOLLGUARD_SSL_CAFILE
                          TLS and SASL; TOLLGUARD_PARTITIONS, TOLLGUARD_REPLICATION for the topics created"""


def named(argv: list[str] | None) -> str | None:
    """The command ``argv`` runs, when it names one before any option (None: all of them are needed)."""
    for token in argv or ():
        if token.startswith("-"):
            return None
        return token if token in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``argv``, of the command it runs (the others stay empty)."""
    ap = argparse.ArgumentParser(prog="tollguard", description="Toll-fraud detection on CDR and SIP security events.",
                                 epilog=KAFKA_HELP + "\n\nDocumentation: docs/README.md; `tollguard doctor` checks a setup.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    only = named(argv)
    for name in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        command = import_module(f"streams.commands.{name}")
        command.add_arguments(sub.add_parser(name, help=command.HELP, description=command.HELP,
                                             epilog=None if name in OFFLINE else KAFKA_HELP,
                                             formatter_class=argparse.RawDescriptionHelpFormatter))
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    from models.errors import ModelError

    from streams.kafka.config import ConfigError
    from streams.kafka.connect import KafkaProblem
    from streams.policy import PolicyError
    try:
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        KafkaError = KafkaProblem
    try:
        return import_module(f"streams.commands.{args.cmd}").main(args)
    except ModelError as exc:
        print(f"model error: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        for line in exc.problems:
            print(f"policy error: {safe(line, 400)}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"tollguard {args.cmd}: configuration: {exc}", file=sys.stderr)
        return 2
    except KafkaProblem as exc:
        print(f"tollguard {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"tollguard {args.cmd}: {exc.strerror}: {safe(str(exc.filename), 300)}", file=sys.stderr)
        return 2
    except KafkaError as exc:  # the broker, not the arguments: one line, exit 1 (docs/stream.md has the settings)
        print(f"tollguard {args.cmd}: Kafka: {safe(str(exc), 300)} (TOLLGUARD_BROKER is "
              f"{safe(os.environ.get('TOLLGUARD_BROKER', 'kafka://127.0.0.1:9092 by default'), 200)})", file=sys.stderr)
        return 1
    except ValueError as exc:  # an input that is not what --input says, or an unreadable --map
        from streams.intake import FormatError
        from streams.intake.mapped import MapError
        if not isinstance(exc, (FormatError, MapError)):
            raise
        print(f"tollguard {args.cmd}: {safe(str(exc), 400)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
