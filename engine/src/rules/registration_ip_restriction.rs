//! registration_ip_restriction — guide: Extension Registration Security, "Restrict Registration by IP"
//! (an extension's permitted IPs). The port of `streams/rules/registration_ip_restriction.py`.

use super::{detection, event_orders, is_registration, order, s, Check, Result};
use crate::event::{Event, SecurityEvent};
use crate::policy::parse_ip;
use crate::record::Ev;
use crate::state::ExtState;

pub const RULE: &str = "registration_ip_restriction";
const SEVERITY: &str = "alert";

pub fn check(c: &mut Check<'_>, st: &mut ExtState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    if ev.outcome.as_str() == "failure" || !is_registration(ev) {
        return Ok(());
    }
    let tenant = c.tenant;
    let ext = tenant.ext(ev.account.as_deref());
    let Some(permitted) = ext.permitted_ips.as_ref().filter(|p| !p.is_empty()) else { return Ok(()) };
    let ip = parse_ip(&ev.src_ip).ok_or_else(|| super::not_an_address(&ev.src_ip))?;
    if permitted.iter().any(|(n, _)| n.contains(ip)) {
        return Ok(());
    }
    let account = ev.account.as_deref().unwrap_or_default();
    let mut evidence = vec![
        ("src_ip".to_string(), s(&ev.src_ip)),
        ("permitted".to_string(), Ev::List(permitted.iter().map(|(_, text)| s(text)).collect())),
        ("outcome".to_string(), s(ev.outcome.as_str())),
    ];
    let orders = vec![order("block_ip", &ev.src_ip, tenant.settings.block_seconds, None)];
    let (acts, variant) = event_orders(tenant, event, orders, &mut evidence);
    let summary = format!("Extension {account} registered from {}, outside its permitted IPs", ev.src_ip);
    let mut d = detection(RULE, SEVERITY, account, &summary, evidence, acts);
    (d.subject_type, d.variant) = ("extension", variant);
    c.emit(&mut st.incidents, None, d)?;
    Ok(())
}
