"""The notebooks as committed: each .ipynb matches its py:percent twin (jupytext), and holds its executed
outputs with the plots as images (what a reader sees on opening it). `make test` executes both with
nbmake, and with TOLLGUARD_FIGURES they write their figures to docs/figures/."""

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("name", ["explore", "retrain"])
def test_the_notebook_matches_its_script_and_shows_its_plots(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    code = lambda n: [c.source for c in n.cells if c.cell_type == "code"]  # noqa: E731
    assert code(nb) == code(script), f"{name}.ipynb and {name}.py differ: run `jupytext --sync notebooks/{name}.py`"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{name}.ipynb holds no plot output: execute it (docs/models.md) before committing"
    assert not any("matplotlib.use(" in c.source for c in nb.cells), "a forced backend hides the plots"
