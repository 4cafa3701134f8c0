"""Every YAML file an operator writes (policy, notify, enforce, a CSV map) is read one way.

Safe YAML without implicit dates and times (pydantic parses them, with a line for each error),
without aliases (``*name`` references are what a "billion laughs" bomb is built from: 430 bytes took
41 s and 3.5 GB), and without a key given twice in one mapping (YAML would let the last win silently).
Each refusal names ``file:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 * 1024 * 1024


class YamlFileError(ValueError):
    """A YAML file that cannot be read as written; ``problems`` are ``file:line: reason`` strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted; write the value out",
                                              mark)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_text(text: str, source: str, max_bytes: int = MAX_BYTES) -> tuple[Any, dict[tuple, int]]:
    """Parse ``text``; return the data (string keys) and the line of every mapping key and sequence item,
    by path (a tuple of keys and indexes as strings)."""
    if len(text) > max_bytes:
        raise YamlFileError([f"{source}:1: {len(text):,} bytes: at most {max_bytes:,} are read"])
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise YamlFileError([f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    lines: dict[tuple, int] = {}
    duplicates: list[str] = []

    def walk(n: Any, path: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = path + (str(k.value),)
                if key in lines:
                    duplicates.append(f"{source}:{k.start_mark.line + 1}: {'.'.join(key)}: given twice "
                                      f"(first on line {lines[key]}); YAML would keep only the last")
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                key = path + (str(i),)
                lines[key] = v.start_mark.line + 1
                walk(v, key)

    if node is not None:
        walk(node, ())
    if duplicates:
        raise YamlFileError(duplicates)
    return _str_keys(data), lines


def load_path(path: str | Path, max_bytes: int = MAX_BYTES) -> tuple[Any, dict[tuple, int]]:
    """Read and parse a file; an unreadable file is a ``YamlFileError`` naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError([f"{path}:1: cannot read: {exc}"]) from None
    return load_text(text, str(path), max_bytes)


def line_of(lines: dict[tuple, int], path: tuple) -> int:
    """The line of ``path``, or of its nearest recorded parent (1 when none is)."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1


def _str_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _str_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_str_keys(v) for v in obj]
    return obj
