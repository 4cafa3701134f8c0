"""Rule ids and severities: the public contract SOC analysts filter alerts on. Keep them stable once shipped.

Every id here is implemented by a rule module (``streams.rules``; a test checks both ways), so a
policy can name only rules that run. docs/rules.md lists them with their guide sections.
"""

SEVERITIES = ("information", "warning", "alert", "critical")  # lowest first
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

RULE_IDS = (
    "auto_defense", "static_defense", "country_ip", "global_blocklist", "registration_lockout", "login_lockout", "account_lockout", "distributed_lockout",
    "scanner_user_agent", "inbound_probe", "route_scan", "user_agent_restriction", "registration_ip_restriction", "concurrent_registrations",
    "remote_registration", "route_permission", "pin_failures", "time_condition",
    "international_disallowed", "country_code", "blocked_number", "unparseable_number", "premium_rate", "call_frequency",
    "trunk_concurrency", "call_duration", "sequential_calls", "daily_calls", "anomaly",
    "spend_limit", "account_takeover", "wangiri_inbound", "forwarding_abuse", "high_risk_range",
    "custom",  # the operator's own rules (policy `rules:` with `kind:`); their alerts carry each rule's own name
)
