"""``enforce.yaml``: the backends, the retry policy and the state file (docs/enforce.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import ConfigError
from .backends import Backend, Retry, build, retry_option

TOP = frozenset({"backends", "retry", "state", "group"})


@dataclass
class Settings:
    backends: list[Backend]
    retry: Retry
    state: str | None = None
    group: str | None = None  # consumer group; default <prefix>-enforce (one group per firewall managed)

    @classmethod
    def load(cls, path: str) -> "Settings":
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not YAML: {str(exc).splitlines()[0]}") from None
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw, where: str = "enforce.yaml") -> "Settings":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping with `backends`")
        unknown = sorted(set(raw) - TOP)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TOP))}")
        retry = retry_option(raw.get("retry"), Retry(), where)
        entries = raw.get("backends")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: `backends` must be a non-empty list")
        backends = [build(b, i, retry) for i, b in enumerate(entries)]
        names = [b.name for b in backends]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"{where}: backend names must be unique: {', '.join(dup)}")
        state = raw.get("state")
        if state is not None and not isinstance(state, str):
            raise ConfigError(f"{where}: `state` must be a file path")
        group = raw.get("group")
        if group is not None and not (isinstance(group, str) and group.strip()):
            raise ConfigError(f"{where}: `group` must be a consumer group name")
        return cls(backends, retry, state, group)
