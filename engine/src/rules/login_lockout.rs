//! login_lockout — guide: Extension Login Security, "Account Lockout for Failed Login Attempts".
//! The port of `streams/rules/login_lockout.py` (its docstring says what it judges and why).

use super::{detection, first_per_epoch, flagged, int, lock_orders, may_block, opt, order, proven_orders, s,
            Check, Result};
use crate::emit::span_of;
use crate::event::{Event, SecurityEvent};
use crate::ids::{FOREVER, HORIZON};
use crate::record::Ev;
use crate::seclog::py::upper;
use crate::state::IpState;

pub const RULE: &str = "login_lockout";
const SEVERITY: &str = "alert";

pub fn check(c: &mut Check<'_>, st: &mut IpState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    let cfg = &c.tenant.settings.login_lockout;
    let mut window = super::take(&mut st.login_lockout);
    let added = window.add(c.ts, flagged(c.ident, event));
    let Some(i) = added else {
        st.login_lockout = super::put_back(window);
        return Ok(());
    };
    let who = match ev.service.as_str() {
        "web" | "http" | "https" => "Web".to_string(),
        "app" => "App".to_string(),
        other => upper(other),
    };
    let mut temp = vec![order("block_ip", &ev.src_ip, cfg.block_seconds, None)];
    if let Some(account) = ev.account.as_deref().filter(|a| !a.is_empty()) {
        temp.extend(lock_orders(c.tenant, cfg, &[account], &ev.src_ip));
    }
    let span = span_of(&temp, c.tenant);
    let evidence = |n: i64, seconds: i64, permanent: bool| vec![
        ("failures".to_string(), int(n)),
        ("seconds".to_string(), int(seconds)),
        ("service".to_string(), s(&ev.service)),
        ("account".to_string(), opt(ev.account.as_deref())),
        ("permanent".to_string(), Ev::Bool(permanent)),
    ];
    let seconds = cfg.seconds as f64;
    for (at, n) in first_per_epoch(window.exceeded(i, seconds, cfg.failures - 1, None)?, span)? {
        let mut ev_ = evidence(n, cfg.seconds, false);
        let (acts, variant) = proven_orders(may_block(c.tenant, &window, at, seconds), temp.clone(), &mut ev_);
        let summary = format!("{who} User Blocked Out: {n} failed logins from {} in {} s; denied temporarily",
                              ev.src_ip, cfg.seconds);
        let mut d = detection(RULE, SEVERITY, &ev.src_ip, &summary, ev_, acts);
        (d.variant, d.at, d.span) = (variant, Some(at), Some(span));
        c.emit_ip(st, d)?;
    }
    let mut longest = cfg.seconds;
    if let Some(max_failures) = cfg.max_failures.filter(|&m| m != 0) {
        longest = longest.max(cfg.max_seconds);
        let max_seconds = cfg.max_seconds as f64;
        for (at, n) in first_per_epoch(window.exceeded(i, max_seconds, max_failures - 1, None)?, FOREVER)? {
            let mut ev_ = evidence(n, cfg.max_seconds, true);
            let (acts, variant) = proven_orders(may_block(c.tenant, &window, at, max_seconds),
                                                vec![order("block_ip", &ev.src_ip, None, None)], &mut ev_);
            let summary = format!("{who} User Blocked Out: {n} failed logins from {}; banned permanently", ev.src_ip);
            let variant = if variant.is_empty() { "permanent".to_string() } else { format!("permanent/{variant}") };
            let mut d = detection(RULE, "critical", &ev.src_ip, &summary, ev_, acts);
            (d.variant, d.at, d.span) = (&variant, Some(at), Some(FOREVER));
            c.emit_ip(st, d)?;
        }
    }
    let keep = cfg.failures.max(cfg.max_failures.unwrap_or(0)).saturating_mul(4).max(64);  // Python's ints do not wrap
    window.prune(c.settled - longest as f64 - HORIZON, usize::try_from(keep).unwrap_or(0));
    st.login_lockout = super::put_back(window);
    Ok(())
}
