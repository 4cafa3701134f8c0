"""``type: nftables``: block IPs by adding them to a named set with a timeout; the kernel lifts them.

Runs the ``nft`` program with argv lists (no shell). Not the python ``nftables`` bindings: they come
from the distribution's python3-nftables package, bound to the system interpreter, not installable
into a virtualenv from PyPI; the program is on every host that has nftables. ``nft`` joins its
arguments and parses them as one command line, so the target reaching it is always the text of an
:mod:`ipaddress` object (never the raw topic value), and table, set and chain names are checked
against nft's identifier syntax when the configuration is read.
"""

from __future__ import annotations

import re

from streams.kafka.config import ConfigError
from streams.services.enforce.action import Action
from streams.services.enforce.steps import Exec
from streams.services.enforce.backends.base import Backend, Refused, option

IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
FAMILIES = {"inet": (4, 6), "ip": (4,), "ip6": (6,)}
ABSENT = ("No such file or directory",)  # deleting an element that is not there: already lifted


class Nftables(Backend):
    TYPE = "nftables"
    OPTIONS = frozenset({"family", "table", "set", "set6", "chain", "create", "netns", "nft", "timeout"})
    DEFAULT_KINDS = ("block_ip", "unblock")

    def configure(self, raw: dict, where: str) -> None:
        self.family = option(raw, "family", str, "inet", where)
        if self.family not in FAMILIES:
            raise ConfigError(f"{where}: `family` must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        self.table = _ident(raw, "table", "tollguard", where)
        self.sets = {4: _ident(raw, "set", "blocked4", where), 6: _ident(raw, "set6", "blocked6", where)}
        self.sets = {v: s for v, s in self.sets.items() if v in FAMILIES[self.family]}
        self.chain = _ident(raw, "chain", "input", where)
        self.create = option(raw, "create", bool, False, where)
        netns = option(raw, "netns", str, None, where)
        if netns is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", netns):
            raise ConfigError(f"{where}: `netns` must be a network namespace name, not {netns!r}")
        self.prefix = ("ip", "netns", "exec", netns) if netns else ()
        self.nft = option(raw, "nft", str, "nft", where)
        self.timeout = option(raw, "timeout", float, 10.0, where)

    def _exec(self, *args: str, stdin: str | None = None, ok: tuple = ()) -> Exec:
        return Exec(self.prefix + (self.nft, *args), timeout=self.timeout, stdin=stdin, ok_stderr=ok)

    def setup(self) -> list:
        """With ``create: true``: table, sets and chain if missing (``add`` is idempotent), then the
        drop rules, only those the chain does not already have (``add rule`` is not)."""
        if not self.create:
            return []
        return [self._exec("-f", "-", stdin=self.setup_script()), RuleCheck(self)]

    def setup_script(self) -> str:
        lines = [f"add table {self.family} {self.table}"]
        for v, s in self.sets.items():
            lines.append(f"add set {self.family} {self.table} {s} {{ type ipv{v}_addr; flags timeout; }}")
        lines.append(f"add chain {self.family} {self.table} {self.chain} "
                     "{ type filter hook input priority filter - 10; policy accept; }")
        return "\n".join(lines) + "\n"

    def rule(self, version: int) -> str:
        return f"add rule {self.family} {self.table} {self.chain} ip{'' if version == 4 else '6'} saddr @{self.sets[version]} drop"

    def plan(self, action: Action, until: float | None, now: float) -> list:
        ip = self.ip_target(action)
        if ip.version not in self.sets:
            raise Refused(f"an IPv{ip.version} address, and family {self.family} has no set for it")
        where = (self.family, self.table, self.sets[ip.version])
        if action.kind == "unblock":
            return [self._exec("delete", "element", *where, "{", str(ip), "}", ok=ABSENT)]
        left = action.remaining(now, until)
        element = (str(ip),) if left is None else (str(ip), "timeout", f"{left}s")
        return [self._exec("add", "element", *where, "{", *element, "}")]


class RuleCheck:
    """A setup step: list the chain, add each drop rule it lacks."""

    def __init__(self, backend: Nftables):
        self.backend = backend

    def describe(self) -> str:
        b = self.backend
        rules = "; ".join(b.rule(v) for v in b.sets)
        return f"{b._exec('list', 'chain', b.family, b.table, b.chain).describe()}, then for each rule missing: {rules}"

    def run(self) -> str:
        b = self.backend
        listing = b._exec("list", "chain", b.family, b.table, b.chain).run()
        missing = [b.rule(v) for v, s in b.sets.items() if f"@{s} drop" not in listing]
        if missing:
            b._exec("-f", "-", stdin="\n".join(missing) + "\n").run()
        return f"{len(missing)} rule(s) added"


def _ident(raw: dict, key: str, default: str, where: str) -> str:
    value = option(raw, key, str, default, where)
    if not IDENT.fullmatch(value):
        raise ConfigError(f"{where}: `{key}` must be an nft identifier (letter, then letters, digits, _), not {value!r}")
    return value
