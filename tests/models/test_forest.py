"""The engine scores isolation forests as scikit-learn does (models/forest.py, engine/src/forest.rs)."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from models import artifact
from models.forest import Scores, compile_forest, engine_choice
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default.skops"

TOLERANCE = 1e-9  # issue 29: the same scores as scikit-learn to 1e-9
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # scikit-learn narrowing 1e40


def rows(rng, n, width):
    """Values of every scale, with ties, zeros, negatives, huge values that overflow float32, inf and NaN."""
    X = rng.normal(size=(n, width)) * rng.choice([1e-3, 1.0, 1e3, 1e9, 1e40], size=(n, width))
    X[rng.random((n, width)) < 0.05] = 0.0
    X[rng.random((n, width)) < 0.02] = np.inf
    X[rng.random((n, width)) < 0.02] = -np.inf
    X[rng.random((n, width)) < 0.02] = np.nan
    return X


def assert_same(model, X):
    ours = Scores(model, "rust")(X)
    theirs = -model.score_samples(X)
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) <= TOLERANCE, np.max(np.abs(ours - theirs))


def test_the_shipped_model_scores_the_same_in_the_engine():
    model, _ = artifact.load(DEFAULT_MODEL)
    rng = np.random.default_rng(29)
    assert_same(model, rows(rng, 3000, model.n_features_in_))
    assert_same(model, np.clip(rng.normal(2, 3, size=(3000, model.n_features_in_)), 0, None))


@pytest.mark.parametrize("seed", range(6))
def test_freshly_trained_forests_of_every_shape_score_the_same(seed):
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 14))
    train = rng.gamma(2.0, 3.0, size=(int(rng.integers(20, 600)), width)).round(int(rng.integers(0, 3)))
    model = IsolationForest(n_estimators=int(rng.integers(1, 60)), max_samples=[8, 64, "auto", 1.0][seed % 4],
                            max_features=[1.0, 0.5, 1][seed % 3], bootstrap=bool(seed % 2),
                            random_state=seed).fit(train)
    assert_same(model, rows(rng, 2000, width))
    assert_same(model, train)


def test_a_forest_of_one_sample_scores_one_like_scikit_learn():
    model = IsolationForest(n_estimators=3, random_state=0).fit(np.zeros((1, 2)))
    assert_same(model, np.array([[0.0, 0.0], [5.0, -1.0]]))


def test_rows_of_the_wrong_width_are_refused():
    model = IsolationForest(n_estimators=2, random_state=0).fit(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="rows of 3 features"):
        Scores(model, "rust")([[1.0, 2.0]])


def test_a_malformed_forest_is_refused_by_the_engine():
    from streams import _engine
    model = IsolationForest(n_estimators=1, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 2)))
    t = compile_forest(model)
    assert t.trees == 1 and t.width == 2
    left = [0] + [-1] * 2
    with pytest.raises(ValueError, match="bad children"):
        _engine.Forest([(left, [2, -1, -1], [0, -2, -2], [0.0, 0.0, 0.0], [True] * 3, [0.0] * 3, [0.0] * 3, [0, 1])], 2, 8.0)


def test_the_engine_is_chosen_by_tollguard_engine(monkeypatch):
    monkeypatch.delenv("TOLLGUARD_ENGINE", raising=False)
    assert engine_choice() == "rust"
    monkeypatch.setenv("TOLLGUARD_ENGINE", "python")
    model = IsolationForest(n_estimators=2, random_state=0).fit(np.zeros((10, 3)))
    assert Scores(model).forest is None
    monkeypatch.setenv("TOLLGUARD_ENGINE", "cobol")
    with pytest.raises(ValueError, match="rust or python"):
        engine_choice()
