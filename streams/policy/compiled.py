"""A validated tenant policy compiled for the hot path: patterns, networks, zone, number plan, per-extension settings."""

from __future__ import annotations

import copy
import functools
import ipaddress
from datetime import datetime, time
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

from streams.reference.numbers import number_plan
from streams.reference.patterns import compile_patterns
from streams.policy.schema import END_OF_DAY, ExtensionPolicy, RuleSetting, TenantPolicy, _parse_days, _parse_span


# What an extension gets when neither its entry nor ``extensions.defaults`` sets it: one entry per
# ``ExtensionPolicy`` field (a new per-extension setting is its field plus its line here; a test
# checks the two agree).
EXT_DEFAULTS: dict[str, Callable[[TenantPolicy], Any]] = {
    "international": lambda t: False,
    "outside_business_hours": lambda t: True,
    "outbound": lambda t: True,
    "max_outbound_duration": lambda t: None,
    "call_frequency": lambda t: t.call_frequency,
    "daily_calls": lambda t: t.daily_calls,
    "sequential_calls": lambda t: t.sequential_calls.calls,
    "concurrent_registrations": lambda t: 1,
    "user_agents": lambda t: None,
    "permitted_ips": lambda t: None,
    "remote_registration": lambda t: None,
}


DOCUMENT_VERSION = 3  # Tenant.document()'s layout; the engine refuses another (engine/src/policy.rs VERSION)


class ExtSettings:
    """Effective settings of one extension: its entry over ``extensions.defaults`` over tenant defaults."""

    __slots__ = tuple(ExtensionPolicy.model_fields)

    def __init__(self, tenant: TenantPolicy, *layers: Optional[ExtensionPolicy]):
        for name in self.__slots__:
            value = next((getattr(layer, name) for layer in layers
                          if layer is not None and getattr(layer, name) is not None), None)
            setattr(self, name, EXT_DEFAULTS[name](tenant) if value is None else value)
        if self.user_agents:
            self.user_agents = tuple(u.lower() for u in self.user_agents)


def _ext_document(ext: ExtSettings) -> dict:
    """What the compiled engine reads of an extension's resolved settings (``Tenant.document()``)."""
    return {"user_agents": None if ext.user_agents is None else list(ext.user_agents),
            "permitted_ips": None if ext.permitted_ips is None else [str(n) for n in ext.permitted_ips],
            "remote_registration": ext.remote_registration}


class Tenant:
    """A validated tenant policy compiled for the hot path (patterns, networks, zone, number plan)."""

    def __init__(self, name: str, p: TenantPolicy):
        self.name = name
        self.settings = p
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
        from streams.reference.privacy import from_policy
        self.privacy = from_policy(p.privacy)
        self._ext_defaults = p.extensions.get("defaults")
        self._ext: dict[str, ExtSettings] = {}
        self._default_ext = ExtSettings(p, self._ext_defaults)
        self._lan_cache: dict = {}  # per address: membership is asked for on every event
        from streams.policy.customrule import compiled
        self._custom = compiled(p.rules)
        self._hours_cache: dict[int, bool] = {}
        self._day_cache: dict[int, int] = {}
        self._exempt_cache: dict = {}
        self.caps_tenant_spend = any(lim.scope in ("tenant", "destination_country") for lim in p.spend_limits)
        self.watches_callbacks = self.rule("wangiri_inbound").mode != "off"  # its calls abroad: Wangiri callbacks?
        self._rates = None  # the shipped rate table unless the policy names one (Policy.from_yaml sets it)
        self.ranges = None  # high-risk ranges (streams.reference.ranges.RangeTable): the policy's file, replay --ranges, the topic

    @property
    def rates(self):
        """What this tenant's calls cost (``rates:`` in its policy, else the shipped table)."""
        if self._rates is None:
            from streams.reference.rates import RateTable
            self._rates = RateTable.shared()
        return self._rates

    @functools.cached_property
    def retention(self) -> dict[str, float]:
        """How long a key's state matters after its last event, per scope: built from the rules'
        declarations (``streams.state.expiry.retention``) when the detector first asks, so a process that
        only reads the policy (verdict, enforce, doctor) does not import the rules."""
        from streams.state.expiry import retention
        return retention(self.settings)

    def renamed(self, name: str) -> "Tenant":
        """The same compiled settings under another tenant name (a tenant the policy does not list)."""
        t = copy.copy(self)
        t.name = name
        t._ext, t._lan_cache, t._hours_cache, t._day_cache, t._exempt_cache = {}, {}, {}, {}, {}
        return t

    def document(self) -> bytes:
        """This tenant's resolved policy as one JSON document for the compiled engine (``streams._engine.TenantDoc``;
        docs/engine.md, "The policy as data"): the validated settings, and what this class derives from them
        (networks, weekly hours in minutes of the local day, holidays as ordinals, lower-cased scanners, the static
        rules that drop or reject as (network, name, source, action), each extension's resolved settings that the
        ported rules read, the (scope, event type) pairs that have the operator's own rules, the rules' retention
        per scope). Python loads, validates and defaults the policy; the engine reads this."""
        import msgspec

        def minutes(t: time) -> int:
            return 1440 if t == END_OF_DAY else t.hour * 60 + t.minute

        return msgspec.json.encode({
            "version": DOCUMENT_VERSION,
            "name": self.name,
            "settings": self.settings.model_dump(mode="json"),
            "lan": [str(n) for n in self.lan],
            "accept": [str(n) for n in self.accept],
            "hours": {str(d): [[minutes(a), minutes(b)] for a, b in spans] for d, spans in sorted(self.hours.items())},
            "holidays": sorted(d.toordinal() for d in self.holidays),
            "scanners": list(self.scanners),
            "retention": dict(self.retention),
            "deny": [[str(net), r.name, r.source, r.action] for net, r in self.deny],
            "extensions": {name: _ext_document(self.ext(name)) for name in self.settings.extensions},
            "default_extension": _ext_document(self._default_ext),
            "custom_scopes": sorted([scope, events] for (scope, events), rules in self._custom.items() if rules),
        })

    def ext(self, extension: str) -> ExtSettings:
        s = self._ext.get(extension)
        if s is None:
            entry = self.settings.extensions.get(extension)
            s = ExtSettings(self.settings, entry, self._ext_defaults) if entry is not None else self._default_ext
            self._ext[extension] = s
        return s

    def custom_rules(self, scope: str, events: str) -> list:
        """The operator's own rules of a scope and event type: ``(name, rule, where)`` (streams.rules.custom)."""
        return self._custom.get((scope, events), ())

    def rule(self, rule_id: str) -> RuleSetting:
        setting = self.settings.rules.get(rule_id)
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
        return any(a <= t < b or (b == END_OF_DAY and t >= a) for a, b in self.hours.get(local.weekday(), ()))

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
