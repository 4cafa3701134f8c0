"""The licence holds (issue 30.5): LICENSE is the Apache-2.0 text that pyproject.toml declares, no package
tollguard needs at run time declares a GPL-family licence (docs/licensing.md says why that is what makes
Apache-2.0 work), and docs/licensing.md lists every such package, so a new dependency is looked at."""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


COPYLEFT = re.compile(r"\b(A|L)?GPL|GNU (Affero|Lesser|Library|General) Public|SSPL|EUPL", re.I)


def test_license_is_the_apache_2_text_pyproject_declares():
    text = (ROOT / "LICENSE").read_text()
    assert re.search(r"Apache License\s+Version 2\.0, January 2004", text)
    for clause in ("2. Grant of Copyright License.", "3. Grant of Patent License.", "4. Redistribution.",
                   "9. Accepting Warranty or Additional Liability.", "END OF TERMS AND CONDITIONS"):
        assert clause in text, clause
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"


def runtime_closure() -> dict[str, md.Distribution]:
    """The installed distributions tollguard needs at run time: its requirements without extras, recursively.
    A requirement under another marker (python_version, sys_platform) is followed when it is installed."""
    dists = {canonical(d.metadata["Name"]): d for d in md.distributions()}
    if "tollguard" not in dists:
        pytest.skip("tollguard is not installed in this environment (make venv installs it): no metadata to read")
    seen: dict[str, md.Distribution] = {}
    todo = ["tollguard"]
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen[name] = dists[name]
        for raw in dists[name].requires or []:
            spec, _, marker = raw.partition(";")
            if "extra" not in marker:
                todo.append(canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec).group(1)))
    seen.pop("tollguard")
    return seen


def declared(d: md.Distribution) -> str:
    m = d.metadata
    classifiers = [c for c in m.get_all("Classifier") or [] if c.startswith("License ::")]
    return " | ".join(filter(None, [m.get("License-Expression"), (m.get("License") or "")[:200], *classifiers]))


def test_no_runtime_dependency_is_copyleft_beyond_mpl():
    found = {n: declared(d) for n, d in runtime_closure().items() if COPYLEFT.search(declared(d))}
    assert not found, f"runtime dependencies under a GPL-family licence (see docs/licensing.md before adding): {found}"


def test_docs_licensing_lists_every_runtime_dependency():
    page = (ROOT / "docs" / "licensing.md").read_text()
    listed = set(re.findall(r"^\| runtime \| ([^ |]+) \|", page, flags=re.M))
    closure = runtime_closure()
    assert len(closure) >= 30
    missing = sorted(set(closure) - listed)
    assert not missing, f"docs/licensing.md has no row for these runtime dependencies (add each with its licence): " \
                        f"{missing}"


def _crates() -> list[tuple[str, str]]:
    lock = tomllib.loads((ROOT / "engine" / "Cargo.lock").read_text())
    return [(p["name"], p["version"]) for p in lock["package"] if p["name"] != "tollguard-engine"]


def _crate_licence(name: str, version: str) -> str | None:
    import os
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    for src in sorted((home / "registry" / "src").glob(f"*/{name}-{version}/Cargo.toml")):
        m = re.search(r'^license\s*=\s*"([^"]+)"', src.read_text(), re.M)
        return m.group(1) if m else None
    return None


def test_every_engine_crate_is_permissive_and_named_in_the_licensing_page():
    """The crates compiled into streams._engine (engine/Cargo.lock) carry no copyleft licence, and
    docs/licensing.md names each one with its licence, so a new crate is looked at (jiff came in as
    'Unlicense OR MIT' while the page still said every crate was 'MIT OR Apache-2.0')."""
    page = (ROOT / "docs" / "licensing.md").read_text()
    section = page[page.index("**The engine's Rust crates**"):page.index("## The GPL-licensed")]
    missing, copyleft, unread = [], [], []
    for name, version in _crates():
        licence = _crate_licence(name, version)
        if licence is None:
            unread.append(f"{name}-{version}")
            continue
        if COPYLEFT.search(licence):
            copyleft.append(f"{name}: {licence}")
        if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", section) or licence not in section:
            missing.append(f"{name} ({licence})")
    assert not unread, f"not in the local cargo registry (make venv builds the engine first): {unread}"
    assert not copyleft, copyleft
    assert not missing, f"docs/licensing.md's engine crates paragraph lacks: {missing}"
