"""Time constants shared by the core and the rules (so no rule imports the core)."""

from __future__ import annotations

import math

FOREVER = 1e18  # "until" of a permanent block or incident (JSON-safe, unlike inf)
HORIZON = 6 * 3600.0  # how far back a late event can still change what a key remembers (incidents, windows)


def epoch_of(at: float, span: float) -> int:
    """The incident epoch of a detection at ``at``: fixed grid cells of ``span`` seconds (one for ever)."""
    return 0 if span >= FOREVER else math.floor(at / span)
