"""High-risk number ranges: prefixes an operator lists (IRSF test numbers, premium ranges, Wangiri
sources) with a label, where the listing came from, and when it expires (``high_risk_range``).

A table is read from a CSV file (``prefix,label,source,expires``; ``#`` lines are comments) named by
the policy's ``ranges:`` or by ``replay --ranges``, and in the worker also kept up to date from the
compacted ``<prefix>.ranges`` topic that ``tollguard ranges load`` writes. A prefix is an E.164
beginning (``+88213``, ``+3719``); the longest listed prefix of a number wins. ``expires`` is an
RFC 3339 date or time (a date means its end, UTC), or empty for never; an expired listing no longer
matches calls after it.

tollguard lists ranges itself too: the worker puts a Wangiri burst's range on the topic (label
``wangiri``, source ``tollguard:<rule>:<tenant>:<alert id>``) for the verdict, enforcers and other
tools. These *derived* ranges never match in :meth:`RangeTable.match`: the rule that found them
already decides from its own state, and a worker judging by its own listings would judge differently
from replay (which has none) and from the order in which tenants' partitions happen to run.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

PREFIX = re.compile(r"^\+[1-9][0-9]{0,14}$")
MAX_RANGES = 1_000_000
FIELDS = ("prefix", "label", "source", "expires")
DERIVED = "tollguard:"  # the source of a range a rule found
LISTED = {"wangiri_inbound": "wangiri"}  # rules whose alerts name a range to list (evidence "range"), with its label


class RangeError(ValueError):
    """A range file or record that cannot be used, with the reason (and the line)."""


@dataclass(frozen=True)
class Range:
    prefix: str
    label: str
    source: str = ""
    expires: float | None = None  # epoch seconds; None: never

    @property
    def derived(self) -> bool:
        """Listed by tollguard's own rules (a Wangiri burst's range), not by an operator."""
        return self.source.startswith(DERIVED)

    def as_dict(self) -> dict:
        when = None if self.expires is None else datetime.fromtimestamp(self.expires, timezone.utc).isoformat()
        return {"prefix": self.prefix, "label": self.label, "source": self.source, "expires": when}


def parse_range(prefix: str, label: str, source: str = "", expires: str | None = "") -> Range:
    prefix = (prefix or "").strip().replace(" ", "")
    if prefix.startswith("00"):
        prefix = "+" + prefix[2:]
    if not PREFIX.match(prefix):
        raise RangeError(f"prefix must be + and 1 to 15 digits (E.164), not {prefix[:40]!r}")
    label = (label or "").strip()
    if not label or len(label) > 64 or not label.isprintable():
        raise RangeError("label must be 1 to 64 printable characters")
    source = (source or "").strip()[:128]
    return Range(prefix, label, source if source.isprintable() else "", _expiry((expires or "").strip()))


def _expiry(text: str) -> float | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.max.time(), timezone.utc).timestamp()
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(f"expires must be an RFC 3339 date or time, not {text[:40]!r}") from None
    if d.tzinfo is None:
        raise RangeError(f"expires needs an offset or Z: {text[:40]!r}")
    return d.timestamp()


class RangeTable:
    def __init__(self, ranges: list[Range] = ()):
        self._by_prefix: dict[str, Range] = {}
        for r in ranges:
            self.put(r)

    def put(self, r: Range) -> None:
        if r.prefix not in self._by_prefix and len(self._by_prefix) >= MAX_RANGES:
            raise RangeError(f"more than {MAX_RANGES:,} ranges")
        self._by_prefix[r.prefix] = r

    def remove(self, prefix: str) -> None:
        self._by_prefix.pop(prefix, None)

    def __len__(self) -> int:
        return len(self._by_prefix)

    def __iter__(self):
        return iter(sorted(self._by_prefix.values(), key=lambda r: r.prefix))

    def match(self, e164: str | None, at: float) -> Range | None:
        """The longest listed prefix of ``e164`` in force at ``at`` (ranges tollguard derived itself never match)."""
        if not e164 or not self._by_prefix:
            return None
        by = self._by_prefix
        for i in range(min(len(e164), 16), 1, -1):
            r = by.get(e164[:i])
            if r is not None and (r.expires is None or at < r.expires) and not r.derived:
                return r
        return None

    @classmethod
    def load(cls, path: str | Path) -> "RangeTable":
        table = cls()
        with open(path, newline="", encoding="utf-8") as fh:
            numbered = [(n, line) for n, line in enumerate(fh, 1) if line.strip() and not line.startswith("#")]
        if not numbered:
            return table
        head = [c.strip().lower() for c in next(csv.reader([numbered[0][1]]))]
        rows = numbered[1:] if head[:2] == ["prefix", "label"] else numbered
        names = head if head[:2] == ["prefix", "label"] else list(FIELDS)
        for n, line in rows:
            r = dict(zip(names, next(csv.reader([line]))))
            try:
                table.put(parse_range(r.get("prefix", ""), r.get("label", ""), r.get("source", ""), r.get("expires", "")))
            except RangeError as exc:
                raise RangeError(f"{path}:{n}: {exc}") from None
        return table

    def merged(self, other: "RangeTable | None") -> "RangeTable | Chain":
        return self if other is None else Chain([self, other])


class Chain:
    """Several tables read as one (a tenant's own file, and the ranges every tenant shares); the
    tables stay live, so a topic-fed table's updates are seen at once."""

    def __init__(self, tables: list):
        self.tables = tables

    def match(self, e164: str | None, at: float) -> Range | None:
        best = None
        for t in self.tables:
            r = t.match(e164, at)
            if r is not None and (best is None or len(r.prefix) > len(best.prefix)):
                best = r
        return best

    def merged(self, other) -> "Chain":
        return self if other is None else Chain([*self.tables, other])

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables)


def derived_range(alert) -> Range | None:
    """The range an alert asks to list (a Wangiri burst's: evidence ``range`` and ``range_expires``), or None."""
    label = LISTED.get(getattr(alert, "rule", ""))
    ev = getattr(alert, "evidence", None) or {}
    if label is None or not ev.get("range"):
        return None
    try:
        return parse_range(ev["range"], label, f"{DERIVED}{alert.rule}:{alert.tenant}:{alert.alert_id}"[:128],
                           ev.get("range_expires") or "")
    except RangeError:
        return None
