import json

import numpy as np
import pytest

from models import artifact
from models.features import FEATURES
from models.train import fit


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, len(FEATURES)))
    model, thr = fit(X, seed=1)
    path = tmp_path / "m.skops"
    artifact.save(model, path, thr, "abc", {"calls": 300})
    return path, X, thr


def test_roundtrip_scores_the_same(saved):
    path, X, thr = saved
    model, card = artifact.load(path)
    assert card["features"] == list(FEATURES) and card["threshold"] == thr
    assert card["versions"]["scikit-learn"] and card["training_data_sha256"] == "abc"
    assert ((-model.score_samples(X)) > thr).mean() == pytest.approx(0.002, abs=0.004)


def test_tampered_artifact_is_refused(saved):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifact.ModelError, match="does not match its model card"):
        artifact.load(path)


def test_feature_mismatch_is_refused(saved):
    path, _, _ = saved
    card = json.loads(artifact.card_path(path).read_text())
    card["features"] = card["features"][::-1]
    artifact.card_path(path).write_text(json.dumps(card))
    with pytest.raises(artifact.ModelError, match="retrain"):
        artifact.load(path)


def test_untrusted_types_are_refused(saved, monkeypatch):
    path, _, _ = saved
    monkeypatch.setattr(artifact, "TRUSTED", [])
    with pytest.raises(artifact.ModelError, match="outside the trusted list: sklearn.tree._tree.Tree"):
        artifact.load(path)


def test_missing_card_is_refused(saved):
    path, _, _ = saved
    artifact.card_path(path).unlink()
    with pytest.raises(artifact.ModelError, match="model card"):
        artifact.load(path)
