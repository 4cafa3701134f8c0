"""The backends ``enforce.yaml`` may name, by ``type``."""

from __future__ import annotations

from streams.kafka.config import ConfigError
from streams.services.enforce.neverblock import NeverBlock
from streams.services.enforce.backends.base import COMMON, NAME, Backend, Refused, Retry, kinds_option, never_option, option
from streams.services.enforce.backends.command import Command
from streams.services.enforce.backends.fail2ban import Fail2ban
from streams.services.enforce.backends.nft import Nftables
from streams.services.enforce.backends.webhook import Webhook

TYPES = {b.TYPE: b for b in (Nftables, Fail2ban, Command, Webhook)}

__all__ = ["TYPES", "Backend", "Refused", "Retry", "build", "retry_option"]


def build(raw, index: int, default_retry: Retry, guard: NeverBlock | None = None) -> Backend:
    """One backend from its YAML mapping; :class:`ConfigError` names the entry and the problem. ``guard``:
    the top-level never-block list, to which the backend's own ``never_block`` is added."""
    where = f"backends[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping with name and type")
    name = option(raw, "name", str, ConfigError, where)
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: `name` must be 1-64 letters, digits, '_', '.', '-', not {name!r}")
    where = f"backend {name!r}"
    cls = TYPES.get(raw.get("type"))
    if cls is None:
        raise ConfigError(f"{where}: `type` must be one of {', '.join(TYPES)}, not {raw.get('type')!r}")
    unknown = sorted(set(raw) - COMMON - cls.OPTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}; {cls.TYPE} takes "
                          + ", ".join(sorted(COMMON | cls.OPTIONS)))
    if not cls.DEFAULT_KINDS and "kinds" not in raw:
        raise ConfigError(f"{where}: a {cls.TYPE} backend needs `kinds` (which actions it carries out)")
    tenants = option(raw, "tenants", list, None, where)
    if tenants is not None and not all(isinstance(t, str) for t in tenants):
        raise ConfigError(f"{where}: `tenants` must be a list of tenant names")
    backend = cls(name, kinds_option(raw, cls.DEFAULT_KINDS, where), tuple(tenants) if tenants else None,
                  retry_option(raw.get("retry"), default_retry, where),
                  (guard or NeverBlock()).plus(never_option(raw, where)))
    backend.configure(raw, where)
    return backend


def retry_option(raw, default: Retry, where: str) -> Retry:
    if raw is None:
        return default
    if not isinstance(raw, dict) or set(raw) - {"attempts", "backoff_s", "max_backoff_s"}:
        raise ConfigError(f"{where}: `retry` takes attempts, backoff_s, max_backoff_s")
    attempts = option(raw, "attempts", int, default.attempts, where)
    backoff = option(raw, "backoff_s", float, default.backoff_s, where)
    cap = option(raw, "max_backoff_s", float, default.max_backoff_s, where)
    if attempts < 1 or backoff < 0 or cap < 0:
        raise ConfigError(f"{where}: `retry` attempts must be ≥ 1, backoffs ≥ 0")
    return Retry(attempts, backoff, cap)
