"""The anomaly model's scorer: feature vectors in, scores out (models/ owns the model, not the alerts).

One IsolationForest call costs about the same for 1 row as for hundreds, so the ``anomaly``
rule (streams/rules/anomaly.py) queues the calls it learns from and asks for their scores
once per micro-batch. Scores do not depend on batch boundaries.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from streams.reference.rates import RateTable

from models import artifact, risk
from models.features import FEATURES
from models.forest import Scores


RECENT = 4096  # calls kept for the live drift figures


class Scorer:
    def __init__(self, model, card: dict, rates: RateTable | None = None, version: str | None = None):
        self.model = model
        self.scores = Scores(model)  # the engine's trees (models/forest.py), or scikit-learn's with TOLLGUARD_ENGINE=python
        self.card = card
        # the version anomaly alerts name: the artifact's content address (models.registry.version_of)
        self.version = version or str(card.get("artifact_sha256", "unknown"))[:12]
        self.threshold = float(card["threshold"])
        self.pop = np.asarray(card.get("population", {}).get("median", [0.0] * len(FEATURES)))
        self.iqr = np.asarray(card.get("population", {}).get("iqr", [0.0] * len(FEATURES)), dtype=np.float64)
        self.rates = rates or RateTable.load()
        self.recent: deque = deque(maxlen=RECENT)  # (vector, score) of the latest calls scored: live drift
        self.scored = 0

    @classmethod
    def load(cls, path, version: str | None = None) -> "Scorer":
        model, card = artifact.load(path)
        return cls(model, card, version=version)

    def score(self, vectors: list[list[float]]) -> np.ndarray:
        """Anomaly scores, higher = stranger (above ``threshold`` is an alert), recorded for the drift figures."""
        scores = self.judge(vectors)
        self.record(vectors, scores.tolist())
        return scores

    def judge(self, vectors: list[list[float]]) -> np.ndarray:
        """The scores alone (nothing recorded: a call may be learnt again, see streams.rules.anomaly)."""
        return self.scores(vectors)

    def record(self, vectors: list[list[float]], scores: list[float]) -> None:
        """Count calls scored and keep them for the live drift figures."""
        self.recent.extend(zip(vectors, scores))
        self.scored += len(vectors)

    def live(self) -> dict | None:
        """The latest calls scored: feature medians and score quantiles (what ``model drift`` compares with
        the card); None before any."""
        if not self.recent:
            return None
        X = np.asarray([v for v, _ in self.recent], dtype=np.float64)
        s = np.asarray([x for _, x in self.recent])
        return {"calls": len(s), "median": np.median(X, axis=0).tolist(),
                "score_quantiles": {q: float(np.quantile(s, q)) for q in (0.5, 0.9, 0.99)},
                "above_threshold": float((s > self.threshold).mean())}

    def riskier(self, vec: list[float], usual: list[float] | None, spread: list[float] | None = None,
                k: int = 3) -> list[int]:
        """The features riskier than both the extension's ``usual`` (and its usual ``spread``) and the
        population's (models.risk), at most ``k``, the furthest first; empty when none is (the call is then no
        alert, whatever its score)."""
        return risk.riskier(vec, usual, self.pop, self.iqr, k, spread)
