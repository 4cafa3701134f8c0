"""The README's example outputs are what the commands print today (issue 30: its evaluate example had gone stale)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shown_after(command: str) -> list[str]:
    """The output lines the README shows under ``$ command`` (up to ``...`` or the block's end)."""
    text = (ROOT / "README.md").read_text()
    block = text.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and line.strip() != "..." and not line.startswith("$ ")]


def test_the_evaluate_example_is_what_evaluate_prints():
    shown = shown_after("tollguard evaluate fixtures/sim-day")
    assert len(shown) >= 3
    out = subprocess.run([sys.executable, "-m", "streams.cli", "evaluate", "fixtures/sim-day"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300).stdout
    printed = {re.sub(r"\s+", " ", line).strip() for line in out.splitlines()}
    stale = [line for line in shown if re.sub(r"\s+", " ", line).strip() not in printed]
    assert not stale, f"README.md shows lines evaluate no longer prints: {stale}"
