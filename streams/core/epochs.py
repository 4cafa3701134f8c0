"""Time constants and conversions shared by the core, the rules and the tools."""

from __future__ import annotations

import math
from datetime import datetime, timezone

FOREVER = 1e18  # "until" of a permanent block or incident (JSON-safe, unlike inf)
HORIZON = 6 * 3600.0  # how far back a late event can still change what a key remembers (incidents, windows)


def iso(ts: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, timezone.utc)


def z(t: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with a ``Z``."""
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def epoch_of(at: float, span: float) -> int:
    """The incident epoch of a detection at ``at``: fixed grid cells of ``span`` seconds (one for ever)."""
    return 0 if span >= FOREVER else math.floor(at / span)
