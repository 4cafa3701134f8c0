"""Every third-party module the project imports comes from a distribution pyproject.toml declares.

A package that only arrives because another one depends on it (aiohttp through faust-streaming) goes
away, or changes major version, the day that other package stops needing it; a fresh install then breaks
at run time. The walk reads every ``import`` in the code, scripts, benchmarks, notebooks and tests, and
maps each top-level module to the distributions that provide it in this environment
(``importlib.metadata.packages_distributions``).
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("streams", "models", "scripts", "bench", "notebooks", "tests")
PROJECT = "tollguard"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """The distributions pyproject.toml names: dependencies and every optional group."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        reqs += group
    return {_norm(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r).group(1)) for r in reqs} | {PROJECT}


def _source(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))  # IPython magics


def imports(path: Path) -> set[str]:
    """The top-level modules ``path`` imports absolutely (relative imports stay in the project)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(_source(path), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _local(module: str, path: Path) -> bool:
    """The project's own packages, or a sibling module of a script run from its directory."""
    return any((d / module).is_dir() or (d / f"{module}.py").is_file() for d in (ROOT, path.parent))


def undeclared() -> dict[str, list[str]]:
    """``module: [files]`` for every imported third-party module no declared distribution provides."""
    providers, ok = packages_distributions(), declared()
    missing: dict[str, list[str]] = {}
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if path.suffix not in (".py", ".ipynb") or ".ipynb_checkpoints" in path.parts:
                continue
            for module in imports(path):
                if module in sys.stdlib_module_names or module == "__future__" or _local(module, path):
                    continue
                if not {_norm(d) for d in providers.get(module, [])} & ok:
                    missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    return missing


def test_every_imported_package_is_declared():
    missing = undeclared()
    assert not missing, "imported but not declared in pyproject.toml (dependencies or an extra): " + "; ".join(
        f"{m} ({', '.join(files[:3])}{', …' if len(files) > 3 else ''}; provided by "
        f"{', '.join(packages_distributions().get(m, ['nothing installed']))})" for m, files in sorted(missing.items()))


def test_the_check_sees_an_undeclared_import(tmp_path):
    """The walk is not vacuous: a module that only a transitive dependency provides is reported."""
    script = tmp_path / "probe.py"
    script.write_text("import aiohttp.web\nfrom multidict import CIMultiDict\nfrom . import sibling\nimport json\n")
    assert imports(script) == {"aiohttp", "multidict", "json"}
    assert "multidict" not in declared()
    assert "multidict" in packages_distributions()     # installed (through aiohttp), yet undeclared


def pins() -> dict[str, str]:
    """constraints.txt as ``{normalized name: version}``."""
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return {_norm(n): v for n, _, v in (ln.partition("==") for ln in lines if ln and not ln.startswith("#"))}


def test_constraints_pin_every_declared_distribution_at_the_version_installed():
    """``make test`` installs with ``-c constraints.txt``: what the tests ran with is what the file says."""
    from importlib.metadata import PackageNotFoundError, version
    pinned = pins()
    assert not declared() - {PROJECT} - set(pinned), "declared in pyproject.toml, not pinned in constraints.txt"
    drift = {}
    for name in sorted(declared() - {PROJECT}):
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        if have != pinned[name]:
            drift[name] = (pinned[name], have)
    assert not drift, f"constraints.txt pins differ from this environment (pinned, installed): {drift}"
