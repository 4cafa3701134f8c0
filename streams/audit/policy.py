"""Audit of a tollguard policy file against the guide's recommendations (docs/audit.md).

A YAML file is taken for a policy when it is named ``*policy*.y(a)ml`` or sets at least two of a
policy's own keys. Each tenant (the top level, then each entry of ``tenants:``) is judged on what it
ends up with; a finding names the line of the key (or of the tenant) it is about.
"""

from __future__ import annotations

import re
from pathlib import Path

from streams.audit import Finding, read

GUIDE = {
    "route": "Outbound Call Security: Restrict Outbound Dialing by Outbound Route Permission",
    "country": "Outbound Call Security: Restrict Outbound Dialing by Country/Region",
    "country_ip": "Network Security: Restrict Access to PBX by Country/Region (Allowed Country IPs)",
    "auto": "Network Security: Restrict Access to PBX by Dynamic Firewall Rules (Auto Defense)",
    "lockout": "Endpoint Security: Account Lockout for Failed Registration Attempts",
    "duration": "Outbound Call Security: Restrict Outbound Calling by Call Duration",
    "network": "Network Security (Static Defense, Blocked IPs)",
}
CHECKS = {
    "policy-invalid": ("the policy does not validate: the worker would refuse it", GUIDE["network"]),
    "policy-international-by-default": ("every extension may call abroad unless listed otherwise", GUIDE["route"]),
    "policy-no-allowed-countries": ("calls abroad may reach any country", GUIDE["country"]),
    "policy-no-country-ips": ("the PBX may be reached from any country", GUIDE["country_ip"]),
    "policy-auto-defense-off": ("no dynamic firewall rules", GUIDE["auto"]),
    "policy-lock-scope-account": ("a lockout locks the account for every address, the LAN's phones too", GUIDE["lockout"]),
    "policy-block-unverified": ("sources that may be forged are blocked", GUIDE["network"]),
    "policy-long-calls": ("calls may last more than 4 hours before they are cut", GUIDE["duration"]),
    "policy-rule-off": ("a rule of the guide is off or only reports", GUIDE["route"]),
    "policy-lint": ("a setting that disarms detection (the policy check's warning)", GUIDE["network"]),
}
KEYS = {"home_country", "timezone", "rules", "allowed_countries", "allowed_country_ips", "extensions", "tenants",
        "registration_lockout", "login_lockout", "auto_defense", "spend_limits", "max_call_duration", "lan",
        "business_hours", "static_defense", "trunks", "routes", "call_frequency"}
GUARDS = {  # rules whose `off` leaves a measure of the guide undone; `report` alerts but never acts
    "premium_rate": GUIDE["country"], "international_disallowed": GUIDE["route"], "country_code": GUIDE["country"],
    "call_frequency": "Outbound Call Security: Restrict Outbound Dialing by Frequency of Calls",
    "trunk_concurrency": "Outbound Call Security: Restrict Outbound Calling by Concurrent Calls",
    "call_duration": GUIDE["duration"], "registration_lockout": GUIDE["lockout"], "login_lockout": GUIDE["lockout"],
    "spend_limit": "Outbound Call Security (spend limits)", "auto_defense": GUIDE["auto"],
    "time_condition": "Outbound Call Security: Restrict Outbound Dialing by Time Condition",
}
LONG_CALL = 4 * 3600


def audit(files: list[Path]) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    looked: list[str] = []
    for path in files:
        if path.suffix.lower() not in (".yaml", ".yml"):
            continue
        src = read(path)
        if src is None or not _is_policy(path, src.text):
            continue
        looked.append(src.name)
        findings.extend(judge(src.name, src.text))
    return findings, looked


def _is_policy(path: Path, text: str) -> bool:
    if "policy" in path.name.lower():
        return True
    top = set(re.findall(r"^([a-z_]+):", text, re.M))
    return len(top & KEYS) >= 2 and "backends" not in top and "channels" not in top


def judge(name: str, text: str) -> list[Finding]:
    from streams.policy.loader import Policy, PolicyError
    from streams.policy.yamlfile import YamlFileError, line_of, load_text
    try:
        data, lines = load_text(text, name)
        policy = Policy.from_yaml(text, name)
    except (PolicyError, YamlFileError) as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        first = problems[0]
        m = re.match(rf"{re.escape(name)}:(\d+):", first)
        return [Finding("policy-invalid", "high", name, int(m.group(1)) if m else 1, "policy",
                        "; ".join(p.replace(f"{name}:", "line ", 1) for p in problems[:3]), CHECKS["policy-invalid"][1],
                        "fix the lines named (`tollguard policy FILE` lists every problem)")]
    out: list[Finding] = []
    raw = (data or {}).get("tenants") or {}
    tenants = [((), "top level", policy._base.settings, None)] + [
        (("tenants", n), f"tenant {n}", t.settings, set(raw.get(n) or {})) for n, t in policy._tenants.items()]
    for prefix, who, p, own in tenants:  # a tenant is judged on what it sets itself (the rest was judged above)
        at = lambda *key: line_of(lines, (*prefix, *key))  # noqa: E731
        out.extend(f for f in _tenant(name, who, p, at) if own is None or f.subject.split(".")[0].split(" ")[0] in own)
    for w in policy.warnings:
        m = re.match(rf"{re.escape(name)}:(\d+): (.*)", w)
        line, text_ = (int(m.group(1)), m.group(2)) if m else (1, w)
        out.append(Finding("policy-lint", "medium", name, line, text_.split(":", 1)[0], text_,
                           CHECKS["policy-lint"][1], "see docs/policy.md for the setting named"))
    return out


def _tenant(name: str, who: str, p, at) -> list[Finding]:
    out: list[Finding] = []

    def find(check: str, severity: str, key: str, line: int, message: str, fix: str, guide: str | None = None):
        out.append(Finding(check, severity, name, line, f"{key} ({who})", message, guide or CHECKS[check][1], fix))

    defaults = p.extensions.get("defaults")
    if defaults is not None and defaults.international:
        find("policy-international-by-default", "high", "extensions.defaults.international", at("extensions", "defaults", "international"),
             "extensions.defaults.international is true: every extension may call abroad",
             "set it false and allow international calls per extension (extensions.<ext>.international: true)")
    if p.allowed_countries is None:
        find("policy-no-allowed-countries", "medium", "allowed_countries", at("allowed_countries"),
             "no allowed_countries: an extension allowed to call abroad may call any country",
             "list the countries your users call (allowed_countries: [GB, IE, …])")
    if p.allowed_country_ips is None:
        find("policy-no-country-ips", "medium", "allowed_country_ips", at("allowed_country_ips"),
             "no allowed_country_ips: registrations and logins are accepted from every country",
             "list the countries your phones and users connect from (allowed_country_ips), and see "
             "country_ip_block: set (docs/enforce.md)")
    if not p.auto_defense or (p.rules.get("auto_defense") is not None and p.rules["auto_defense"].mode == "off"):
        find("policy-auto-defense-off", "high", "auto_defense", at("auto_defense") if not p.auto_defense else at("rules", "auto_defense"),
             "auto defense is off: a flood of requests from one address is never blocked",
             "keep the default auto_defense rules (SSH 10/60 s, SIP 40/2 s, web 120/60 s) on")
    for key in ("registration_lockout", "login_lockout"):
        cfg = getattr(p, key)
        if cfg.lock_account and cfg.lock_scope == "account":
            find("policy-lock-scope-account", "high", f"{key}.lock_scope", at(key, "lock_scope"),
                 f"{key}.lock_scope is account: a scanner that guesses a real account's name locks it for every "
                 "address, the office's phones too",
                 f"{key}.lock_scope: source (the guide's Blocked IPs table locks the account for the attacking address)")
    if p.block_on_unverified_udp:
        find("policy-block-unverified", "high", "block_on_unverified_udp", at("block_on_unverified_udp"),
             "block_on_unverified_udp is true: a failure sent over UDP with a forged source blocks whoever it names",
             "leave it false: such failures still alert")
    if p.max_call_duration > LONG_CALL:
        find("policy-long-calls", "medium", "max_call_duration", at("max_call_duration"),
             f"max_call_duration is {p.max_call_duration} s: a fraudulent call may run {p.max_call_duration / 3600:g} h",
             "cut outbound calls at 3 hours or less (max_call_duration: 10800), longer only per extension")
    for rule, guide in GUARDS.items():
        setting = p.rules.get(rule)
        if setting is None or getattr(setting, "mode", "enforce") == "enforce":
            continue
        off = setting.mode == "off"
        find("policy-rule-off", "high" if off else "low", f"rules.{rule}", at("rules", rule),
             f"rule {rule} is {setting.mode}: " + ("it never runs" if off else "it alerts but never blocks"),
             f"rules.{rule}.mode: enforce, once its limits are right for your traffic (try them in replay first)", guide)
    return out
