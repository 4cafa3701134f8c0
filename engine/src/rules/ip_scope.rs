//! The IP scope of one event: `Detector.process`'s loop over the rules of the `ip` scope (`_active_rules`:
//! those of `streams.rules.EVALUATION_ORDER` that judge the event's type and kind and that the tenant has
//! not switched off), all on one key's state with one `Ctx`, so that a block one rule records is seen by
//! `global_blocklist` after it (`blocks_changed`). Every rule of the scope is ported but the operator's own
//! (`custom`): a tenant with custom rules in this scope is refused (`RuleError::Unported`), as is one whose
//! `privacy` is on, as the plan says, so that no key's state is split between the engine and the Python.

use super::{auto_defense, country_ip, event_kind, global_blocklist, login_lockout, registration_lockout,
            scanner_user_agent, static_defense, Check, Result, RuleError};
use crate::event::Event;
use crate::state::IpState;

/// The IP scope's rules in evaluation order: (rule, judges security events, judges CDRs, the kinds it wants
/// or every kind). `tests/engine/test_rules_engine.py` holds this to `streams.rules.RULES_BY_SCOPE["ip"]`.
pub const IP_RULES: [(&str, bool, bool, Option<&str>); 7] = [
    ("static_defense", true, true, None),
    ("country_ip", true, true, None),
    ("scanner_user_agent", true, false, None),
    ("auto_defense", true, false, None),
    ("registration_lockout", true, false, Some("reg_failure")),
    ("login_lockout", true, false, Some("login_failure")),
    ("global_blocklist", true, true, None),
];

/// The rules of the IP scope that judge this event for this tenant (`_active_rules`), in order.
pub fn active(c: &Check<'_>, event: &Event) -> Vec<&'static str> {
    let kind = event_kind(event);
    let cdr = matches!(event, Event::Cdr(_));
    IP_RULES.iter()
        .filter(|(rule, security, on_cdr, wants)| {
            (if cdr { *on_cdr } else { *security }) && wants.is_none_or(|w| w == kind) && c.tenant.rule(rule).0 != "off"
        })
        .map(|(rule, ..)| *rule)
        .collect()
}

/// Does the event reach an IP key (`Detector.keys_for`)? A security event always; a CDR that is not inbound and
/// names its source address.
pub fn routed(event: &Event) -> bool {
    match event {
        Event::Security(_) => true,
        Event::Cdr(e) => e.direction.as_str() != "inbound" && e.src_ip.as_deref().is_some_and(|ip| !ip.is_empty()),
        Event::Unblock(_) => false,
    }
}

/// Run the IP scope's active rules over one event on the key's state: Ok(false) when the event reaches no IP
/// key or no rule of the scope judges it (the detector then makes no context and writes no key).
pub fn step(c: &mut Check<'_>, st: &mut IpState, event: &Event) -> Result<bool> {
    let events = if matches!(event, Event::Cdr(_)) { "cdr" } else { "security" };
    if c.tenant.custom_scopes.iter().any(|(s, e)| s == "ip" && e == events) {
        return Err(RuleError::Unported(format!("tenant {:?} has rules of its own in the IP scope", c.tenant.name)));
    }
    if c.tenant.settings.privacy_active() {
        return Err(RuleError::Unported(format!("tenant {:?} has privacy on", c.tenant.name)));
    }
    let rules = if routed(event) { active(c, event) } else { Vec::new() };
    if rules.is_empty() {
        return Ok(false);
    }
    for rule in rules {
        match (rule, event) {
            ("static_defense", Event::Security(ev)) => static_defense::check(c, st, Some(&ev.src_ip))?,
            ("static_defense", Event::Cdr(ev)) => static_defense::check(c, st, ev.src_ip.as_deref())?,
            ("country_ip", _) => country_ip::check(c, &mut st.incidents, Some(&mut st.blocks), event)?,
            ("scanner_user_agent", Event::Security(ev)) => scanner_user_agent::check(c, st, event, ev)?,
            ("auto_defense", Event::Security(ev)) => auto_defense::check(c, st, event, ev)?,
            ("registration_lockout", Event::Security(ev)) => registration_lockout::check(c, st, event, ev)?,
            ("login_lockout", Event::Security(ev)) => login_lockout::check(c, st, event, ev)?,
            ("global_blocklist", _) => global_blocklist::check(c, st, event)?,
            _ => {}
        }
    }
    Ok(true)
}
