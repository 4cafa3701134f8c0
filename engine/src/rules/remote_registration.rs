//! remote_registration — guide: Extension Registration Security, "Restrict Remote Registration".
//! The port of `streams/rules/remote_registration.py` (its docstring says what it judges and why).

use super::{detection, event_orders, is_registration, opt, order, s, Check, Result};
use crate::event::{Event, SecurityEvent};
use crate::policy::parse_ip;
use crate::state::ExtState;

pub const RULE: &str = "remote_registration";
const SEVERITY: &str = "warning";

pub fn check(c: &mut Check<'_>, st: &mut ExtState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    if ev.outcome.as_str() == "failure" || !is_registration(ev) {
        return Ok(());
    }
    let tenant = c.tenant;
    let ip = parse_ip(&ev.src_ip).ok_or_else(|| super::not_an_address(&ev.src_ip))?;
    if tenant.exempt(ip) {
        return Ok(());
    }
    let account = ev.account.as_deref();
    let ext = tenant.ext(account);
    let mut why = None;
    if ext.remote_registration == Some(false) {
        why = Some("the extension may not register remotely");
    } else {
        let rr = tenant.remote_registration.as_ref();
        if let Some(rr) = rr.filter(|_| ext.remote_registration != Some(true)) {
            let listed = account.is_some_and(|a| rr.accounts.iter().any(|x| x == a));
            if rr.access == "allowed" && !listed {
                why = Some("the account is not on the remote-registration allowed list");
            } else if rr.access == "restricted" && listed {
                why = Some("the account is on the remote-registration restricted list");
            }
        }
        if let Some(rr) = rr {
            if why.is_none() && !rr.permitted_ips.is_empty() && !rr.permitted_ips.iter().any(|n| n.contains(ip)) {
                why = Some("the address is not a permitted remote IP");
            }
        }
    }
    let Some(why) = why else { return Ok(()) };
    let mut evidence = vec![
        ("src_ip".to_string(), s(&ev.src_ip)),
        ("reason".to_string(), s(why)),
        ("user_agent".to_string(), opt(ev.user_agent.as_deref())),
        ("outcome".to_string(), s(ev.outcome.as_str())),
    ];
    let orders = vec![order("block_ip", &ev.src_ip, tenant.settings.block_seconds, None)];
    let (acts, variant) = event_orders(tenant, event, orders, &mut evidence);
    let account = account.unwrap_or_default();
    let summary = format!("Remote registration of extension {account} from {}: {why}", ev.src_ip);
    let mut d = detection(RULE, SEVERITY, account, &summary, evidence, acts);
    (d.subject_type, d.variant) = ("extension", variant);
    c.emit(&mut st.incidents, None, d)?;
    Ok(())
}
