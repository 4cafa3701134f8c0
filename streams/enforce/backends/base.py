"""What every backend shares: a name, the kinds and tenants it acts on, and how it reads its options."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ...config import ConfigError
from ..action import KINDS, Action

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
COMMON = frozenset({"name", "type", "kinds", "tenants", "retry"})
# never handed to a firewall, whatever the topic says: these would cut the host off from itself
NEVER = ("0.0.0.0/8", "127.0.0.0/8", "::/128", "::1/128", "224.0.0.0/4", "ff00::/8", "255.255.255.255/32")


class Refused(ValueError):
    """This backend will not act on this target (e.g. not an IP address); ``str()`` is the reason."""


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

    def __init__(self, name: str, kinds: tuple, tenants: tuple | None, retry: Retry):
        self.name, self.kinds, self.tenants, self.retry = name, kinds, tenants, retry

    def handles(self, action: Action) -> bool:
        return action.kind in self.kinds and (self.tenants is None or action.tenant in self.tenants)

    def setup(self) -> list:
        """Steps run once before the first action (none by default)."""
        return []

    def plan(self, action: Action, until: float | None, now: float) -> list:
        """The steps that carry out ``action`` (a block lasting to ``until``), or :class:`Refused`."""
        raise NotImplementedError


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


def ip_target(target: str, never: tuple = ()) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The target as one IP address (an IPv4-mapped IPv6 one as IPv4), or :class:`Refused`."""
    try:
        ip = ipaddress.ip_address(target)
    except ValueError:
        raise Refused("target is not an IP address") from None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for net in NEVER + tuple(never):
        if ip in ipaddress.ip_network(net):
            raise Refused(f"target is in {net}, which is never blocked")
    return ip


def never_option(raw: dict, where: str) -> tuple:
    """``never_block``: networks this backend must never block (added to :data:`NEVER`)."""
    nets = option(raw, "never_block", list, [], where)
    for n in nets:
        try:
            ipaddress.ip_network(n)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: `never_block` holds {n!r}, which is not an address or network") from None
    return tuple(nets)
