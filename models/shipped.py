"""How the shipped model (``models/default.skops`` and its card) is made, so anyone can make it again.

    python -m models.shipped [--out models/default.skops]

Three simulated weeks of one office (``tollguard simulate --days 21 --seed 21``: 50 extensions, every
attack scenario, labelled), trained with ``tollguard train`` on that directory's policy and labels,
seed 0 and the default target rate. The same code and library versions give the same model: the
card's ``training_data_sha256`` names the simulated events, its metrics the training figures.
The held-out figures in docs/models.md come from ``python -m models.assess`` on other seeds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

DAYS, SEED, EXTENSIONS = 21, 21, 50


def make(out: Path) -> int:
    from streams.commands.simulate import simulate
    from streams.commands.train import main as train
    with tempfile.TemporaryDirectory(prefix="tollguard-shipped-") as tmp:
        d = Path(tmp)
        simulate(DAYS, SEED, d, extensions=EXTENSIONS)
        args = argparse.Namespace(data=[str(d / "events.jsonl")], policy=str(d / "policy.yaml"),
                                  labels=str(d / "labels.json"), out=str(out), seed=0, target_rate=None)
        return train(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.shipped", description="make the shipped anomaly model again")
    ap.add_argument("--out", default=str(Path(__file__).with_name("default.skops")))
    return make(Path(ap.parse_args(argv).out))


if __name__ == "__main__":
    sys.exit(main())
