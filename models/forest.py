"""The anomaly model's trees scored by the compiled engine (``streams._engine.Forest``).

scikit-learn stays for training; scoring a fitted ``IsolationForest`` needs only its trees' arrays,
which are handed to the engine once, when the model is loaded. The engine follows
``IsolationForest.score_samples`` step by step (engine/src/forest.rs); tests/models/test_forest.py
holds its scores to scikit-learn's within 1e-9 on the shipped model and on freshly trained ones.
Set ``TOLLGUARD_ENGINE=python`` to score with scikit-learn itself (debugging, comparing).
"""

from __future__ import annotations

import os

import numpy as np


def engine_choice() -> str:
    """``rust`` (the default) or ``python``, from ``TOLLGUARD_ENGINE``."""
    choice = os.environ.get("TOLLGUARD_ENGINE", "rust").strip().lower() or "rust"
    if choice not in ("rust", "python"):
        raise ValueError(f"TOLLGUARD_ENGINE must be rust or python, not {choice!r}")
    return choice


def compile_forest(model):
    """``model`` (a fitted ``sklearn.ensemble.IsolationForest``) as an engine ``Forest``."""
    from streams import _engine

    width = int(model.n_features_in_)
    # scikit-learn indexes the columns only when each tree saw a subset (BaseBagging's feature indexing)
    subset = model._max_features != width
    trees = []
    for est, cols, lengths, averages in zip(model.estimators_, model.estimators_features_,
                                            model._decision_path_lengths, model._average_path_length_per_tree):
        t = est.tree_
        trees.append((t.children_left.tolist(), t.children_right.tolist(), t.feature.tolist(), t.threshold.tolist(),
                      np.asarray(t.missing_go_to_left, dtype=bool).tolist(),
                      np.asarray(lengths, dtype=np.float64).tolist(), np.asarray(averages, dtype=np.float64).tolist(),
                      [int(c) for c in cols] if subset else list(range(width))))
    return _engine.Forest(trees, width, float(model._max_samples))


class Scores:
    """``judge(vectors)``: anomaly scores (scikit-learn's ``-score_samples``) by the engine or by scikit-learn."""

    def __init__(self, model, engine: str | None = None):
        self.model = model
        self.engine = engine or engine_choice()
        self.forest = compile_forest(model) if self.engine == "rust" else None

    def __call__(self, vectors) -> np.ndarray:
        X = np.asarray(vectors, dtype=np.float64)
        if self.forest is None:
            return -self.model.score_samples(X)
        if X.ndim != 2 or X.shape[1] != self.forest.width:
            raise ValueError(f"expected rows of {self.forest.width} features, got shape {X.shape}")
        return np.asarray(self.forest.score(X.ravel().tolist()), dtype=np.float64)
