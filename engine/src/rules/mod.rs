//! The rules, one module per rule id beside its Python module in `streams/rules/`, and what they share
//! (`streams.rules._common`). So far the rules of the IP scope that judge a security event (a
//! registration or sign-in flood's source): `registration_lockout`, `login_lockout`, `auto_defense`,
//! `scanner_user_agent`, `static_defense`, `country_ip` and `global_blocklist`; and the flood's rules of the other
//! scopes, `account_lockout` (per account) and `distributed_lockout` (per tenant); and the extension's registration
//! checks, `registration_ip_restriction`, `user_agent_restriction` and `remote_registration`.
//!
//! A rule judges one event against one key's state through a [`Check`]: the event, its tenant's policy,
//! the context `emit` needs, and the one way to emit (`emit.rs`). Held to the Python by
//! `tests/engine/test_rules_engine.py`, which replays every `check` of whole replays through both.

pub mod account_lockout;
pub mod auto_defense;
pub mod country_ip;
pub mod distributed_lockout;
pub mod global_blocklist;
pub mod ip_scope;
pub mod login_lockout;
pub mod registration_ip_restriction;
pub mod registration_lockout;
pub mod remote_registration;
pub mod scanner_user_agent;
pub mod static_defense;
pub mod user_agent_restriction;

use std::collections::HashMap;

use crate::emit::{self, Detection, EmitError, Order, Out, Source};
use crate::event::{Event, Protocol, SecurityEvent};
use crate::ids::{self, HORIZON};
use crate::policy::{Lockout, Tenant};
use crate::record::Ev;
use crate::state::{Dict, Incident, IpState};
use crate::window::{bisect_right, TimeSet, WindowError};

/// What a rule may fail with: what the Python raises there.
#[derive(Debug, PartialEq)]
pub enum RuleError {
    Emit(EmitError),
    Window(WindowError),
    /// A tenant the policy documents given do not hold (`global_blocklist` judges for other tenants).
    NoTenant(String),
    /// What the Python refuses with ValueError (an address that is none).
    State(String),
    /// What the engine does not run yet for this tenant (the operator's own rules, privacy): the tenant stays
    /// with the Python detector.
    Unported(String),
}

impl From<EmitError> for RuleError {
    fn from(e: EmitError) -> Self {
        RuleError::Emit(e)
    }
}

impl From<WindowError> for RuleError {
    fn from(e: WindowError) -> Self {
        RuleError::Window(e)
    }
}

impl From<ids::EpochError> for RuleError {
    fn from(e: ids::EpochError) -> Self {
        RuleError::Emit(EmitError::Epoch(e))
    }
}

pub type Result<T> = std::result::Result<T, RuleError>;

/// The tenants' policies by name (`Policy.tenant`): what `global_blocklist` reads for another tenant.
pub type Tenants<'a> = HashMap<&'a str, &'a Tenant>;

/// `Ctx` as a rule sees it: the event's tenant, the context of `emit`, and the records emitted.
pub struct Check<'a> {
    pub tenant: &'a Tenant,
    pub tenants: &'a Tenants<'a>,
    /// "ip", "ext", "trunk" or "tenant".
    pub scope: &'a str,
    pub ts: f64,
    pub settled: f64,
    pub ident: u64,
    pub source: &'a Source,
    /// A rule of this key blocked or moved a block while this event was judged (`Ctx.blocks_changed`).
    pub blocks_changed: bool,
    pub out: &'a mut Vec<Out>,
}

impl<'a> Check<'a> {
    /// `ctx.emit(...)` on an IP key (its incidents and its blocks).
    pub fn emit_ip(&mut self, st: &mut IpState, d: Detection<'_>) -> Result<bool> {
        self.emit(&mut st.incidents, Some(&mut st.blocks), d)
    }

    /// `ctx.emit(...)` on a key's incidents (and, on an IP key, its blocks).
    pub fn emit(&mut self, incidents: &mut Dict<String, Incident>, blocks: Option<&mut Dict<String, Vec<Vec<f64>>>>,
                d: Detection<'_>) -> Result<bool> {
        let mut ctx = emit::Ctx {
            tenant: self.tenant, scope: self.scope, ts: self.ts, settled: self.settled, ident: self.ident,
            source: self.source, incidents, blocks, blocks_changed: self.blocks_changed, out: self.out,
        };
        let made = ctx.emit(d)?;
        self.blocks_changed = ctx.blocks_changed;
        Ok(made)
    }

    /// `Policy.tenant(name)`.
    pub fn tenant_named(&self, name: &str) -> Result<&'a Tenant> {
        if name == self.tenant.name {
            return Ok(self.tenant);
        }
        self.tenants.get(name).copied().ok_or_else(|| RuleError::NoTenant(name.to_string()))
    }
}

/// What `parse_ip` raises for a text that is no address (the event contract lets none through).
pub fn not_an_address(text: &str) -> RuleError {
    RuleError::State(format!("{} does not appear to be an IPv4 or IPv6 address", crate::seclog::py::repr(text)))
}

/// An `Order` record.
pub fn order(kind: &str, target: &str, duration_s: Option<i64>, from_ip: Option<&str>) -> Order {
    Order { kind: kind.to_string(), target: target.to_string(), duration_s, from_ip: from_ip.map(str::to_string) }
}

/// A detection with the defaults of `emit`'s keywords.
pub fn detection<'d>(rule: &'d str, severity: &'d str, subject: &'d str, summary: &'d str,
                     evidence: Vec<(String, Ev)>, actions: Vec<Order>) -> Detection<'d> {
    Detection {
        rule, severity, subject_type: "ip", subject, summary, evidence, actions, variant: "", at: None, span: None,
        tenant: None, adds: false,
    }
}

pub fn s(text: &str) -> Ev {
    Ev::Str(text.to_string())
}

pub fn opt(text: Option<&str>) -> Ev {
    text.map_or(Ev::Null, s)
}

pub fn int(n: i64) -> Ev {
    Ev::Int(i128::from(n))
}

/// `evidence[key] = value` (`emit::set`).
pub fn put(evidence: &mut Vec<(String, Ev)>, key: &str, value: Ev) {
    emit::set(evidence, key, value);
}

// -- streams.rules._common ------------------------------------------------------------------------

/// `is_registration`.
pub fn is_registration(ev: &SecurityEvent) -> bool {
    match ev.action.as_deref() {
        Some("register") => true,
        None => ev.service == "sip",
        Some("invite") => {
            ev.outcome.as_str() == "failure" && ev.dialled.is_none() && (ev.service == "sip" || ev.service == "iax2")
        }
        Some(_) => false,
    }
}

/// `event_kind`: what a rule may ask for in `WANTS`: `reg_|login_|other_` + outcome, or `<direction>_<phase>`.
pub fn event_kind(event: &Event) -> String {
    const LOGIN_SERVICES: [&str; 6] = ["web", "app", "api", "ami", "http", "https"];
    match event {
        Event::Cdr(e) => format!("{}_{}", e.direction.as_str(), e.phase.as_str()),
        Event::Unblock(_) => "unblock".to_string(),
        Event::Security(e) => {
            let what = if is_registration(e) {
                "reg"
            } else if e.action.as_deref() == Some("login") || (e.action.is_none() && LOGIN_SERVICES.contains(&e.service.as_str())) {
                "login"
            } else {
                "other"
            };
            format!("{what}_{}", e.outcome.as_str())
        }
    }
}

/// `verified`: does the event prove its source address?
pub fn verified(ev: &Event) -> bool {
    match ev {
        Event::Security(e) => !(e.round_trip == Some(false) && matches!(e.protocol, None | Some(Protocol::Udp))),
        _ => true,
    }
}

/// `flagged`: a window entry's identity with the event's proof in the lowest bit.
pub fn flagged(ident: u64, ev: &Event) -> u64 {
    (ident << 1) | u64::from(verified(ev))
}

/// `proven`: does the window `(at - seconds, at]` hold a proven entry (of `ident`'s source when given)?
pub fn proven(window: &TimeSet, at: f64, seconds: f64, ident: Option<u64>) -> bool {
    let n = window.t.len();
    let (lo, hi) = (bisect_right(&window.t, at - seconds, 0, n), bisect_right(&window.t, at, 0, n));
    window.ids[lo..hi.max(lo)].iter().any(|&i| i & 1 == 1 && ident.is_none_or(|who| i >> 1 == who))
}

/// `may_block`.
pub fn may_block(tenant: &Tenant, window: &TimeSet, at: f64, seconds: f64) -> bool {
    tenant.settings.block_on_unverified_udp || proven(window, at, seconds, None)
}

pub const UNVERIFIED: &str = "every failure counted needed no round trip over UDP, so its source may be forged: \
                              alert only (block_on_unverified_udp)";

/// `proven_orders`: a window detection's orders and incident variant.
pub fn proven_orders(ok: bool, orders: Vec<Order>, evidence: &mut Vec<(String, Ev)>) -> (Vec<Order>, &'static str) {
    if orders.is_empty() || ok {
        return (orders, "");
    }
    put(evidence, "not_blocked", s(UNVERIFIED));
    (Vec::new(), "unverified")
}

/// `event_orders`: one event's orders and incident variant.
pub fn event_orders(tenant: &Tenant, ev: &Event, orders: Vec<Order>, evidence: &mut Vec<(String, Ev)>)
                    -> (Vec<Order>, &'static str) {
    if orders.is_empty() || verified(ev) || tenant.settings.block_on_unverified_udp {
        return (orders, "");
    }
    put(evidence, "not_blocked", s(&UNVERIFIED.replace("every failure counted", "the event")));
    (Vec::new(), "unverified")
}

/// `lock_orders`.
pub fn lock_orders(tenant: &Tenant, cfg: &Lockout, accounts: &[&str], source: &str) -> Vec<Order> {
    if !cfg.lock_account {
        return Vec::new();
    }
    let scoped = (cfg.lock_scope == "source").then_some(source);
    accounts.iter().map(|a| order("lock_account", &format!("{}/{a}", tenant.name), cfg.block_seconds, scoped)).collect()
}

/// `first_per_epoch`: the earliest hit of each incident epoch.
pub fn first_per_epoch(hits: Vec<(f64, i64)>, span: f64) -> Result<Vec<(f64, i64)>> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (at, n) in hits {
        let e = ids::epoch_of(at, span)?;
        if !seen.contains(&e) {
            seen.push(e);
            out.push((at, n));
        }
    }
    Ok(out)
}

/// `by_latest`: the distinct `id >> shift` of the entries in `(lo, hi]` (but `none`), oldest latest first.
pub fn by_latest(window: &TimeSet, lo: f64, hi: f64, shift: u32, none: Option<u64>) -> Vec<u64> {
    let n = window.t.len();
    let (a, b) = (bisect_right(&window.t, lo, 0, n), bisect_right(&window.t, hi, 0, n));
    let mut latest: HashMap<u64, usize> = HashMap::new();
    for k in a..b.max(a) {
        let who = window.ids[k] >> shift;
        if Some(who) != none {
            latest.insert(who, k);
        }
    }
    let mut out: Vec<(usize, u64)> = latest.into_iter().map(|(w, k)| (k, w)).collect();
    out.sort_unstable();
    out.into_iter().map(|(_, w)| w).collect()
}

/// `proven_hits`: add the entry, the first window end of each epoch over `limit`, each with `may_block`
/// (judged before the window forgets anything), then prune.
#[allow(clippy::too_many_arguments)]
pub fn proven_hits(tenant: &Tenant, settled: f64, window: &mut TimeSet, time: f64, seconds: f64, limit: i64,
                   span: f64, ident: u64) -> Result<Vec<(f64, i64, bool)>> {
    let Some(i) = window.add(time, ident) else { return Ok(Vec::new()) };
    let mut hits = window.exceeded(i, seconds, limit, Some(span))?;
    if hits.len() > 1 {
        hits = first_per_epoch(hits, span)?;
    }
    let judged = hits.into_iter().map(|(at, n)| (at, n, may_block(tenant, window, at, seconds))).collect();
    let keep = limit.saturating_add(1).saturating_mul(4).max(64);  // Python's ints do not wrap
    window.prune(settled - seconds - HORIZON, usize::try_from(keep).unwrap_or(0));
    Ok(judged)
}

/// A state slot's window as the port's, its entries moved out (`put_back` moves them back).
pub fn take(slot: &mut Option<crate::state::TimeSet>) -> TimeSet {
    slot.as_mut().map_or_else(TimeSet::new, crate::state::TimeSet::take_window)
}

/// The window back into its state slot.
pub fn put_back(window: TimeSet) -> Option<crate::state::TimeSet> {
    Some(crate::state::TimeSet::from_window(window))
}

/// Is the incident epoch `epoch` of `span` over before `before` (`(epoch + 1) * span < before`)? What a rule
/// forgets of its epochs' orders; false where Python's comparison is (a NaN).
pub fn epoch_over(epoch: i128, span: f64, before: f64) -> bool {
    ((epoch + 1) as f64) * span < before
}

/// Python's `format(x, "g")`.
pub fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |t: &str| -> String {
        if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_string() } else { t.to_string() }
    };
    if (-4..6).contains(&exp) {
        trim(&format!("{x:.*}", usize::try_from(5 - exp).unwrap_or(0)))
    } else {
        format!("{}e{}{:02}", trim(mantissa), if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_g_is_pythons() {
        for (x, want) in [(2.0, "2"), (0.5, "0.5"), (60.0, "60"), (1e-5, "1e-05"), (1234567.0, "1.23457e+06"),
                          (123456.0, "123456"), (0.0001, "0.0001"), (1.5e300, "1.5e+300"), (99999.95, "99999.9"),
                          (999999.5, "1e+06"), (-2.25, "-2.25")] {
            assert_eq!(fmt_g(x), want, "{x}");
        }
    }
}
