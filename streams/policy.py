"""The policy file: the guide's settings, per tenant, validated.

A policy is YAML. Its top-level keys are the settings of the default tenant; an optional
``tenants:`` mapping overrides any top-level key per tenant (a tenant not listed uses the
top level). Every key is documented in ``docs/policy.md`` and the commented example
``fixtures/policy.example.yaml``. A bad file is refused with ``file:line: key.path: reason``.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from typing_extensions import Annotated

from .numbers import number_plan
from .patterns import PatternError, compile_patterns
from .ruleids import RULE_IDS, SEVERITIES

Mode = Literal["enforce", "report", "off"]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_LAN = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fe80::/10", "fc00::/7", "::1/128"]

# Kamailio secfilter's user-agent blacklist plus tools seen in SIP scanning honeypots.
DEFAULT_SCANNER_USER_AGENTS = [
    "friendly-scanner", "sipcli", "sipvicious", "sip-scan", "sipscan", "sundayddr", "iwar", "sipsak",
    "vaxsipuseragent", "simplesip", "pplsip", "sipptk", "sip auditor", "smap", "cseq", "sivus",
    "gulp", "sipv", "voip-scan", "masscan", "nmap",
]

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _check_pattern(p: str) -> str:
    try:
        compile_patterns([p])
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    return p


NumberPattern = Annotated[str, AfterValidator(_check_pattern)]
RuleId = Literal[RULE_IDS]  # type: ignore[valid-type]


from .intake.meaning import CdrMeaning  # noqa: E402


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rate(Strict):
    """``calls`` allowed per ``seconds`` (more than ``calls`` fires)."""
    calls: int = Field(gt=0)
    seconds: float = Field(gt=0)


class Lockout(Strict):
    failures: int = Field(gt=0, description="failures from one IP within `seconds` that lock out (the N-th fires)")
    seconds: int = Field(gt=0)
    block_seconds: Optional[int] = Field(600, ge=0, description="block duration; null = permanent")
    lock_account: bool = True
    max_failures: Optional[int] = Field(None, gt=0, description="failures within max_seconds that ban permanently")
    max_seconds: int = Field(86400, gt=0)


class InboundProbes(Strict):
    """More than ``probes`` refused or unanswered inbound calls to unknown or international numbers from
    one source within ``seconds``: a scanner looking for an open route (rule inbound_probe)."""
    probes: int = Field(3, gt=0)
    seconds: int = Field(3600, gt=0)


class DistributedLockout(Strict):
    """More than ``failures`` failed registrations and logins across a tenant within ``seconds``, from at
    least ``sources`` addresses against at least ``accounts`` accounts: a spread-out brute force."""
    failures: int = Field(100, gt=0)
    seconds: int = Field(600, gt=0)
    sources: int = Field(10, gt=1)
    accounts: int = Field(5, gt=0)


class AutoDefenseRule(Strict):
    name: Optional[str] = None
    service: str
    protocol: Literal["udp", "tcp", "tls", "both"] = "both"
    port: Optional[int] = Field(None, ge=0, le=65535)
    packets: int = Field(gt=0)
    seconds: float = Field(gt=0)
    block_seconds: Optional[int] = Field(600, ge=0)


class StaticRule(Strict):
    name: str
    source: str
    action: Literal["accept", "drop", "reject"]

    @field_validator("source")
    @classmethod
    def _net(cls, v: str) -> str:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {v!r}") from None
        return v


class TrunkPolicy(Strict):
    max_concurrent_calls: int = Field(30, gt=0)


class RoutePolicy(Strict):
    extensions: Optional[list[str]] = None
    pin: bool = False
    time_condition: Literal["always", "business_hours"] = "always"


class RuleSetting(Strict):
    mode: Mode = "enforce"
    severity: Optional[Severity] = None

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, v: Any) -> Any:
        return "off" if v is False else v  # YAML 1.1 reads an unquoted `off` as false


class PinFailures(Strict):
    failures: int = Field(5, gt=0)
    seconds: int = Field(600, gt=0)


class ExtensionPolicy(Strict):
    international: Optional[bool] = None
    outside_business_hours: Optional[bool] = None
    outbound: Optional[bool] = None
    max_outbound_duration: Optional[int] = Field(None, gt=0)
    call_frequency: Optional[Rate] = None
    daily_calls: Optional[int] = Field(None, gt=0)
    sequential_calls: Optional[int] = Field(None, gt=1)
    concurrent_registrations: Optional[int] = Field(None, gt=0)
    user_agents: Optional[list[str]] = None
    permitted_ips: Optional[list[Network]] = None
    remote_registration: Optional[bool] = None


class PrivacySetting(Strict):
    """What tollguard writes for people is pseudonymised (streams/privacy.py); detection uses clear values."""
    mask_numbers: Literal["none", "last4", "all"] = "none"
    hash_ips: bool = False
    salt_env: str = Field("TOLLGUARD_PII_SALT", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class RemoteRegistration(Strict):
    access: Literal["allowed", "restricted"] = "restricted"
    accounts: list[str] = []
    permitted_ips: list[Network] = []


class TenantPolicy(Strict):
    timezone: str = "UTC"
    home_country: str = "US"
    international_prefix: list[str] = ["011", "+"]
    national_prefix: Optional[str] = "1"
    strip_prefixes: list[str] = []
    lan: list[Network] = Field(default_factory=lambda: [ipaddress.ip_network(n) for n in DEFAULT_LAN])
    allowed_countries: Optional[list[str]] = None
    allowed_country_ips: Optional[list[str]] = None
    business_hours: dict[str, list[str]] = {}
    holidays: list[date] = []
    blocked_numbers: list[NumberPattern] = []
    unparseable_numbers: Literal["alert", "block", "ignore"] = "alert"
    max_call_duration: int = Field(10800, gt=0)
    call_frequency: Rate = Rate(calls=5, seconds=1)
    daily_calls: int = Field(500, gt=0)
    sequential_calls: Rate = Rate(calls=10, seconds=3600)
    pin_failures: PinFailures = PinFailures()
    registration_lockout: Lockout = Lockout(failures=10, seconds=600, block_seconds=600, lock_account=True)
    login_lockout: Lockout = Lockout(failures=5, seconds=600, block_seconds=600, lock_account=False,
                                     max_failures=20, max_seconds=86400)
    distributed_lockout: DistributedLockout = DistributedLockout()
    inbound_probes: InboundProbes = InboundProbes()
    auto_defense: list[AutoDefenseRule] = [
        AutoDefenseRule(name="ssh", service="ssh", protocol="tcp", packets=10, seconds=60),
        AutoDefenseRule(name="udp", service="sip", protocol="udp", packets=40, seconds=2),
        AutoDefenseRule(name="tcp", service="sip", protocol="tcp", packets=40, seconds=2),
        AutoDefenseRule(name="http", service="http", packets=120, seconds=60),
        AutoDefenseRule(name="https", service="https", packets=120, seconds=60),
    ]
    static_defense: list[StaticRule] = []
    scanner_user_agents: list[str] = DEFAULT_SCANNER_USER_AGENTS
    scanner_block_seconds: Optional[int] = Field(604800, ge=0)
    remote_registration: Optional[RemoteRegistration] = None
    registration_ttl: int = Field(3600, gt=0, description="a registration counts as active this long")
    block_seconds: Optional[int] = Field(3600, ge=0, description="default block duration for IP rules")
    outbound_bar_seconds: Optional[int] = Field(3600, ge=0, description="disable_outbound duration")
    incident_seconds: int = Field(3600, gt=0, description="repeat detections within this are one incident")
    trunks: dict[str, TrunkPolicy] = {}
    default_trunk: TrunkPolicy = TrunkPolicy()
    routes: dict[str, RoutePolicy] = {}
    rules: dict[RuleId, RuleSetting] = {}
    extensions: dict[str, ExtensionPolicy] = {}
    privacy: Optional[PrivacySetting] = None
    cdr: CdrMeaning = CdrMeaning()  # what CDR export columns mean (streams/intake/meaning.py)

    @field_validator("privacy")
    @classmethod
    def _salt(cls, v: Optional[PrivacySetting]) -> Optional[PrivacySetting]:
        from .privacy import from_policy
        from_policy(v)  # a hashing policy without its secret is refused when it is loaded, not at the first alert
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("home_country")
    @classmethod
    def _home(cls, v: str) -> str:
        v = v.upper()
        if phonenumbers.country_code_for_region(v) == 0:
            raise ValueError(f"not an ISO 3166 alpha-2 region libphonenumber knows: {v!r}")
        return v

    @field_validator("international_prefix", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("allowed_countries", "allowed_country_ips")
    @classmethod
    def _countries(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is None:
            return v
        out = []
        for c in v:
            if not re.fullmatch(r"[A-Za-z]{2}", c):
                raise ValueError(f"not an ISO 3166 alpha-2 code: {c!r}")
            out.append(c.upper())
        return out

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for days, spans in v.items():
            _parse_days(days)
            for span in spans:
                _parse_span(span)
        return v


def _parse_days(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f"bad day range {part!r} (use mon..sun, e.g. mon-fri)")
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in WEEKDAYS:
            out.append(WEEKDAYS.index(part))
        else:
            raise ValueError(f"bad day {part!r} (use mon..sun, e.g. mon-fri or sat)")
    return out


def _parse_span(span: str) -> tuple[time, time]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(span))
    if not m:
        raise ValueError(f"bad time span {span!r} (use \"HH:MM-HH:MM\")")
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"bad time span {span!r}")
    end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
    if end <= time(h1, m1):
        raise ValueError(f"span {span!r} ends before it starts")
    return time(h1, m1), end


class ExtSettings:
    """Effective settings of one extension: its entry over ``extensions.defaults`` over tenant defaults."""

    __slots__ = ("international", "outside_business_hours", "outbound", "max_outbound_duration", "call_frequency",
                 "daily_calls", "sequential_calls", "concurrent_registrations", "user_agents", "permitted_ips",
                 "remote_registration")

    def __init__(self, tenant: TenantPolicy, *layers: Optional[ExtensionPolicy]):
        def pick(name: str, default: Any) -> Any:
            for layer in layers:
                if layer is not None and getattr(layer, name) is not None:
                    return getattr(layer, name)
            return default
        self.international = pick("international", False)
        self.outside_business_hours = pick("outside_business_hours", True)
        self.outbound = pick("outbound", True)
        self.max_outbound_duration = pick("max_outbound_duration", None)
        self.call_frequency = pick("call_frequency", tenant.call_frequency)
        self.daily_calls = pick("daily_calls", tenant.daily_calls)
        self.sequential_calls = pick("sequential_calls", tenant.sequential_calls.calls)
        self.concurrent_registrations = pick("concurrent_registrations", 1)
        ua = pick("user_agents", None)
        self.user_agents = tuple(u.lower() for u in ua) if ua else None
        self.permitted_ips = pick("permitted_ips", None)
        self.remote_registration = pick("remote_registration", None)


class Tenant:
    """A validated tenant policy compiled for the hot path (patterns, networks, zone, number plan)."""

    def __init__(self, name: str, p: TenantPolicy):
        self.name = name
        self.p = p
        self.tz = ZoneInfo(p.timezone)
        self.numbers = number_plan(p.home_country, p.international_prefix, p.national_prefix, p.strip_prefixes)
        self.blocked = compile_patterns(p.blocked_numbers)
        self.lan = list(p.lan)
        self.accept = [ipaddress.ip_network(r.source, strict=False) for r in p.static_defense if r.action == "accept"]
        self.deny = [(ipaddress.ip_network(r.source, strict=False), r) for r in p.static_defense if r.action != "accept"]
        self.allowed_countries = set(p.allowed_countries) if p.allowed_countries is not None else None
        self.allowed_country_ips = set(p.allowed_country_ips) if p.allowed_country_ips is not None else None
        self.holidays = set(p.holidays)
        self.hours: dict[int, list[tuple[time, time]]] = {}
        for days, spans in p.business_hours.items():
            for d in _parse_days(days):
                self.hours.setdefault(d, []).extend(_parse_span(s) for s in spans)
        self.scanners = tuple(u.lower() for u in p.scanner_user_agents)
        from .privacy import from_policy
        from .state.expiry import retention
        self.privacy = from_policy(p.privacy)
        self.retention = retention(p)  # how long a key's state matters after its last event
        self._ext_defaults = p.extensions.get("defaults")
        self._ext: dict[str, ExtSettings] = {}
        self._default_ext = ExtSettings(p, self._ext_defaults)
        self._lan_cache: dict = {}  # per address: membership is asked for on every event
        self._hours_cache: dict[int, bool] = {}
        self._day_cache: dict[int, int] = {}
        self._exempt_cache: dict = {}

    def renamed(self, name: str) -> "Tenant":
        """The same compiled settings under another tenant name (a tenant the policy does not list)."""
        t = copy.copy(self)
        t.name = name
        t._ext, t._lan_cache, t._hours_cache, t._day_cache, t._exempt_cache = {}, {}, {}, {}, {}
        return t

    def ext(self, extension: str) -> ExtSettings:
        s = self._ext.get(extension)
        if s is None:
            entry = self.p.extensions.get(extension)
            s = ExtSettings(self.p, entry, self._ext_defaults) if entry is not None else self._default_ext
            self._ext[extension] = s
        return s

    def rule(self, rule_id: str) -> RuleSetting:
        setting = self.p.rules.get(rule_id)
        if setting is None:
            return _REPORT_RULE if rule_id == "anomaly" else _DEFAULT_RULE
        return setting

    def in_lan(self, ip: ipaddress._BaseAddress) -> bool:
        hit = self._lan_cache.get(ip)
        if hit is None:
            if len(self._lan_cache) > 65536:
                self._lan_cache.clear()
            hit = self._lan_cache[ip] = any(ip in n for n in self.lan)
        return hit

    def exempt(self, ip: ipaddress._BaseAddress) -> bool:
        """LAN and static-accept addresses are never blocked (guide: an accept rule is never overridden)."""
        hit = self._exempt_cache.get(ip)
        if hit is None:
            if len(self._exempt_cache) > 65536:
                self._exempt_cache.clear()
            hit = self._exempt_cache[ip] = self.in_lan(ip) or any(ip in n for n in self.accept)
        return hit

    def business_hours(self, ts: float) -> bool | None:
        """Is the instant inside business hours in the tenant's zone? None when no hours are configured.

        Cached per minute: spans are given in whole minutes, so the answer cannot change within one.
        """
        if not self.hours:
            return None
        minute = int(ts // 60)
        hit = self._hours_cache.get(minute)
        if hit is None:
            if len(self._hours_cache) > 4096:
                self._hours_cache.clear()
            hit = self._hours_cache[minute] = self._business_hours(minute * 60.0)
        return hit

    def _business_hours(self, ts: float) -> bool:
        local = datetime.fromtimestamp(ts, self.tz)
        if local.date() in self.holidays:
            return False
        t = local.time()
        return any(a <= t < b or (b == time(23, 59, 59, 999999) and t >= a) for a, b in self.hours.get(local.weekday(), ()))

    def local_day(self, ts: float) -> int:
        """The calendar day in the tenant's zone (cached per quarter hour: every UTC offset is a multiple of one)."""
        q = int(ts // 900)
        day = self._day_cache.get(q)
        if day is None:
            if len(self._day_cache) > 4096:
                self._day_cache.clear()
            day = self._day_cache[q] = datetime.fromtimestamp(q * 900.0, self.tz).date().toordinal()
        return day


_DEFAULT_RULE = RuleSetting()
_REPORT_RULE = RuleSetting(mode="report")  # the learned check alerts only, unless a policy enforces it


class PolicyError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Policy:
    """All tenants of one policy file."""

    def __init__(self, base: TenantPolicy, tenants: dict[str, TenantPolicy], source: str = "<built-in defaults>"):
        self.source = source
        self.warnings: list[str] = []  # policy_lint: valid, but probably not what was meant
        self._base = Tenant("default", base)
        self._tenants = {name: Tenant(name, tp) for name, tp in tenants.items()}
        self._unknown: dict[str, Tenant] = {}  # bounded (MAX_UNKNOWN), oldest forgotten first

    MAX_UNKNOWN = 10_000  # tenants a feed names that the policy does not: they share the base settings

    def tenant(self, name: str) -> Tenant:
        t = self._tenants.get(name)
        if t is None:
            t = self._unknown.get(name)
            if t is None:
                t = self._base if name == "default" else self._base.renamed(name)
                if len(self._unknown) >= self.MAX_UNKNOWN:  # a feed naming a new tenant per event stays bounded
                    self._unknown.pop(next(iter(self._unknown)))
                self._unknown[name] = t
        return t

    @property
    def dlq_privacy(self):
        """Dead letters may belong to no known tenant: the first active privacy setting of any applies."""
        for t in (self._base, *self._tenants.values()):
            if t.privacy.active:
                return t.privacy
        return self._base.privacy

    @classmethod
    def default(cls) -> "Policy":
        return cls(TenantPolicy(), {})

    @classmethod
    def load(cls, path: str | Path) -> "Policy":
        text = Path(path).read_text(encoding="utf-8")
        return cls.from_yaml(text, str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = "<policy>") -> "Policy":
        data, lines = _load_yaml(text, source)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise PolicyError([f"{source}:1: the policy must be a mapping of keys"])
        tenants_raw = data.pop("tenants", {}) or {}
        problems: list[str] = []
        base = _validate(data, (), lines, source, problems)
        tenants: dict[str, TenantPolicy] = {}
        if not isinstance(tenants_raw, dict):
            problems.append(f"{source}:{lines.get(('tenants',), 1)}: tenants: must be a mapping of tenant name to settings")
        else:
            for name, over in tenants_raw.items():
                if not isinstance(over, dict):
                    problems.append(f"{source}:{lines.get(('tenants', name), 1)}: tenants.{name}: must be a mapping")
                    continue
                merged = {**data, **over}
                tp = _validate(merged, ("tenants", name), lines, source, problems, own=set(over))
                if tp is not None:
                    tenants[name] = tp
        if problems:
            raise PolicyError(problems)
        policy = cls(base, tenants, source)
        from .policy_lint import warnings
        own = [((), base, None)] + [(("tenants", n), tp, set(tenants_raw[n])) for n, tp in tenants.items()]
        policy.warnings = [f"{source}:{w}" for w in warnings(own, lambda path: _nearest_line(lines, path))]
        return policy


def _validate(data: dict, prefix: tuple, lines: dict, source: str, problems: list[str], own: set | None = None):
    try:
        return TenantPolicy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            # a key set at top level and only inherited by a tenant is reported once, at top level
            if own is not None and loc and loc[0] not in own:
                continue
            path = (*prefix, *(x for x in loc if x != "[key]"))
            line = _nearest_line(lines, path)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (see docs/policy.md for the keys a policy may hold)"
            problems.append(f"{source}:{line}: {'.'.join(path) or '(top level)'}: {msg}")
        return None


def _nearest_line(lines: dict, path: tuple) -> int:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1


MAX_POLICY_BYTES = 4 * 1024 * 1024


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit dates and times (pydantic parses them, with a line for each error),
    and without aliases: ``*name`` references are what a "billion laughs" bomb is built from
    (430 bytes took 41 s and 3.5 GB), and a policy has no need of them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted in a policy; "
                                              "write the value out", mark)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML and record the line of every mapping key and sequence item, by path.

    A key given twice in one mapping is refused with both lines (YAML would let the last win silently).
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError([f"{source}:1: {len(text):,} bytes: a policy is at most {MAX_POLICY_BYTES:,}"])
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PolicyError([f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    lines: dict[tuple, int] = {}
    duplicates: list[str] = []

    def walk(n: Any, path: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = path + (str(k.value),)
                if key in lines:
                    duplicates.append(f"{source}:{k.start_mark.line + 1}: {'.'.join(key)}: given twice "
                                      f"(first on line {lines[key]}); YAML would keep only the last")
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                key = path + (str(i),)
                lines[key] = v.start_mark.line + 1
                walk(v, key)

    if node is not None:
        walk(node, ())
    if duplicates:
        raise PolicyError(duplicates)
    return _str_keys(data), lines


def _str_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _str_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_str_keys(v) for v in obj]
    return obj
