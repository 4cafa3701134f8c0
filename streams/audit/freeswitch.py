"""Audit checks for Freeswitch configuration files (to be written: see docs/audit.md)."""

from __future__ import annotations

from pathlib import Path


def audit(files: list[Path]) -> tuple[list, list[str]]:
    """(findings, the files this module read) for the Freeswitch files among ``files``."""
    return [], []
