"""Where the shipped model lives and how a command loads one (the one home of model loading).

The default model and its card are package data of ``models`` (``importlib.resources``), so an
installed wheel has them as the checkout does. A missing or unreadable model is a loud
:class:`~models.errors.ModelError`; only ``--no-model`` runs the rules alone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from models.errors import ModelError

DEFAULT_NAME = "default.skops"


def default_model() -> Path:
    """The shipped model's path (a real file in a checkout or an installed wheel)."""
    return Path(str(resources.files("models").joinpath(DEFAULT_NAME)))


def load_scorer(args):
    """The anomaly model of ``--model``, else the shipped default, unless ``--no-model``."""
    if getattr(args, "no_model", False):
        return None
    from models.score import Scorer
    path = Path(getattr(args, "model", None) or default_model())
    if not path.is_file():
        raise ModelError(f"no model at {path}" + ("" if getattr(args, "model", None) else
                         " (the shipped default is missing from this installation)")
                         + "; pass --no-model to run the rules alone")
    return Scorer.load(path)
