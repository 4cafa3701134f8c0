"""The dependency rule (docs/architecture.md), read from every import in the source, those inside
functions too: the detection core knows nothing of Kafka, the shells, the services or the commands,
and models/ imports no shell, service or command."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ("streams.core", "streams.domain", "streams.rules", "streams.state", "streams.policy", "streams.reference",
        "streams.intake")
LAYERS = {  # a layer may import only from the layers listed for it (and itself); models is the anomaly model
    "pure": {"pure", "models"},
    "models": {"pure", "models", "kafka"},  # the registry follows <prefix>.models
    "kafka": {"pure", "models", "kafka"},
    "shells": {"pure", "models", "kafka", "shells"},
    "services": {"pure", "models", "kafka", "shells", "services"},
    "commands": {"pure", "models", "kafka", "shells", "services", "commands", "audit"},
    "audit": {"pure", "audit"},  # tollguard audit: reads configuration files, judges them by the guide; no Kafka
}
# Run by people as `python -m models.assess` / `python -m models.shipped`: commands in all but their folder
# (they replay and simulate), kept beside the model they measure and make.
TOOLS = {"models.assess", "models.shipped"}


def layer(module: str) -> str | None:
    if module in TOOLS or module == "streams.cli" or module.startswith("streams.commands"):
        return "commands"
    if module == "models" or module.startswith("models."):
        return "models"
    if module.startswith(PURE):
        return "pure"
    for name in ("kafka", "shells", "services", "audit"):
        if module == f"streams.{name}" or module.startswith(f"streams.{name}."):
            return name
    return None  # streams itself (the version)


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, mod: str | None = None) -> set[str]:
    mod = mod or module_of(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # `from streams import replay` names a module
    return {m for m in out if m.split(".")[0] in ("streams", "models")}


def sources() -> list[Path]:
    return sorted(p for top in ("streams", "models") for p in (ROOT / top).rglob("*.py"))


def known(module: str) -> bool:
    path = ROOT / module.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_layer_imports_only_what_is_below_it():
    broken = []
    for path in sources():
        mine = layer(module_of(path))
        if mine is None:
            assert module_of(path) == "streams", f"{module_of(path)} is in no layer"
            continue
        for target in sorted(imports(path)):
            theirs = layer(target)
            if known(target) and theirs is not None and theirs not in LAYERS[mine]:
                broken.append(f"{module_of(path)} ({mine}) imports {target} ({theirs})")
    assert not broken, "\n".join(broken)


def test_the_layers_are_where_the_architecture_says():
    for package in (*PURE, "streams.kafka", "streams.shells", "streams.services", "streams.commands"):
        assert (ROOT / package.replace(".", "/") / "__init__.py").exists(), package
    flat = sorted(p.name for p in (ROOT / "streams").glob("*.py"))
    assert flat == ["__init__.py", "cli.py"], f"modules left in the hallway: {flat}"


def test_an_import_inside_a_function_counts(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from streams.kafka.config import Config\n    from ..shells import replay\n")
    found = imports(src, "streams.core.x")
    assert {"streams.kafka.config", "streams.shells.replay"} <= found
    assert {layer(m) for m in found} - LAYERS["pure"] == {"kafka", "shells"}


def test_every_command_has_one_home_with_its_help_arguments_and_main():
    import argparse
    from importlib import import_module

    from streams.cli import COMMANDS, build_parser
    for name in COMMANDS:
        command = import_module(f"streams.commands.{name}")
        assert command.HELP and callable(command.add_arguments) and callable(command.main), name
        command.add_arguments(argparse.ArgumentParser())  # arguments of their own, no other place needed
    listed = build_parser()._subparsers._group_actions[0].choices
    assert list(listed) == list(COMMANDS)
    # running one command builds only its own arguments
    only = build_parser(["replay", "x.jsonl"])._subparsers._group_actions[0].choices
    assert any(a.dest == "lateness" for a in only["replay"]._actions)
    assert not any(a.dest == "config" for a in only["notify"]._actions)


def test_no_function_outside_tests_is_over_60_lines_but_the_ones_named_here():
    allowed: dict[str, str] = {}  # "path:function": why it must be longer (none today)
    long = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                where = f"{path.relative_to(ROOT)}:{node.name}"
                if where not in allowed:
                    long.append(f"{where} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
