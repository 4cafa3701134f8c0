"""notify.yaml: channels and their routing, checked by pydantic; errors name ``file:line: field``.

Read as every operator file is (:mod:`streams.policy.yamlfile`): no aliases, no key given twice.

Secrets never sit in the file: ``url_env``, ``urls_env`` and ``password_env`` name environment
variables, and ``${VAR}`` in any string is replaced by the variable's value. Every value that
came from the environment, and every webhook or apprise URL and header value, is handed to the
:class:`~streams.services.notify.secrets.Redactor`, so no log line or error shows it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.kafka.config import ConfigError
from streams.policy.yamlfile import YamlFileError, line_of, load_path
from streams.services.notify.secrets import Redactor

SEVERITIES = ("information", "warning", "alert", "critical")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
Severity = Literal["information", "warning", "alert", "critical"]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempts: int = Field(5, ge=1, le=100, description="tries of one message before the channel is declared failing")
    initial_s: float = Field(1.0, gt=0, description="first wait between tries")
    max_s: float = Field(60.0, gt=0, description="longest wait between tries")
    factor: float = Field(2.0, ge=1.0)


class ChannelBase(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    min_severity: Severity = "information"
    tenants: list[str] | None = None
    rules: list[str] | None = None
    records: list[Literal["incidents", "alerts"]] = Field(default_factory=lambda: ["incidents"], min_length=1)
    digest_seconds: float = Field(300.0, ge=0)
    max_per_minute: int = Field(30, ge=1)
    timeout_s: float = Field(10.0, gt=0)
    retry: Retry = Field(default_factory=Retry)


class WebhookChannel(ChannelBase):
    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    markup: Literal["markdown", "slack"] = "markdown"   # how ``text`` is escaped (streams/services/notify/chat.py)

    @model_validator(mode="after")
    def _one_url(self):
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url and url_env")
        return self


class EmailChannel(ChannelBase):
    type: Literal["email"]
    smtp: str = Field(description="host:port")
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _login(self):
        _host_port(self.smtp)
        if self.password_env and not self.username:
            raise ValueError("password_env needs username")
        if self.ssl and self.starttls:
            raise ValueError("ssl (SMTPS) and starttls exclude each other: set starttls: false")
        return self


class SyslogChannel(ChannelBase):
    type: Literal["syslog"]
    address: str = Field(description="host:port")
    protocol: Literal["udp", "tcp"] = "udp"
    format: Literal["rfc5424", "cef"] = "rfc5424"
    framing: Literal["octet-counting", "newline"] = "octet-counting"
    facility: int = Field(20, ge=0, le=23, description="20 = local4")
    app_name: str = Field("tollguard", pattern=r"^[!-~]{1,48}$")
    max_per_minute: int = Field(600, ge=1)

    @model_validator(mode="after")
    def _address(self):
        _host_port(self.address)
        return self


class AppriseChannel(ChannelBase):
    type: Literal["apprise"]
    urls: list[str] = Field(default_factory=list)
    urls_env: str | None = None
    markup: Literal["markdown", "text"] = "markdown"    # how title and body are escaped (streams/services/notify/chat.py)

    @model_validator(mode="after")
    def _some_url(self):
        if not self.urls and not self.urls_env:
            raise ValueError("give urls or urls_env")
        return self


Channel = Annotated[Union[WebhookChannel, EmailChannel, SyslogChannel, AppriseChannel], Field(discriminator="type")]


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Channel] = Field(min_length=1)
    start: Literal["earliest", "latest"] = "earliest"
    group: str | None = None
    commit_interval_s: float = Field(1.0, gt=0)
    session_timeout_s: float = Field(10.0, ge=6, le=300, description="how soon a crashed member's partitions move")
    park_file: str | None = None

    @model_validator(mode="after")
    def _unique(self):
        names = [c.name for c in self.channels]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"channel names must be unique: {', '.join(twice)}")
        return self


class Loaded:
    """The validated settings, the secrets resolved from the environment, and the redactor."""

    def __init__(self, settings: NotifySettings, secrets: dict[str, dict], redactor: Redactor, path: str):
        self.settings, self.secrets, self.redactor, self.path = settings, secrets, redactor, path

    @property
    def channels(self):
        return self.settings.channels


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be host:port, not {text!r}")
    return host.strip("[]"), int(port)


host_port = _host_port


def load(path: str, env: dict) -> Loaded:
    """Read, expand and validate ``path``; :class:`ConfigError` (``file:line: field: problem``) when it cannot
    work."""
    try:
        raw, lines = load_path(path)
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: must be a mapping with a channels: list")
    redactor = Redactor()
    raw = _expand(raw, env, path, "", (), lines, redactor)
    try:
        settings = NotifySettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(path, raw, lines, exc)) from None
    secrets = {c.name: _resolve(c, i, env, f"{path}:{line_of(lines, ('channels', str(i)))}", redactor)
               for i, c in enumerate(settings.channels)}
    return Loaded(settings, secrets, redactor, path)


def _expand(node, env: dict, path: str, where: str, key: tuple, lines: dict, redactor: Redactor):
    """``${VAR}`` replaced in every string; a variable that is not set is named with its ``file:line``."""
    if isinstance(node, dict):
        return {k: _expand(v, env, path, f"{where}.{k}" if where else str(k), key + (str(k),), lines, redactor)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, env, path, f"{where}[{i}]", key + (str(i),), lines, redactor) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name not in env:
            raise ConfigError(f"{path}:{line_of(lines, key)}: {where}: environment variable {name} is not set")
        redactor.add(env[name])
        return env[name]
    return _VAR.sub(value, node)


def _resolve(c, i: int, env: dict, path: str, redactor: Redactor) -> dict:
    """The channel's secrets: from ``*_env`` variables, or the URLs written in the file (redacted too)."""

    def need(field: str, var: str) -> str:
        if not env.get(var):
            raise ConfigError(f"{path}: channels[{i}] ({c.name}).{field}: environment variable {var} is not set")
        return env[var]
    out: dict = {}
    if isinstance(c, WebhookChannel):
        out["url"] = c.url or need("url_env", c.url_env)
        out["headers"] = dict(c.headers)
        redactor.add(out["url"], *c.headers.values())
    elif isinstance(c, EmailChannel):
        out["password"] = need("password_env", c.password_env) if c.password_env else None
        redactor.add(out["password"])
    elif isinstance(c, AppriseChannel):
        extra = need("urls_env", c.urls_env).replace(",", " ").split() if c.urls_env else []
        out["urls"] = list(c.urls) + extra
        redactor.add(*out["urls"])
    return out


def _explain(path: str, raw: dict, lines: dict, exc: ValidationError) -> str:
    """One ``file:line: channels[1] (name).field: problem`` per error; pydantic's input echo is left out
    (secrets)."""
    out = []
    for err in exc.errors():
        loc = list(err["loc"])
        line = line_of(lines, tuple(str(p) for p in loc))
        label = ""
        if len(loc) >= 2 and loc[0] == "channels" and isinstance(loc[1], int):
            chans = raw.get("channels") or []
            ch = chans[loc[1]] if loc[1] < len(chans) and isinstance(chans[loc[1]], dict) else {}
            if len(loc) >= 3 and loc[2] == ch.get("type"):
                del loc[2]  # the discriminator pydantic adds
                line = line_of(lines, tuple(str(p) for p in loc))
            label = f" ({ch.get('name')})" if ch.get("name") else ""
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        if label:
            head, _, rest = field.partition("]")
            field = f"{head}]{label}{rest}"
        out.append(f"{path}:{line}: {field or '(top)'}: {err['msg']}")
    return "\n".join(out)
