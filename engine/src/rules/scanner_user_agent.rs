//! scanner_user_agent — guide: Endpoint Security, user-agent authorization; peers: Kamailio secfilter UA blacklist.
//! The port of `streams/rules/scanner_user_agent.py` (its docstring says what it judges and why).

use super::{detection, event_orders, opt, order, s, Check, Result};
use crate::event::{Event, SecurityEvent};
use crate::seclog::py::{lower, repr};
use crate::state::IpState;

pub const RULE: &str = "scanner_user_agent";
const SEVERITY: &str = "warning";

/// `text[:n]`, by code points.
fn head(text: &str, n: usize) -> &str {
    text.char_indices().nth(n).map_or(text, |(i, _)| &text[..i])
}

pub fn check(c: &mut Check<'_>, st: &mut IpState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    let Some(ua) = ev.user_agent.as_deref().filter(|u| !u.is_empty()) else { return Ok(()) };
    let low = lower(ua);
    let tenant = c.tenant;
    let Some(sig) = tenant.scanners.iter().find(|sig| low.contains(sig.as_str())) else { return Ok(()) };
    let mut evidence = vec![
        ("user_agent".to_string(), s(head(ua, 200))),
        ("signature".to_string(), s(sig)),
        ("service".to_string(), s(&ev.service)),
        ("account".to_string(), opt(ev.account.as_deref())),
    ];
    let orders = vec![order("block_ip", &ev.src_ip, tenant.settings.scanner_block_seconds, None)];
    let (acts, variant) = event_orders(tenant, event, orders, &mut evidence);
    let summary = format!("SIP scanner {} from {}", repr(head(ua, 60)), ev.src_ip);
    let mut d = detection(RULE, SEVERITY, &ev.src_ip, &summary, evidence, acts);
    d.variant = variant;
    c.emit_ip(st, d)?;
    Ok(())
}
