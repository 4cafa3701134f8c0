//! country_ip — guide: Network Security, "Restrict Access to PBX by Country/Region" (Allowed Country IPs).
//! The port of `streams/rules/country_ip.py` (its docstring says what it judges and why).

use std::net::IpAddr;

use super::{detection, order, s, Check, Result};
use crate::country::country_of;
use crate::event::Event;
use crate::policy::{parse_ip, Tenant};
use crate::record::Ev;
use crate::state::{Dict, Incident};

pub const RULE: &str = "country_ip";
const SEVERITY: &str = "warning";

/// `knock_in_set`: a knock from an IPv4 source the tenant's firewall country set holds, with campaigns on.
pub fn knock_in_set(tenant: &Tenant, event: &Event, ip: IpAddr) -> bool {
    if tenant.settings.country_ip_block != "set" || tenant.settings.campaign_seconds == 0 {
        return false;
    }
    let Event::Security(ev) = event else { return false };
    matches!(ev.outcome.as_str(), "failure" | "request") && ip.is_ipv4()
}

fn src_ip(event: &Event) -> Option<&str> {
    match event {
        Event::Security(e) => Some(e.src_ip.as_str()),
        Event::Cdr(e) => e.src_ip.as_deref(),
        Event::Unblock(_) => None,
    }
}

/// `sorted(allowed)`.
fn allowed_list(tenant: &Tenant) -> Ev {
    let mut allowed: Vec<&String> = tenant.allowed_country_ips.iter().flatten().collect();
    allowed.sort();
    Ev::List(allowed.into_iter().map(|c| s(c)).collect())
}

/// `check` on the key of `c.scope` ("ip" or "tenant"): its incidents, and the IP key's blocks.
pub fn check(c: &mut Check<'_>, incidents: &mut Dict<String, Incident>, blocks: Option<&mut Dict<String, Vec<Vec<f64>>>>,
             event: &Event) -> Result<()> {
    let tenant = c.tenant;
    let Some(allowed) = tenant.allowed_country_ips.as_ref() else { return Ok(()) };
    let Some(src) = src_ip(event).filter(|ip| !ip.is_empty()) else { return Ok(()) };
    let ip = parse_ip(src).ok_or_else(|| super::not_an_address(src))?;
    if tenant.exempt(ip) {
        return Ok(());
    }
    let Some(cc) = country_of(src).filter(|cc| !allowed.contains(*cc)) else { return Ok(()) };
    if knock_in_set(tenant, event, ip) {
        if c.scope == "tenant" {
            let t = tenant.name.as_str();
            let summary = format!("Connections to tenant {t} from countries not allowed to reach the PBX, dropped by the \
                                   firewall's country set (the incident's campaign lists the sources and countries)");
            let evidence = vec![("allowed".to_string(), allowed_list(tenant)), ("blocked_by".to_string(), s("country set"))];
            let mut d = detection(RULE, SEVERITY, t, &summary, evidence, Vec::new());
            (d.subject_type, d.variant) = ("tenant", "set");
            c.emit(incidents, blocks, d)?;
        }
        return Ok(());
    }
    if c.scope != "ip" {
        return Ok(());
    }
    let service = match event {
        Event::Security(e) => e.service.as_str(),
        _ => "call",
    };
    let mut evidence = vec![
        ("country".to_string(), s(cc)),
        ("allowed".to_string(), allowed_list(tenant)),
        ("service".to_string(), s(service)),
    ];
    let mut orders = vec![order("block_ip", src, tenant.settings.block_seconds, None)];
    if ip.is_ipv4() && tenant.settings.country_ip_block == "set" {
        evidence.push(("blocked_by".to_string(), s("country set")));
        orders.clear();
    }
    let summary = format!("Connection from {src} in {cc}, a country not allowed to reach the PBX");
    c.emit(incidents, blocks, detection(RULE, SEVERITY, src, &summary, evidence, orders))?;
    Ok(())
}
