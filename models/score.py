"""The anomaly model's scorer: feature vectors in, scores out (models/ owns the model, not the alerts).

One IsolationForest call costs about the same for 1 row as for hundreds, so the ``anomaly``
rule (streams/rules/anomaly.py) queues the calls it learns from and asks for their scores
once per micro-batch. Scores do not depend on batch boundaries.
"""

from __future__ import annotations

import numpy as np

from streams.rates import RateTable

from . import artifact
from .features import FEATURES


class Scorer:
    def __init__(self, model, card: dict, rates: RateTable | None = None):
        self.model = model
        self.card = card
        self.threshold = float(card["threshold"])
        self.pop = np.asarray(card.get("population", {}).get("median", [0.0] * len(FEATURES)))
        self.spread = np.asarray(card.get("population", {}).get("iqr", [1.0] * len(FEATURES)), dtype=np.float64)
        self.spread[self.spread <= 1e-9] = 1.0
        self.rates = rates or RateTable.load()

    @classmethod
    def load(cls, path) -> "Scorer":
        model, card = artifact.load(path)
        return cls(model, card)

    def score(self, vectors: list[list[float]]) -> np.ndarray:
        """Anomaly scores, higher = stranger (above ``threshold`` is an alert)."""
        return -self.model.score_samples(np.asarray(vectors, dtype=np.float64))

    def explain(self, vec: list[float], k: int = 3) -> list[int]:
        """The features furthest from the population, in interquartile ranges."""
        z = np.abs((np.asarray(vec) - self.pop) / self.spread)
        return [int(i) for i in np.argsort(-z)[:k]]
