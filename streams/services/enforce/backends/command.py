"""``type: command``: run a program (a PBX or SBC script) with the action's fields as arguments.

Each element of ``argv`` may hold placeholders, replaced by the action's values; the result is
passed to the program as that one argument, with no shell, so a target such as ``1.2.3.4; rm -rf /``
or ``$(id)`` arrives as that literal text. Placeholders: {kind} {target} {from_ip} (the source a
``lock_account`` applies to; empty for a whole-account lock) {tenant} {alert_id} {action_id} {reason}
{duration_s} (as sent; empty when until lifted) {remaining_s} (seconds left, rounded up; empty when
until lifted) {until} (RFC 3339; empty when until lifted). ``{{`` and ``}}`` are literal braces.
Exit status 0 is success. A ``block_ip`` target and any ``from_ip`` are checked against the
never-block list first (:meth:`Backend.addresses`), exactly as the firewall backends check theirs.
"""

from __future__ import annotations

import re

from streams.kafka.config import ConfigError
from streams.services.enforce.action import Action, iso
from streams.services.enforce.steps import Exec
from streams.services.enforce.backends.base import Backend, option

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
FIELDS = ("kind", "target", "from_ip", "tenant", "alert_id", "action_id", "reason", "duration_s", "remaining_s", "until")


class Command(Backend):
    TYPE = "command"
    OPTIONS = frozenset({"argv", "timeout"})
    DEFAULT_KINDS = ()  # must be configured: a script's job is not guessable

    def configure(self, raw: dict, where: str) -> None:
        argv = option(raw, "argv", list, ConfigError, where)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"{where}: `argv` must be a non-empty list of strings (program first)")
        for a in argv:
            check_template(a, where)
        if "{" in argv[0]:
            raise ConfigError(f"{where}: the program (argv[0]) may not hold placeholders")
        self.argv = tuple(argv)
        self.timeout = option(raw, "timeout", float, 30.0, where)

    def plan(self, action: Action, until: float | None, now: float) -> list:
        values = fields(action, until, now, *self.addresses(action))
        return [Exec(tuple(substitute(a, values) for a in self.argv), timeout=self.timeout)]


def fields(action: Action, until: float | None, now: float, target: str, from_ip: str | None) -> dict:
    """The placeholder values; ``target`` and ``from_ip`` as checked by :meth:`Backend.addresses`."""
    left = action.remaining(now, until)
    end = action.until if until is None else until
    return {"kind": action.kind, "target": target, "from_ip": from_ip or "", "tenant": action.tenant,
            "alert_id": action.alert_id,
            "action_id": action.action_id, "reason": action.reason,
            "duration_s": "" if action.duration_s is None else str(action.duration_s),
            "remaining_s": "" if left is None else str(left), "until": "" if end is None else iso(end)}


def check_template(text: str, where: str) -> None:
    for m in PLACEHOLDER.finditer(text):
        tok = m.group()
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None or m.group(1) not in FIELDS:
            raise ConfigError(f"{where}: {text!r} holds {tok!r}; placeholders are "
                              + " ".join("{%s}" % f for f in FIELDS) + " ({{ and }} for braces)")


def substitute(text: str, values: dict) -> str:
    """``text`` with each ``{field}`` replaced by its value, once (a value holding braces stays as it is)."""
    def one(m: re.Match) -> str:
        tok = m.group()
        return tok[0] if tok in ("{{", "}}") else values[m.group(1)]
    return PLACEHOLDER.sub(one, text)
