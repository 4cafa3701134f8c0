"""Which way is risk: every model feature grows with it, so only a value *above* what is usual is a reason.

A feature is **riskier** when its value is above both the extension's usual and the population's
median by more than a margin: the unit's least difference worth naming (5 points of a share, 1
call, 30 s, 0.50 an hour) or a tenth of the reference, whichever is larger. The extension's usual
is what it reaches in an ordinary call: its running average before the call plus ``SPREADS`` times
how far its calls usually stray from that average (a running mean absolute deviation, same
weight). An extension whose calls vary a lot (a sales line calling five countries one day and two
the next) is not "riskier than usual" for reaching its own ordinary highs; one whose calls never
vary is, for a small step. An extension with no earlier calls is compared with the population only.

The anomaly rule alerts only on a call with at least one riskier feature other than volume alone
(``VOLUME``: calls and distinct numbers, which the guide's rate rules judge), and names only those
(most riskier first, in interquartile ranges of the population, the unit's step at least); a call
that is odd only for being *less* risky than usual (fewer calls, a lower share abroad) says nothing.
Training calibrates the threshold with the same test (``models.train``).
"""

from __future__ import annotations

import numpy as np

from models.explain import WORDS
from models.features import FEATURES

STEP = {"share": 0.05, "count": 1.0, "seconds": 30.0, "money": 0.5}  # the least difference worth naming, per unit
RELATIVE = 0.1  # ... or this share of the reference, whichever is larger
SPREADS = 2.0   # the extension's usual reaches this many of its mean absolute deviations above its average
# How many calls, to how many numbers: a busy hour is no loss by itself, and the guide's own limits
# (call_frequency, daily_calls, sequential_calls) judge it. These are named beside a riskier
# destination, duration or spend, never alone.
VOLUME = frozenset(FEATURES.index(f) for f in ("calls_1h", "calls_24h", "distinct_dst_1h"))
_COST = np.asarray([i not in VOLUME for i in range(len(FEATURES))])
STEPS = np.asarray([STEP[WORDS[f][1]] for f in FEATURES], dtype=np.float64)


def high(usual, spread) -> np.ndarray | None:
    """The extension's ordinary high per feature: its usual plus ``SPREADS`` deviations (NaN kept: no history)."""
    if usual is None:
        return None
    u = np.asarray(usual, dtype=np.float64)
    if spread is None:
        return u
    return u + SPREADS * np.nan_to_num(np.asarray(spread, dtype=np.float64), nan=0.0)


def reference(pop: np.ndarray, usual, spread=None) -> np.ndarray:
    """Per feature, what a value must rise above: the larger of the extension's ordinary high and the population's."""
    u = high(usual, spread)
    if u is None:
        return np.asarray(pop, dtype=np.float64)
    return np.where(np.isnan(u), pop, np.maximum(pop, u))


def excess(vec, usual, pop: np.ndarray, spread=None) -> np.ndarray:
    """How far each feature rises past its reference and margin (> 0: riskier)."""
    ref = reference(pop, usual, spread)
    return np.asarray(vec, dtype=np.float64) - ref - np.maximum(STEPS, RELATIVE * np.abs(ref))


def riskier(vec, usual, pop: np.ndarray, spread: np.ndarray, k: int = 3, usual_spread=None) -> list[int]:
    """Indices of the riskier features, at most ``k``, the furthest (in population IQRs) first; empty: none.
    ``spread`` is the population's IQR (the scale), ``usual_spread`` the extension's own deviation."""
    over = excess(vec, usual, pop, usual_spread)
    idx = np.nonzero(over > 0)[0]
    if not any(i not in VOLUME for i in idx):
        return []
    scale = np.maximum(spread, STEPS)
    return [int(i) for i in sorted(idx, key=lambda i: (-over[i] / scale[i], i))[:k]]


def any_riskier(X: np.ndarray, U: np.ndarray, pop: np.ndarray, S: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``X`` (usual values in ``U``, NaN where an extension had no earlier call, their deviations in
    ``S``): is any feature riskier?"""
    X = np.asarray(X, dtype=np.float64)
    if not len(X):
        return np.zeros(0, dtype=bool)
    return ((excess(X, np.asarray(U, dtype=np.float64), pop, S) > 0) & _COST).any(axis=1)
