"""The policy schema: the guide's settings as pydantic models, validated (one definition per setting).

Every key is documented in ``docs/policy.md`` and the commented example ``fixtures/policy.example.yaml``.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, time
from typing import Any, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator
from typing_extensions import Annotated

from streams.reference.patterns import PatternError, compile_patterns
from streams.domain.ruleids import SEVERITIES
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
END_OF_DAY = time(23, 59, 59, 999999)  # how a business-hours span's end at 24:00 is held (_parse_span)


def _check_pattern(p: str) -> str:
    try:
        compile_patterns([p])
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    return p


NumberPattern = Annotated[str, AfterValidator(_check_pattern)]


from streams.policy.meaning import CdrMeaning  # noqa: E402
from streams.policy.customrule import CustomRule, _is_custom, check_names  # noqa: E402


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
    lock_scope: Literal["source", "account"] = Field(
        "source", description="source: lock the account for the failing address only (the guide's Blocked IPs "
        "table); account: lock it for every address, the LAN's phones too")
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


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(v: Any) -> Any:
    """A duration: seconds as a number, or a number with a unit (``90s``, ``15m``, ``1h``, ``1d``)."""
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", v)
        if not m:
            raise ValueError(f"not a duration: {v!r} (seconds, or a number with s, m, h or d: 15m, 24h)")
        return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    return v


Duration = Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=31 * 86400)]


class SpendLimit(Strict):
    """At most ``max_cost`` (in the rate table's currency) spent within any ``window`` by one extension,
    one trunk, the whole tenant, or to one destination country (rule spend_limit)."""
    scope: Literal["extension", "trunk", "tenant", "destination_country"]
    window: Duration
    max_cost: float = Field(gt=0)


class RouteScan(Strict):
    """The ``forms``-th distinct dial form of one foreign number (``00…``, ``+…``, bare, behind trunk-access
    or junk digits) within ``seconds``, across every source and caller id, from unanswered inbound calls or
    refused calls: a scanner looking for an open route (rule route_scan)."""
    forms: int = Field(5, ge=2, le=64)
    seconds: Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=7 * 86400)] = 86400.0


class AccountTakeover(Strict):
    """A sign-in (registration or login) from an address outside the LAN, or with a user agent, that the
    account has not used within ``new_for``, then within ``window`` a call abroad, to a premium number or
    costing at least ``per_minute`` (rule account_takeover). An account seen for less than ``history``
    is still being learnt: then its first sign-in from outside the LAN after sign-ins only inside it,
    or an agent family it never used after using another, is new (docs/policy.md, "The first day")."""
    new_for: Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=30 * 86400)] = 30 * 86400.0
    window: Duration = 7200.0
    history: Duration = 86400.0
    per_minute: float = Field(0.5, ge=0)


class Wangiri(Strict):
    """More than ``calls`` one-ring inbound calls (unanswered, ringing at most ``max_ring`` s) from callers
    in one foreign country within ``seconds``, to at least ``extensions`` extensions: a Wangiri burst
    (rule wangiri_inbound). The callers' numbers are blocked for ``block_seconds`` so callbacks fail."""
    calls: int = Field(10, gt=0)
    seconds: Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=86400)] = 600.0
    max_ring: float = Field(10, gt=0)
    extensions: int = Field(5, gt=0)
    block_seconds: Optional[int] = Field(604800, ge=0)


class Forwarding(Strict):
    """May a call placed by call forwarding or transfer go abroad, or to a premium number (rule forwarding_abuse)?"""
    international: bool = False
    premium: bool = False


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
    """What tollguard writes for people is pseudonymised (streams/reference/privacy.py); detection uses clear values."""
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
    route_scan: RouteScan = RouteScan()
    auto_defense: list[AutoDefenseRule] = [
        AutoDefenseRule(name="ssh", service="ssh", protocol="tcp", packets=10, seconds=60),
        AutoDefenseRule(name="udp", service="sip", protocol="udp", packets=40, seconds=2),
        AutoDefenseRule(name="tcp", service="sip", protocol="tcp", packets=40, seconds=2),
        AutoDefenseRule(name="http", service="http", packets=120, seconds=60),
        AutoDefenseRule(name="https", service="https", packets=120, seconds=60),
    ]
    static_defense: list[StaticRule] = []
    country_ip_block: Literal["address", "set"] = Field(
        "address", description="how country_ip's blocks are carried out: `address`, one block_ip per "
        "source; `set`, by the firewall's country set that `tollguard enforce` installs (docs/enforce.md), "
        "so an IPv4 source is alerted and counted but gets no block record of its own")
    scanner_user_agents: list[str] = DEFAULT_SCANNER_USER_AGENTS
    scanner_block_seconds: Optional[int] = Field(604800, ge=0)
    block_on_unverified_udp: bool = Field(False, description="also block (and lock for) an address whose failures "
                                          "all needed no round trip over UDP, so its source may be spoofed")
    remote_registration: Optional[RemoteRegistration] = None
    registration_ttl: int = Field(3600, gt=0, description="a registration counts as active this long")
    block_seconds: Optional[int] = Field(3600, ge=0, description="default block duration for IP rules")
    outbound_bar_seconds: Optional[int] = Field(3600, ge=0, description="disable_outbound duration")
    incident_seconds: int = Field(3600, gt=0, description="repeat detections within this are one incident")
    campaign_seconds: int = Field(3600, ge=0, description="a rule family's detections of the tenant within "
                                  "this window (aligned to it) are one campaign incident; 0: each subject "
                                  "its own incident (streams.domain.campaigns)")
    spend_limits: list[SpendLimit] = []
    account_takeover: AccountTakeover = AccountTakeover()
    wangiri: Wangiri = Wangiri()
    forwarding: Forwarding = Forwarding()
    rates: Optional[str] = Field(None, description="this tenant's rate table (CSV like the shipped one); "
                                 "a relative path is read from the policy file's folder")
    ranges: Optional[str] = Field(None, description="high-risk number ranges (CSV prefix,label,source,expires; "
                                  "rule high_risk_range); a relative path is read from the policy file's folder")
    trunks: dict[str, TrunkPolicy] = {}
    default_trunk: TrunkPolicy = TrunkPolicy()
    routes: dict[str, RoutePolicy] = {}
    rules: dict[str, Annotated[Union[Annotated[RuleSetting, Tag("builtin")], Annotated[CustomRule, Tag("custom")]],
                              Discriminator(_is_custom)]] = {}
    extensions: dict[str, ExtensionPolicy] = {}
    privacy: Optional[PrivacySetting] = None
    cdr: CdrMeaning = CdrMeaning()  # what CDR export columns mean (streams/policy/meaning.py)

    @field_validator("rules")
    @classmethod
    def _rule_names(cls, v: dict) -> dict:
        return check_names(v)

    @field_validator("spend_limits")
    @classmethod
    def _one_per_scope_window(cls, v: list[SpendLimit]) -> list[SpendLimit]:
        seen = set()
        for lim in v:
            if (lim.scope, lim.window) in seen:
                raise ValueError(f"two limits for scope {lim.scope} over {lim.window:g} s: keep the one you mean")
            seen.add((lim.scope, lim.window))
        return v

    @field_validator("privacy")
    @classmethod
    def _salt(cls, v: Optional[PrivacySetting]) -> Optional[PrivacySetting]:
        from streams.reference.privacy import from_policy
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
            hint = f" (did you mean {NOT_ISO[v]}?)" if v in NOT_ISO else ""
            raise ValueError(f"not an ISO 3166 alpha-2 region libphonenumber knows: {v!r}{hint}")
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
        return [iso_country(c) for c in v]

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for days, spans in v.items():
            _parse_days(days)
            for span in spans:
                _parse_span(span)
        return v


# ISO 3166 alpha-2 codes: every region libphonenumber knows, and the few territories without phone numbers
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}
NOT_ISO = {"UK": "GB", "EL": "GR", "EN": "GB"}  # codes people write that ISO 3166 spells otherwise


def iso_country(code: Any) -> str:
    """An ISO 3166 alpha-2 country code, upper-cased, or ValueError naming the likely one."""
    c = str(code).strip().upper()
    if c in COUNTRIES:
        return c
    hint = f" (did you mean {NOT_ISO[c]}?)" if c in NOT_ISO else ""
    raise ValueError(f"not an ISO 3166 alpha-2 country code: {code!r}{hint}")


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
    end = END_OF_DAY if h2 == 24 else time(h2, m2)
    if end <= time(h1, m1):
        raise ValueError(f"span {span!r} ends before it starts")
    return time(h1, m1), end
