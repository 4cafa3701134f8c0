"""Saving and loading the model safely: skops (never pickle/joblib), explicit trusted types, a model card.

``<name>.skops`` holds the fitted estimator; ``<name>.card.json`` beside it holds the
feature names and order, library versions, the training data fingerprint, the threshold and
evaluation metrics. Loading refuses an artifact whose file holds types outside the trusted
list, or whose features differ from this code's ``FEATURES``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy
import sklearn
import skops
import skops.io as sio

from models.features import FEATURES

# skops needs the tree type named explicitly for tree ensembles (skops refuses unknown types); nothing else is trusted.
TRUSTED = ["sklearn.tree._tree.Tree"]


from models.errors import ModelError  # noqa: E402,F401 (re-exported: light to import for the CLI)


def card_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name.removesuffix(".skops") + ".card.json")


def save(model, path: str | Path, threshold: float, data_fingerprint: str, metrics: dict,
         population: dict | None = None) -> dict:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    card = {
        "format": "tollguard-anomaly-model/1",
        "features": list(FEATURES),
        "threshold": threshold,
        "estimator": type(model).__name__,
        "artifact_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "training_data_sha256": data_fingerprint,
        "versions": {"scikit-learn": sklearn.__version__, "numpy": numpy.__version__, "skops": skops.__version__},
        "metrics": metrics,
        "population": population or {},
    }
    card_path(path).write_text(json.dumps(card, indent=2) + "\n")
    return card


def load(path: str | Path):
    """Return (model, card), refusing tampered, foreign or mismatched artifacts with a clear reason."""
    path = Path(path)
    cpath = card_path(path)
    if not path.exists():
        raise ModelError(f"no model file at {path}")
    if not cpath.exists():
        raise ModelError(f"{path}: its model card {cpath.name} is missing")
    card = json.loads(cpath.read_text())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if card.get("artifact_sha256") != digest:
        raise ModelError(f"{path}: file does not match its model card (sha256 {digest[:12]}…, card says "
                         f"{str(card.get('artifact_sha256'))[:12]}…): refusing a modified artifact")
    if list(card.get("features", [])) != list(FEATURES):
        raise ModelError(f"{path}: trained on features {card.get('features')}, this code computes {list(FEATURES)}; "
                         "retrain with this version (tollguard train)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable skops file: {exc}") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED))
    if unexpected:
        raise ModelError(f"{path}: holds types outside the trusted list: {', '.join(unexpected)}")
    model = sio.load(path, trusted=TRUSTED)
    return model, card
