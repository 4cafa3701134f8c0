"""One policy for Python's cyclic garbage collector in every process that judges events.

The detector keeps its state in many small lists and dicts, and a loaded model, the policy, phone
metadata and the libraries add a few hundred MB that never die. With the collector's defaults a
young collection runs every 700 allocations and each full pass walks all of that: measured on a
simulated 2-day set (67k events), 0.25 s of collector CPU rules-only, 0.90 s with the model (about
a sixth of the loop) and 0.69 s on a 30k registration flood. Full passes also stalled the worker's
event loop for 100-300 ms (bench/HISTORY.md). So once start-up is over, what exists is frozen
(never walked again) and young objects are collected less often. Reference cycles that do become
garbage are still collected, later.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations between young collections (Python's default: 700)


def settle_after_startup() -> None:
    """Call once start-up is done (policy, model and libraries loaded), before the first event."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, 50, 100)
