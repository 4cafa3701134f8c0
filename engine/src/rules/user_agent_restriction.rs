//! user_agent_restriction — guide: Extension Registration Security, "Restrict Registration by User Agent".
//! The port of `streams/rules/user_agent_restriction.py`.

use super::{detection, event_orders, is_registration, opt, order, s, Check, Result};
use crate::event::{Event, SecurityEvent};
use crate::record::Ev;
use crate::seclog::py::{lower, repr};
use crate::state::ExtState;

pub const RULE: &str = "user_agent_restriction";
const SEVERITY: &str = "alert";

pub fn check(c: &mut Check<'_>, st: &mut ExtState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    if ev.outcome.as_str() == "failure" || !is_registration(ev) {
        return Ok(());
    }
    let tenant = c.tenant;
    let ext = tenant.ext(ev.account.as_deref());
    let Some(allowed) = ext.user_agents.as_ref().filter(|a| !a.is_empty()) else { return Ok(()) };
    let ua = lower(ev.user_agent.as_deref().unwrap_or_default());
    if allowed.iter().any(|p| ua.starts_with(p.as_str())) {
        return Ok(());
    }
    let account = ev.account.as_deref().unwrap_or_default();
    let mut evidence = vec![
        ("user_agent".to_string(), opt(ev.user_agent.as_deref())),
        ("allowed".to_string(), Ev::List(allowed.iter().map(|a| s(a)).collect())),
        ("src_ip".to_string(), s(&ev.src_ip)),
        ("outcome".to_string(), s(ev.outcome.as_str())),
    ];
    let orders = vec![order("block_ip", &ev.src_ip, tenant.settings.block_seconds, None)];
    let (acts, variant) = event_orders(tenant, event, orders, &mut evidence);
    let shown = ev.user_agent.as_deref().map_or_else(|| "None".to_string(), repr);
    let summary = format!("Extension {account} registered with user agent {shown}, not an allowed prefix");
    let mut d = detection(RULE, SEVERITY, account, &summary, evidence, acts);
    (d.subject_type, d.variant) = ("extension", variant);
    c.emit(&mut st.incidents, None, d)?;
    Ok(())
}
