"""``type: webhook``: send the action as JSON to a PBX or SBC HTTP API; a non-2xx answer is a failure.

The body is the action record (with ``from_ip``: the source a ``lock_account`` applies to, null for a
whole-account lock) plus ``remaining_s`` and ``until``; a ``block_ip`` target and any ``from_ip`` are
checked against the never-block list first, as every backend does. The ``Idempotency-Key`` header is
the action id, so an API that honours it ignores a repeat. A bearer token is read from
``token_file`` (never from the YAML itself, never shown by ``--dry-run``).
"""

from __future__ import annotations

from pathlib import Path

from streams.kafka.config import ConfigError
from streams.services.enforce.action import Action
from streams.services.enforce.steps import Http
from streams.services.enforce.backends.base import Backend, option
from streams.services.enforce.backends.command import fields


class Webhook(Backend):
    TYPE = "webhook"
    OPTIONS = frozenset({"url", "method", "headers", "token_file", "timeout"})
    DEFAULT_KINDS = ()

    def configure(self, raw: dict, where: str) -> None:
        self.url = option(raw, "url", str, ConfigError, where)
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: `url` must be an http:// or https:// URL")
        self.method = option(raw, "method", str, "POST", where).upper()
        if self.method not in ("POST", "PUT", "PATCH"):
            raise ConfigError(f"{where}: `method` must be POST, PUT or PATCH")
        headers = option(raw, "headers", dict, {}, where)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError(f"{where}: `headers` must map names to strings")
        self.headers = dict(headers)
        self.secret = ()
        token_file = option(raw, "token_file", str, None, where)
        if token_file:
            self.headers["Authorization"] = f"Bearer {_read(token_file, where)}"
            self.secret = ("Authorization",)
        self.timeout = option(raw, "timeout", float, 5.0, where)

    def plan(self, action: Action, until: float | None, now: float) -> list:
        target, from_ip = self.addresses(action)
        f = fields(action, until, now, target, from_ip)
        body = {**action.as_dict(), "target": target, "from_ip": from_ip, "remaining_s": int(f["remaining_s"]) if f["remaining_s"] else None,
                "until": f["until"] or None}
        headers = {**self.headers, "Idempotency-Key": action.action_id}
        return [Http(self.method, self.url, body, headers, self.timeout, self.secret)]


def _read(path: str, where: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: `token_file`: cannot read {path}: {exc.strerror}") from None
