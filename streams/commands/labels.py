"""``tollguard labels --out FILE``: the SOC's verdicts from ``<prefix>.incidents`` into a label file
(models.labels reads it for training)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.labels import from_incidents

HELP = "the SOC's verdicts on incidents into a training label file (for train --labels)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="the label file to write (for train --labels)")


def main(args) -> int:
    """``tollguard labels``: the SOC's verdicts from ``<prefix>.incidents`` into a label file."""
    import sys

    from streams.commands.export import ExportError, records
    from streams.kafka.config import Config
    config = Config.from_env()
    try:
        labels = from_incidents(records(config, config.incidents, None, None, join=True))
    except ExportError as exc:
        print(f"labels: {exc}", file=sys.stderr)
        return 1
    Path(args.out).write_text(json.dumps({"source": "soc", "labels": labels}, indent=1), encoding="utf-8")
    fraud = sum(1 for x in labels if x["verdict"] == "true_positive")
    print(f"labels: {len(labels)} incidents with a verdict ({fraud} fraud, {len(labels) - fraud} false positives) "
          f"-> {args.out}", file=sys.stderr)
    return 0
