"""What every backend shares: a name, the kinds and tenants it acts on, and how it reads its options."""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.kafka.config import ConfigError
from streams.services.enforce.action import KINDS, Action
from streams.services.enforce.neverblock import IP, NeverBlock, NotAnAddress, Refused, networks, parse_address

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
COMMON = frozenset({"name", "type", "kinds", "tenants", "retry", "never_block"})

__all__ = ["Backend", "Refused", "Retry", "option", "kinds_option", "never_option"]


@dataclass(frozen=True)
class Retry:
    attempts: int = 4  # tries in all, the first included
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    def delay(self, failures: int) -> float:
        """Wait before the next try after ``failures`` failed ones: doubling, capped."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** max(0, failures - 1))


class Backend:
    """Plans the steps for an action; subclasses define ``TYPE``, ``OPTIONS`` and ``DEFAULT_KINDS``."""

    TYPE = ""
    OPTIONS: frozenset = frozenset()
    DEFAULT_KINDS: tuple = ()

    def __init__(self, name: str, kinds: tuple, tenants: tuple | None, retry: Retry, guard: NeverBlock | None = None):
        self.name, self.kinds, self.tenants, self.retry = name, kinds, tenants, retry
        self.guard = guard or NeverBlock()  # what may never be blocked (:mod:`..neverblock`)

    def handles(self, action: Action) -> bool:
        return action.kind in self.kinds and (self.tenants is None or action.tenant in self.tenants)

    def setup(self) -> list:
        """Steps run once before the first action (none by default)."""
        return []

    def plan(self, action: Action, until: float | None, now: float) -> list:
        """The steps that carry out ``action`` (a block lasting to ``until``), or :class:`Refused`."""
        raise NotImplementedError

    def ip_target(self, action: Action) -> IP:
        """The target as an address this backend may act on: a block's checked against the never-block
        list; an ``unblock``'s only parsed (lifting a block is always safe)."""
        if action.kind == "unblock":
            return parse_address(action.target)
        return self.guard.check(action.target)

    def addresses(self, action: Action) -> tuple[str, str | None]:
        """``(target, from_ip)`` as handed on by the command and webhook backends: a ``block_ip`` target
        and any ``from_ip`` checked like an address to block (its text normalised), an ``unblock`` of an
        address normalised, every other target as sent."""
        target = action.target
        if action.kind == "block_ip" or action.kind == "unblock" and _looks_ip(target):
            target = str(self.ip_target(action))
        from_ip = None if action.from_ip is None else str(self.guard.check(action.from_ip, "from_ip"))
        return target, from_ip


def option(raw: dict, key: str, kind, default=None, where: str = ""):
    """``raw[key]`` checked to be of ``kind`` (or the default when absent)."""
    if key not in raw or raw[key] is None:
        if default is ConfigError:
            raise ConfigError(f"{where}: `{key}` is required")
        return default
    value = raw[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: `{key}` must be {getattr(kind, '__name__', kind)}, not {value!r}")
    return value


def kinds_option(raw: dict, default: tuple, where: str) -> tuple:
    kinds = raw.get("kinds", list(default))
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise ConfigError(f"{where}: `kinds` must be a non-empty list of action kinds ({', '.join(KINDS)})")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ConfigError(f"{where}: unknown kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(KINDS)}")
    return tuple(kinds)


def never_option(raw: dict, where: str) -> tuple:
    """A backend's own ``never_block``: networks added, for it, to the top-level list."""
    return networks(raw.get("never_block"), "never_block", where)


def _looks_ip(text: str) -> bool:
    try:
        parse_address(text)
    except NotAnAddress:
        return False
    except Refused:  # an address with a scope id: refused when it is used
        pass
    return True
