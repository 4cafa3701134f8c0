"""The rate table (``streams/data/rates.csv``, package data): what a call costs, by destination country and number type."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from streams.reference.numbers import NumberInfo

DEFAULT = Path(str(resources.files("streams").joinpath("data", "rates.csv")))


_SHARED: "RateTable | None" = None


class RateTable:
    def __init__(self, rows: dict[tuple[str, str], float]):
        self.rows = rows

    @classmethod
    def load(cls, path: str | Path = DEFAULT) -> "RateTable":
        """Read a rate table: CSV with ``country`` (ISO code or ``*``), ``number_type`` (libphonenumber's
        name, ``unallocated`` or ``*``) and ``usd_per_min``; ``#`` lines are comments. A row that cannot
        be read raises ValueError naming its line."""
        rows = {}
        with open(path, newline="", encoding="utf-8") as fh:
            numbered = ((n, line) for n, line in enumerate(fh, 1) if line.strip() and not line.startswith("#"))
            head = next(numbered, None)
            if head is None:
                raise ValueError(f"{path}: no header line (country,number_type,usd_per_min)")
            names = [c.strip() for c in next(csv.reader([head[1]]))]
            missing = {"country", "number_type", "usd_per_min"} - set(names)
            if missing:
                raise ValueError(f"{path}:{head[0]}: missing column(s) {', '.join(sorted(missing))}")
            for n, line in numbered:
                r = dict(zip(names, (c.strip() for c in next(csv.reader([line])))))
                try:
                    price = float(r["usd_per_min"])
                except (KeyError, ValueError):
                    raise ValueError(f"{path}:{n}: usd_per_min must be a number, not {r.get('usd_per_min')!r}") from None
                if not price >= 0 or price == float("inf"):
                    raise ValueError(f"{path}:{n}: usd_per_min must be a finite number >= 0")
                rows[(r.get("country", "").upper(), r.get("number_type", ""))] = price
        return cls(rows)

    @classmethod
    def shared(cls) -> "RateTable":
        """The shipped table, read once per process."""
        global _SHARED
        if _SHARED is None:
            _SHARED = cls.load()
        return _SHARED

    def per_minute(self, info: NumberInfo) -> float:
        country = info.region or "*"
        ntype = info.number_type
        if info.international and info.possible and not info.valid:
            ntype = "unallocated"
        for key in ((country, ntype), (country, "*"), ("*", ntype), ("*", "*")):
            if key in self.rows:
                return self.rows[key]
        return 0.0

    def per_second(self, info: NumberInfo) -> float:
        return self.per_minute(info) / 60.0

    def cost(self, info: NumberInfo, billsec: float) -> float:
        return round(self.per_minute(info) * billsec / 60.0, 4)
