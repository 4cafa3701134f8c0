"""``type: nftables``: block IPs by adding them to a named set with a timeout; the kernel lifts them.

Runs the ``nft`` program with argv lists (no shell). Not the python ``nftables`` bindings: they come
from the distribution's python3-nftables package, bound to the system interpreter, not installable
into a virtualenv from PyPI; the program is on every host that has nftables. ``nft`` joins its
arguments and parses them as one command line, so the target reaching it is always the text of an
:mod:`ipaddress` object (never the raw topic value), and table, set and chain names are checked
against nft's identifier syntax when the configuration is read.
"""

from __future__ import annotations

import ipaddress
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
    OPTIONS = frozenset({"family", "table", "set", "set6", "chain", "create", "netns", "nft", "timeout", "country_set"})
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
        self.countries = None
        if raw.get("country_set") is not None:
            if self.family == "ip6":
                raise ConfigError(f"{where}: `country_set` is an IPv4 set; family ip6 has none")
            self.countries = CountrySet.configure(raw["country_set"], self, where)

    def _exec(self, *args: str, stdin: str | None = None, ok: tuple = ()) -> Exec:
        return Exec(self.prefix + (self.nft, *args), timeout=self.timeout, stdin=stdin, ok_stderr=ok)

    def setup(self) -> list:
        """With ``create: true``: table, sets and chain if missing (``add`` is idempotent), then the
        drop rules, only those the chain does not already have (``add rule`` is not)."""
        steps = [self._exec("-f", "-", stdin=self.setup_script())] if self.create else []
        if self.countries is not None:
            steps.append(self.countries)
        return steps + [RuleCheck(self)] if steps else []

    def setup_script(self) -> str:
        lines = [f"add table {self.family} {self.table}"]
        for v, s in self.sets.items():
            lines.append(f"add set {self.family} {self.table} {s} {{ type ipv{v}_addr; flags timeout; }}")
        lines.append(f"add chain {self.family} {self.table} {self.chain} "
                     "{ type filter hook input priority filter - 10; policy accept; }")
        return "\n".join(lines) + "\n"

    def rule(self, version: int) -> str:
        return f"add rule {self.family} {self.table} {self.chain} ip{'' if version == 4 else '6'} saddr @{self.sets[version]} drop"

    def rules(self) -> list[tuple[str, str]]:
        """``(what a listing of the chain shows when it is there, the command adding it)`` per drop rule."""
        out = [(f"@{s} drop", self.rule(v)) for v, s in self.sets.items() if self.create]
        if self.countries is not None:
            out.append(self.countries.rule())
        return out

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
        rules = "; ".join(r for _, r in b.rules())
        return f"{b._exec('list', 'chain', b.family, b.table, b.chain).describe()}, then for each rule missing: {rules}"

    def run(self) -> str:
        b = self.backend
        listing = b._exec("list", "chain", b.family, b.table, b.chain).run()
        missing = [rule for shown, rule in b.rules() if shown not in listing]
        if missing:
            b._exec("-f", "-", stdin="\n".join(missing) + "\n").run()
        return f"{len(missing)} rule(s) added"


class CountrySet:
    """A setup step: the policy's Allowed Country IPs as one nftables interval set of every IPv4 network
    registered to *another* country (iptocc's data, :func:`streams.reference.countries.denied_networks4`),
    replaced in one transaction, and a rule dropping new connections from it. Replies to connections this
    host opened are let through; the tenant's LAN and static-accept networks, the never-block networks and
    this host's addresses are carved out of the set."""

    KEYS = frozenset({"policy", "tenant", "set"})

    def __init__(self, backend: Nftables, allowed: frozenset, exempt: tuple, name: str, source: str):
        self.backend, self.allowed, self.exempt, self.name, self.source = backend, allowed, exempt, name, source

    @classmethod
    def configure(cls, raw, backend: Nftables, where: str) -> "CountrySet":
        if not isinstance(raw, dict) or set(raw) - cls.KEYS or "policy" not in raw:
            raise ConfigError(f"{where}: `country_set` takes policy (the policy file, required), tenant, set")
        path = option(raw, "policy", str, ConfigError, where)
        tenant = option(raw, "tenant", str, None, where)
        from streams.policy.loader import Policy, PolicyError
        try:
            policy = Policy.load(path)
        except OSError as exc:
            raise ConfigError(f"{where}: country_set: cannot read the policy {path}: {exc.strerror}") from None
        except PolicyError as exc:
            raise ConfigError(f"{where}: country_set: the policy {path} is invalid: {'; '.join(exc.problems)}") from None
        if tenant is not None and tenant not in policy._tenants:
            raise ConfigError(f"{where}: country_set: the policy {path} has no tenant {tenant!r}")
        t = policy.tenant(tenant or "default")
        if t.allowed_country_ips is None:
            raise ConfigError(f"{where}: country_set: the policy {path} leaves `allowed_country_ips` off"
                              + (f" for tenant {tenant!r}" if tenant else ""))
        if t.settings.country_ip_block != "set":
            raise ConfigError(f"{where}: country_set: the policy {path} has `country_ip_block: address`; set it to "
                              "`set` so the detector stops ordering one block per address (docs/enforce.md)")
        return cls(backend, frozenset(t.allowed_country_ips), tuple(t.lan) + tuple(t.accept),
                   _ident(raw, "set", "countries4", where), path)

    def carved_out(self) -> list:
        guard = self.backend.guard
        host = [ipaddress.ip_network(a) for a in guard.host.current()]
        return [n for n in (*self.exempt, *guard.extra, *host) if n.version == 4]

    def script(self, networks: list) -> str:
        b = self.backend
        where = f"{b.family} {b.table} {self.name}"
        lines = [f"add set {where} {{ type ipv4_addr; flags interval; }}", f"flush set {where}"]
        for i in range(0, len(networks), 4096):
            lines.append(f"add element {where} {{ {', '.join(map(str, networks[i:i + 4096]))} }}")
        return "\n".join(lines) + "\n"

    def rule(self) -> tuple[str, str]:
        b = self.backend
        return f"@{self.name} ct state new drop", f"add rule {b.family} {b.table} {b.chain} ip saddr @{self.name} ct state new drop"

    def describe(self) -> str:
        return (f"build the IPv4 networks of every country but {', '.join(sorted(self.allowed))} (policy {self.source}), "
                f"then {self.backend._exec('-f', '-').describe()} with stdin: add set, flush set, add element … "
                f"{self.backend.family} {self.backend.table} {self.name}")

    def run(self) -> str:
        from streams.reference.countries import denied_networks4
        networks = denied_networks4(self.allowed, self.carved_out())
        b = self.backend
        Exec(b.prefix + (b.nft, "-f", "-"), timeout=max(b.timeout, 120.0), stdin=self.script(networks)).run()
        return f"country set {self.name}: {len(networks)} networks outside {', '.join(sorted(self.allowed))}"


def _ident(raw: dict, key: str, default: str, where: str) -> str:
    value = option(raw, key, str, default, where)
    if not IDENT.fullmatch(value):
        raise ConfigError(f"{where}: `{key}` must be an nft identifier (letter, then letters, digits, _), not {value!r}")
    return value
