"""The rule catalogue: one module per rule id (docs/rules.md), read through the contract.

``streams.rules.contract`` says what a module declares and checks it: ``SPECS`` holds one
:class:`~streams.rules.contract.RuleSpec` per rule, built at import, so a module that breaks the
contract stops every command at once. ``RULE_IDS`` (``streams.domain.ruleids``) is the public list SOC
analysts filter alerts on; every id on it is implemented here (a test checks both ways).
"""

from __future__ import annotations

from importlib import import_module

EVALUATION_ORDER = [
    # network and endpoint layer (security events)
    "static_defense", "country_ip", "scanner_user_agent", "auto_defense", "registration_lockout", "login_lockout",
    "global_blocklist",  # after every rule that blocks an IP: it checks new blocks against tenants already seen
    "account_lockout", "distributed_lockout", "inbound_probe", "route_scan", "user_agent_restriction", "registration_ip_restriction", "remote_registration", "concurrent_registrations",
    # outbound call layer (CDRs)
    "route_permission", "pin_failures", "time_condition", "international_disallowed", "country_code",
    "blocked_number", "unparseable_number", "premium_rate", "call_frequency", "sequential_calls", "daily_calls", "call_duration",
    "trunk_concurrency",
    # money (each outbound call's cost against the policy's spend limits), and sign-ins paired with calls
    "spend_limit", "account_takeover", "wangiri_inbound", "forwarding_abuse", "high_risk_range",
    # the operator's own rules (policy `rules:` with `kind:`), after the built-in ones
    "custom",
    # learnt behaviour (scores in micro-batches, see its flush hook)
    "anomaly",
]

MODULES = [import_module(f"{__name__}.{name}") for name in EVALUATION_ORDER]
from streams.rules.contract import RuleContractError, scopes_of, spec_of  # noqa: E402

SPECS = [spec_of(m) for m in MODULES]
if len({s.id for s in SPECS}) != len(SPECS):
    raise RuleContractError("a rule id appears twice in streams.rules.EVALUATION_ORDER")
from streams.core.types import SCOPES  # noqa: E402
RULES_BY_SCOPE: dict[str, dict[str, list]] = {s: {"cdr": [], "security": []} for s in SCOPES}
for _m in MODULES:
    for _scope in scopes_of(_m):
        for _etype in _m.EVENTS:
            RULES_BY_SCOPE[_scope][_etype].append(_m)
TIMER_SCOPES = {m.RULE: scopes_of(m) for m in MODULES if hasattr(m, "on_timer")}
TIMER_RULES = {m.RULE: m for m in MODULES if hasattr(m, "on_timer")}
RELEASE_RULES = {m.RULE: m for m in MODULES if hasattr(m, "on_release")}
FLUSH_RULES = [m for m in MODULES if hasattr(m, "on_flush")]


def routed_to_tenant(event, tenant, kind: str, events: str) -> bool:
    """Must ``event`` (``events``: cdr or security, of ``event_kind`` ``kind``) reach its tenant's key? Only when
    a rule of the tenant scope that the tenant runs judges that kind and its ``routes`` asks for the event
    (the contract)."""
    rules = _TENANT_ROUTES.get((tenant, kind))
    if rules is None:
        rules = _TENANT_ROUTES[(tenant, kind)] = tuple(
            m.routes for m in RULES_BY_SCOPE["tenant"][events]
            if tenant.rule(m.RULE).mode != "off" and kind in getattr(m, "WANTS", (kind,))
            and (not hasattr(m, "applies") or m.applies(tenant, "tenant", events)))
        if len(_TENANT_ROUTES) > 4096:  # policies reloaded many times: start afresh
            _TENANT_ROUTES.clear()
            _TENANT_ROUTES[(tenant, kind)] = rules
    for routes in rules:
        if routes(event, tenant):
            return True
    return False


_TENANT_ROUTES: dict = {}  # (tenant policy, event kind): the routes of the rules that judge it there
