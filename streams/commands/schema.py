"""``tollguard schema``: the event contract's JSON Schemas, printed or written (streams/schemas)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "print or write the event contract's JSON Schemas"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--write", metavar="DIR", help="write <name>.schema.json files into DIR")


def main(args) -> int:
    from streams.domain.events import schemas
    docs = schemas()
    if args.write:
        d = Path(args.write)
        d.mkdir(parents=True, exist_ok=True)
        for name, schema in docs.items():
            (d / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {len(docs)} schemas to {d}")
    else:
        print(json.dumps(docs, indent=2, sort_keys=True))
    return 0
