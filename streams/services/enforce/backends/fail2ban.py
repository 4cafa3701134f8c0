"""``type: fail2ban``: ``fail2ban-client [-s SOCKET] set JAIL banip IP`` (and ``unbanip`` to lift).

fail2ban's client takes no per-ban duration: the jail's ``bantime`` decides when fail2ban lifts the
ban; tollguard still refuses actions that have already expired. The target must parse as an IP.
"""

from __future__ import annotations

import re

from streams.kafka.config import ConfigError
from streams.services.enforce.action import Action
from streams.services.enforce.steps import Exec
from streams.services.enforce.backends.base import Backend, option

NOT_BANNED = ("is not banned", "NOT banned")


class Fail2ban(Backend):
    TYPE = "fail2ban"
    OPTIONS = frozenset({"jail", "socket", "client", "timeout"})
    DEFAULT_KINDS = ("block_ip", "unblock")

    def configure(self, raw: dict, where: str) -> None:
        self.jail = option(raw, "jail", str, ConfigError, where)
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", self.jail):
            raise ConfigError(f"{where}: `jail` must be a jail name, not {self.jail!r}")
        socket = option(raw, "socket", str, None, where)
        self.client = (option(raw, "client", str, "fail2ban-client", where),) + (("-s", socket) if socket else ())
        self.timeout = option(raw, "timeout", float, 10.0, where)

    def plan(self, action: Action, until: float | None, now: float) -> list:
        ip = str(self.ip_target(action))
        verb = "unbanip" if action.kind == "unblock" else "banip"
        return [Exec(self.client + ("set", self.jail, verb, ip), timeout=self.timeout,
                     ok_stderr=NOT_BANNED if verb == "unbanip" else ())]
