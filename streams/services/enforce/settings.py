"""``enforce.yaml``: the backends, the retry policy, the never-block list and the state file (docs/enforce.md).

Read as every operator file is (:mod:`streams.policy.yamlfile`: no aliases, no key twice, each problem
with ``file:line``); a backend's mistake names the line its entry starts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.kafka.config import ConfigError
from streams.policy.yamlfile import YamlFileError, line_of, load_path
from streams.services.enforce.backends import Backend, Retry, build, retry_option
from streams.services.enforce.neverblock import NeverBlock

TOP = frozenset({"backends", "retry", "state", "group", "never_block", "unsafe_allow_block"})


@dataclass
class Settings:
    backends: list[Backend]
    retry: Retry
    state: str | None = None
    group: str | None = None  # consumer group; default <prefix>-enforce (one group per firewall managed)
    never: NeverBlock = field(default_factory=NeverBlock)  # the top-level never-block list

    @classmethod
    def load(cls, path: str) -> "Settings":
        try:
            raw, lines = load_path(path)
        except YamlFileError as exc:
            raise ConfigError("; ".join(exc.problems)) from None
        return cls.parse(raw, str(path), lines)

    @classmethod
    def parse(cls, raw, where: str = "enforce.yaml", lines: dict | None = None, host=None) -> "Settings":
        """``host``: reads this host's addresses (default: :func:`.neverblock.host_addresses`; tests inject)."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping with `backends`")
        unknown = sorted(set(raw) - TOP)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TOP))}")
        retry = retry_option(raw.get("retry"), Retry(), where)
        never = NeverBlock.configure(raw, lambda key: _at(where, lines, key), host)
        entries = raw.get("backends")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: `backends` must be a non-empty list")
        backends = [_build(b, i, retry, never, where, lines) for i, b in enumerate(entries)]
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
        return cls(backends, retry, state, group, never)


def _at(where: str, lines: dict | None, *path: str) -> str:
    """``file:line`` of a key when the file's lines are known, else just the file."""
    return f"{where}:{line_of(lines, path)}" if lines is not None else where


def _build(raw, index: int, retry: Retry, never: NeverBlock, where: str, lines: dict | None) -> Backend:
    try:
        return build(raw, index, retry, never)
    except ConfigError as exc:
        raise ConfigError(f"{_at(where, lines, 'backends', str(index))}: {exc}") from None
