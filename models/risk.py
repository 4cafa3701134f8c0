"""Which way is risk: every model feature grows with it, so only a value *above* what is usual is a reason.

A feature is **riskier** when its value is above both the extension's usual (its running average
before the call) and the population's median by more than a margin: the unit's least difference
worth naming (5 points of a share, 1 call, 30 s, 0.50 an hour) or a tenth of the reference,
whichever is larger. An extension with no earlier calls is compared with the population only.

The anomaly rule alerts only on a call with at least one riskier feature, and names only those
(most riskier first, in interquartile ranges of the population, the unit's step at least); a call
that is odd only for being *less* risky than usual (fewer calls, a lower share abroad) says nothing.
Training calibrates the threshold with the same test (``models.train``).
"""

from __future__ import annotations

import numpy as np

from .explain import WORDS
from .features import FEATURES

STEP = {"share": 0.05, "count": 1.0, "seconds": 30.0, "money": 0.5}  # the least difference worth naming, per unit
RELATIVE = 0.1  # ... or this share of the reference, whichever is larger
STEPS = np.asarray([STEP[WORDS[f][1]] for f in FEATURES], dtype=np.float64)


def reference(pop: np.ndarray, usual) -> np.ndarray:
    """Per feature, what a value must rise above: the larger of the extension's usual and the population's."""
    if usual is None:
        return np.asarray(pop, dtype=np.float64)
    u = np.asarray(usual, dtype=np.float64)
    return np.where(np.isnan(u), pop, np.maximum(pop, u))


def excess(vec, usual, pop: np.ndarray) -> np.ndarray:
    """How far each feature rises past its reference and margin (> 0: riskier)."""
    ref = reference(pop, usual)
    return np.asarray(vec, dtype=np.float64) - ref - np.maximum(STEPS, RELATIVE * np.abs(ref))


def riskier(vec, usual, pop: np.ndarray, spread: np.ndarray, k: int = 3) -> list[int]:
    """Indices of the riskier features, at most ``k``, the furthest (in population IQRs) first; empty: none."""
    over = excess(vec, usual, pop)
    idx = np.nonzero(over > 0)[0]
    scale = np.maximum(spread, STEPS)
    return [int(i) for i in sorted(idx, key=lambda i: (-over[i] / scale[i], i))[:k]]


def any_riskier(X: np.ndarray, U: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Per row of ``X`` (usual values in ``U``, NaN where an extension had no earlier call): is any feature riskier?"""
    X = np.asarray(X, dtype=np.float64)
    if not len(X):
        return np.zeros(0, dtype=bool)
    U = np.asarray(U, dtype=np.float64)
    ref = np.where(np.isnan(U), pop, np.maximum(pop, U))
    return (X - ref - np.maximum(STEPS, RELATIVE * np.abs(ref)) > 0).any(axis=1)
