"""tollguard's compiled engine (engine/, built by maturin). Private: use models.forest, not this module."""

__version__: str

class Forest:
    """An isolation forest scored as scikit-learn's ``IsolationForest.score_samples`` does (negated)."""

    def __init__(
        self,
        trees: list[tuple[list[int], list[int], list[int], list[float], list[bool], list[float], list[float], list[int]]],
        width: int,
        max_samples: float,
    ) -> None: ...
    def score(self, rows: list[float]) -> list[float]:
        """One score per row; ``rows`` holds ``width`` values per row, one row after another."""
    @property
    def width(self) -> int: ...
    @property
    def trees(self) -> int: ...
