"""The rate table (``streams/data/rates.csv``, package data): what a call costs, by destination country and number type."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from .numbers import NumberInfo

DEFAULT = Path(str(resources.files("streams").joinpath("data", "rates.csv")))


class RateTable:
    def __init__(self, rows: dict[tuple[str, str], float]):
        self.rows = rows

    @classmethod
    def load(cls, path: str | Path = DEFAULT) -> "RateTable":
        rows = {}
        with open(path, newline="") as fh:
            lines = (line for line in fh if line.strip() and not line.startswith("#"))
            for r in csv.DictReader(lines):
                rows[(r["country"].strip().upper(), r["number_type"].strip())] = float(r["usd_per_min"])
        return cls(rows)

    def per_minute(self, info: NumberInfo) -> float:
        country = info.region or "*"
        ntype = info.number_type
        if info.international and info.possible and not info.valid:
            ntype = "unallocated"
        for key in ((country, ntype), (country, "*"), ("*", ntype), ("*", "*")):
            if key in self.rows:
                return self.rows[key]
        return 0.0

    def cost(self, info: NumberInfo, billsec: float) -> float:
        return round(self.per_minute(info) * billsec / 60.0, 4)
