"""docs/audit-checks.md is what the code's checks say (regenerate with `make schema`)."""

from pathlib import Path

from streams.audit.__main__ import markdown

ROOT = Path(__file__).resolve().parents[3]


def test_the_checks_page_is_generated_from_the_code():
    assert (ROOT / "docs" / "audit-checks.md").read_text() == markdown(), "run `make schema`"
