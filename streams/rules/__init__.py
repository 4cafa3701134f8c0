"""The rule catalogue: one module per rule id of ``rules.md`` §1-§2.

Each module declares ``RULE`` (its id), ``SCOPE`` (``ip``, ``ext`` or ``trunk``: the key it
partitions by), ``EVENTS`` (``cdr`` and/or ``security``), optionally ``WANTS`` (the event kinds
it judges, ``_common.event_kind``: the detector hands it nothing else), ``SEVERITY``
(default) and ``check(ctx, event)``; timer-driven rules also give ``on_timer`` and
``pending``, deferred ones ``on_release``, micro-batch ones ``on_flush``. Its
docstring cites the guide section it implements. ``RULE_IDS`` is the public contract:
SOC analysts filter alerts on these ids.
"""

from __future__ import annotations

from importlib import import_module

ORDER = [
    # network and endpoint layer (security events)
    "static_defense", "country_ip", "scanner_user_agent", "auto_defense", "registration_lockout", "login_lockout",
    "global_blocklist",  # after every rule that blocks an IP: it checks new blocks against tenants already seen
    "account_lockout", "distributed_lockout", "inbound_probe", "user_agent_restriction", "registration_ip_restriction", "remote_registration", "concurrent_registrations",
    # outbound call layer (CDRs)
    "route_permission", "pin_failures", "time_condition", "international_disallowed", "country_code",
    "blocked_number", "unparseable_number", "premium_rate", "call_frequency", "sequential_calls", "daily_calls", "call_duration",
    "trunk_concurrency",
    # learnt behaviour (scores in micro-batches, see its flush hook)
    "anomaly",
]

MODULES = [import_module(f"{__name__}.{name}") for name in ORDER]
from ..ruleids import RULE_IDS  # noqa: E402  (the public list; every module must be on it)

assert {m.RULE for m in MODULES} <= set(RULE_IDS), "a rule module's id is missing from streams/ruleids.py"
from ..types import SCOPES  # noqa: E402
RULES_BY_SCOPE: dict[str, dict[str, list]] = {s: {"cdr": [], "security": []} for s in SCOPES}
for _m in MODULES:
    for _etype in _m.EVENTS:
        RULES_BY_SCOPE[_m.SCOPE][_etype].append(_m)
TIMER_RULES = {m.RULE: m for m in MODULES if hasattr(m, "on_timer")}
RELEASE_RULES = {m.RULE: m for m in MODULES if hasattr(m, "on_release")}
FLUSH_RULES = [m for m in MODULES if hasattr(m, "on_flush")]
