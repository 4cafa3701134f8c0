//! static_defense — guide: Network Security, "Restrict Access to PBX by Static Firewall Rules".
//! The port of `streams/rules/static_defense.py` (its docstring says what it judges and why).

use super::{detection, order, s, Check, Result};
use crate::policy::parse_ip;
use crate::state::IpState;

pub const RULE: &str = "static_defense";
const SEVERITY: &str = "warning";

/// `src_ip`: the event's source address (a CDR's may be missing).
pub fn check(c: &mut Check<'_>, st: &mut IpState, src_ip: Option<&str>) -> Result<()> {
    let tenant = c.tenant;
    let Some(src_ip) = src_ip.filter(|ip| !ip.is_empty()) else { return Ok(()) };
    if tenant.deny.is_empty() {
        return Ok(());
    }
    let ip = parse_ip(src_ip).ok_or_else(|| super::not_an_address(src_ip))?;
    let Some(rule) = tenant.deny.iter().find(|r| r.net.contains(ip)) else { return Ok(()) };
    let evidence = vec![
        ("static_rule".to_string(), s(&rule.name)),
        ("source".to_string(), s(&rule.source)),
        ("action".to_string(), s(&rule.action)),
    ];
    let summary = format!("Traffic from {src_ip}, denied by static rule {} ({} {})",
                          crate::seclog::py::repr(&rule.name), rule.action, rule.source);
    c.emit_ip(st, detection(RULE, SEVERITY, src_ip, &summary, evidence, vec![order("block_ip", src_ip, None, None)]))?;
    Ok(())
}
