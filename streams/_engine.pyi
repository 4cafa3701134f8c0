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

class LogReader:
    """One PBX security log file read as ``streams.intake.seclog.parse_line`` reads it, with its
    ``LogState`` held in Rust (identical results; tests/streams/intake/test_seclog_engine.py)."""

    def __init__(self, fmt: str, tz: str, tenant: str = "default", year: int | None = None) -> None:
        """``fmt`` one of seclog.FORMATS, ``tz`` a zoneinfo name (ValueError for an unknown one)."""
    def parse(self, lines: list[str]) -> list[dict[str, str | int | bool] | str | None]:
        """Per line (no newline): its event dict, None when it is no security event, or the reason
        it is refused (the reference's AdapterError text)."""
    def snapshot(self) -> dict[str, str | int | None]:
        """``LogState.snapshot()``: year, last, cut_tail, cut_left."""
    def restore(self, snap: dict[str, str | int | None]) -> None:
        """``LogState.restore`` of a snapshot into this reader."""

def sniff_line(line: str) -> str | None:
    """``streams.intake.seclog.sniff_line``."""
