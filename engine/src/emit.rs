//! The one way to emit an alert: `streams.core.detector.Ctx.emit` and what it calls (`_join`, `_actions`,
//! `_order`, `_seen`, `span`, `_incident_span`, `_prune_incidents`, `block`, `_extend_blocks`), over a
//! key's incidents and blocks as the Rust state types hold them (engine/src/state/).
//!
//! A detection opens the incident `(tenant, rule, subject, variant, epoch)` and raises its alert (and, in
//! enforce mode, its actions), or is counted into the incident already open: an earlier one moves its
//! start and its blocks, a call in progress it names is still cut, and a rule that `adds` gets its new
//! orders out. Every detection goes to the incident fold as a `Seen`. Held to the Python by
//! `tests/engine/test_emit_engine.py`, which replays every `emit` of whole replays through both.
//!
//! Not here yet: the tenant's `privacy` (pseudonymising what people read): a tenant with it on is
//! refused (`EmitError::Privacy`), so the engine never writes in clear what the policy says to hide.
//! A CDR's cost is given (the rate table stays in Python until the rules that need it are ported).

use crate::ids::{self, EpochError, IsoError, FOREVER, HORIZON};
use crate::policy::{self, Tenant};
use crate::record::{Action, Alert, Ev, Seen};
use crate::state::{Dict, Incident};

pub const MAX_INCIDENTS: usize = 32;
const BLOCKING: [&str; 3] = ["block_ip", "lock_account", "disable_outbound"];
/// `streams.domain.campaigns.FAMILIES`' rules (a test holds the two lists together).
pub const CAMPAIGN_RULES: [&str; 9] = [
    "registration_lockout", "login_lockout", "account_lockout", "distributed_lockout", "country_ip",
    "scanner_user_agent", "inbound_probe", "route_scan", "auto_defense",
];

#[derive(Debug, PartialEq)]
pub enum EmitError {
    /// The tenant pseudonymises what people read: not in the engine yet.
    Privacy,
    Epoch(EpochError),
    Iso(IsoError),
    /// A block span in the key's state that is not `[start, until]` (Python's ValueError when it unpacks it).
    BadSpan(usize),
}

impl From<EpochError> for EmitError {
    fn from(e: EpochError) -> Self {
        EmitError::Epoch(e)
    }
}

impl From<IsoError> for EmitError {
    fn from(e: IsoError) -> Self {
        EmitError::Iso(e)
    }
}

/// `streams.rules.contract.Order`.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub kind: String,
    pub target: String,
    pub duration_s: Option<i64>,
    pub from_ip: Option<String>,
}

/// What `_seen` reads of the event being judged (None: a timer or the model's flush).
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    None,
    /// A CDR: its call id and cost (the record's, else what the rate table makes of its billed seconds).
    Cdr { call_id: String, cost: Option<f64> },
    Security { outcome: String, src_ip: String, account: Option<String> },
}

/// An output record, in the order the detector appends them.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Alert(Alert),
    Seen(Seen),
}

/// A rule's view of one key while it judges one event: `Ctx`'s part that emitting needs.
pub struct Ctx<'a> {
    pub tenant: &'a Tenant,
    /// "ip", "ext", "trunk" or "tenant".
    pub scope: &'a str,
    pub ts: f64,
    /// `Ctx.settled`: the tenant's watermark or this event's time, whichever is earlier.
    pub settled: f64,
    /// The event's identity (`Ctx.ident`); 0 without an event.
    pub ident: u64,
    pub source: &'a Source,
    pub incidents: &'a mut Dict<String, Incident>,
    /// The IP key's blocks per tenant (None in the other scopes).
    pub blocks: Option<&'a mut Dict<String, Vec<Vec<f64>>>>,
    pub blocks_changed: bool,
    pub out: &'a mut Vec<Out>,
}

/// One call of `emit`.
pub struct Detection<'a> {
    pub rule: &'a str,
    pub severity: &'a str,
    pub subject_type: &'a str,
    pub subject: &'a str,
    pub summary: &'a str,
    pub evidence: Vec<(String, Ev)>,
    pub actions: Vec<Order>,
    pub variant: &'a str,
    pub at: Option<f64>,
    pub span: Option<f64>,
    /// Another tenant's policy (`tenant=`: global_blocklist judges for every tenant).
    pub tenant: Option<&'a Tenant>,
    pub adds: bool,
}

/// `d[key] = value` on a dict kept as its items (a state `Dict`'s, an evidence's): in place where the key
/// is, else at the end, as a Python dict keeps its order.
pub(crate) fn set<V>(items: &mut Vec<(String, V)>, key: &str, value: V) {
    match items.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => items.push((key.to_string(), value)),
    }
}

/// `_exempt`: an address the tenant never blocks; what is no address is refused too.
fn exempt(tenant: &Tenant, address: &str) -> bool {
    match policy::parse_ip(address) {
        Some(ip) => tenant.exempt(ip),
        None => true,
    }
}

/// `Ctx.span`: an incident's epoch length, the block or bar its actions cause, else `incident_seconds`.
pub fn span_of(actions: &[Order], tenant: &Tenant) -> f64 {
    for a in actions {
        if BLOCKING.contains(&a.kind.as_str()) {
            return match a.duration_s {
                None => FOREVER,
                Some(d) => d.max(1) as f64,
            };
        }
    }
    tenant.settings.incident_seconds as f64
}

/// `_incident_span`: how long a detection keeps its incident open.
fn incident_span(span: f64, actions: &[Order], tenant: &Tenant) -> f64 {
    if span < FOREVER || actions.iter().any(|a| BLOCKING.contains(&a.kind.as_str()) && a.duration_s.is_none()) {
        span
    } else {
        tenant.settings.incident_seconds as f64
    }
}

/// `streams.domain.campaigns.campaign_of`.
fn campaign_of(rule: &str, at: f64, seconds: i64, alone: bool) -> Result<Option<String>, EmitError> {
    if !CAMPAIGN_RULES.contains(&rule) || seconds == 0 || alone {
        return Ok(None);
    }
    let epoch = ids::epoch_of(at, seconds as f64)?;
    Ok(Some(ids::iso_text((i128::from(epoch) * i128::from(seconds)) as f64)?))
}

impl Ctx<'_> {
    /// `Ctx.emit`: Ok(true) when a new alert was raised.
    pub fn emit(&mut self, d: Detection<'_>) -> Result<bool, EmitError> {
        let tenant = d.tenant.unwrap_or(self.tenant);
        let (mode, severity_set) = tenant.rule(d.rule);
        if mode == "off" {
            return Ok(false);
        }
        if tenant.settings.privacy_active() {
            return Err(EmitError::Privacy);
        }
        let at = d.at.unwrap_or(self.ts);
        let span = d.span.unwrap_or_else(|| span_of(&d.actions, tenant));
        let epoch = ids::epoch_of(at, span)?;
        let ikey = format!("{}|{}|{}|{}|{}|{}", tenant.name, d.rule, d.subject_type, d.subject, d.variant, epoch);
        let severity = severity_set.unwrap_or(d.severity);
        if let Some(open) = self.incidents.0.iter().position(|(k, _)| *k == ikey) {
            self.join(tenant, open, mode, severity, &d, at, span)?;
            return Ok(false);
        }
        if self.incidents.0.len() >= MAX_INCIDENTS {
            self.prune_incidents();
        }
        let alert_id = ids::alert_id(&tenant.name, d.rule, d.subject_type, d.subject, d.variant, epoch);
        let until = if span >= FOREVER { FOREVER } else { (i128::from(epoch) + 1) as f64 * span };
        set(&mut self.incidents.0, &ikey, Incident { first: at, count: 1, alert_id: alert_id.clone(), until });
        ids::iso(at)?; // the alert's `ts`: where Python's `iso(at)` raises, after the incident is open
        let mut seen = self.seen(tenant, &alert_id, at, d.rule, severity, d.subject_type, d.subject, d.summary,
                                 incident_span(span, &d.actions, tenant))?;
        let mut evidence = d.evidence;
        if mode == "enforce" {
            seen.actions = self.actions(tenant, &alert_id, &d.actions, at, &mut evidence, d.summary)?;
        }
        let alert = Alert {
            alert_id, ts: at, tenant: tenant.name.clone(), rule: d.rule.to_string(), severity: severity.to_string(),
            subject_type: d.subject_type.to_string(), subject: d.subject.to_string(), summary: d.summary.to_string(),
            evidence, mode: mode.to_string(),
        };
        self.out.push(Out::Alert(alert));
        self.out.push(Out::Seen(seen));
        Ok(true)
    }

    /// `_join`: a detection in an incident already open.
    #[allow(clippy::too_many_arguments)]
    fn join(&mut self, tenant: &Tenant, open: usize, mode: &str, severity: &str, d: &Detection<'_>, at: f64,
            span: f64) -> Result<(), EmitError> {
        let slot = &mut self.incidents.0[open].1;
        slot.count += 1;
        let alert_id = slot.alert_id.clone();
        let earlier = at < slot.first;
        if earlier {
            slot.first = at;
        }
        if earlier && mode == "enforce" {
            self.extend_blocks(tenant, &d.actions, at)?; // a report-mode rule ordered no block to move
        }
        let mut seen = self.seen(tenant, &alert_id, at, d.rule, severity, d.subject_type, d.subject, d.summary,
                                 incident_span(span, &d.actions, tenant))?;
        if mode == "enforce" {
            for a in d.actions.iter().filter(|a| a.kind == "hangup_call") {
                seen.actions.push(Action {
                    action_id: ids::action_id(&alert_id, &a.kind, &a.target, None), ts: at,
                    tenant: tenant.name.clone(), kind: a.kind.clone(), target: a.target.clone(), duration_s: None,
                    alert_id: alert_id.clone(), reason: format!("{} (incident {alert_id})", d.summary), from_ip: None,
                });
            }
            if d.adds {
                let more: Vec<Order> = d.actions.iter().filter(|a| a.kind != "hangup_call").cloned().collect();
                if !more.is_empty() {
                    let mut scratch = Vec::new();
                    let extra = self.actions(tenant, &alert_id, &more, at, &mut scratch, d.summary)?;
                    seen.actions.extend(extra);
                }
            }
        }
        self.out.push(Out::Seen(seen));
        Ok(())
    }

    /// `_actions`: the actions a new alert orders in enforce mode, those the never-block list lets go out.
    fn actions(&mut self, tenant: &Tenant, alert_id: &str, orders: &[Order], at: f64, evidence: &mut Vec<(String, Ev)>,
               summary: &str) -> Result<Vec<Action>, EmitError> {
        let mut out = Vec::new();
        for o in orders {
            if !self.order(tenant, o, at, evidence)? {
                continue;
            }
            out.push(Action {
                action_id: ids::action_id(alert_id, &o.kind, &o.target, o.from_ip.as_deref()), ts: at,
                tenant: tenant.name.clone(), kind: o.kind.clone(), target: o.target.clone(), duration_s: o.duration_s,
                alert_id: alert_id.to_string(), reason: summary.to_string(), from_ip: o.from_ip.clone(),
            });
        }
        Ok(out)
    }

    /// `_order`: may this order go out? Never a block of, or a lock for, a LAN or static-accept address.
    fn order(&mut self, tenant: &Tenant, o: &Order, at: f64, evidence: &mut Vec<(String, Ev)>) -> Result<bool, EmitError> {
        if o.kind == "block_ip" {
            if exempt(tenant, &o.target) {
                let why = format!("{} is in the LAN or matches a static accept rule", o.target);
                set(evidence, "not_blocked", Ev::Str(why));
                return Ok(false);
            }
            if self.scope == "ip" {
                self.block(&tenant.name, at, o.duration_s)?;
            }
        } else if o.kind == "lock_account" {
            if let Some(ip) = &o.from_ip {
                if exempt(tenant, ip) {
                    set(evidence, "not_locked", Ev::Str(format!("{ip} is in the LAN or matches a static accept rule")));
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// `_seen`: the detection as the incident fold needs it (`emit` adds the actions it orders).
    #[allow(clippy::too_many_arguments)]
    fn seen(&self, tenant: &Tenant, alert_id: &str, at: f64, rule: &str, severity: &str, subject_type: &str,
            subject: &str, summary: &str, span: f64) -> Result<Seen, EmitError> {
        let (call_id, cost, alone) = match self.source {
            Source::Cdr { call_id, cost } => (Some(call_id.clone()), *cost, true),
            Source::Security { outcome, .. } => (None, None, outcome == "success"),
            Source::None => (None, None, false),
        };
        let campaign = campaign_of(rule, at, tenant.settings.campaign_seconds, alone)?;
        let (mut source, mut account, mut country) = (None, None, None);
        if let (Some(_), Source::Security { src_ip, account: acct, .. }) = (&campaign, self.source) {
            country = crate::country::country_of(src_ip).map(str::to_string);
            source = Some(src_ip.clone());
            account = acct.clone().filter(|a| !a.is_empty());
        }
        Ok(Seen {
            alert_id: alert_id.to_string(), ts: at, tenant: tenant.name.clone(), rule: rule.to_string(),
            severity: severity.to_string(), subject_type: subject_type.to_string(), subject: subject.to_string(),
            summary: summary.to_string(), span, ident: if matches!(self.source, Source::None) { 0 } else { self.ident },
            call_id, cost, actions: Vec::new(), campaign, source, account, country,
        })
    }

    /// `_prune_incidents`: forget incidents over for longer than the horizon; still full, keep the most recent.
    fn prune_incidents(&mut self) {
        let cutoff = self.settled - HORIZON;
        // `del` where `until < cutoff`: a NaN `until` is kept, as Python keeps it
        self.incidents.0.retain(|(_, v)| v.until.partial_cmp(&cutoff) != Some(std::cmp::Ordering::Less));
        let n = self.incidents.0.len();
        if n >= MAX_INCIDENTS {
            let mut order: Vec<usize> = (0..n).collect();
            // sorted() by `first`, stable: a tie keeps dict order (0.0 and -0.0 are one time, as in Python)
            order.sort_by(|&a, &b| time_cmp(self.incidents.0[a].1.first, self.incidents.0[b].1.first));
            let mut drop = vec![false; n];
            for &i in &order[..n - MAX_INCIDENTS + 1] {
                drop[i] = true;
            }
            let mut k = 0;
            self.incidents.0.retain(|_| {
                k += 1;
                !drop[k - 1]
            });
        }
    }

    /// `Ctx.block`: record in the IP key's state that `tenant` blocked it over [start, start + duration).
    fn block(&mut self, tenant: &str, start: f64, duration: Option<i64>) -> Result<(), EmitError> {
        let Some(blocks) = self.blocks.as_deref_mut() else { return Ok(()) };
        let until = match duration {
            None => FOREVER,
            Some(d) => start + d as f64,
        };
        let mut spans = blocks.0.iter().find(|(k, _)| k == tenant).map(|(_, v)| v.clone()).unwrap_or_default();
        spans.push(vec![start, until]);
        spans.sort_by(|a, b| py_list_cmp(a, b));
        if let Some(bad) = spans.iter().find(|sp| sp.len() != 2) {
            return Err(EmitError::BadSpan(bad.len())); // only a corrupt changelog value holds one
        }
        let mut merged: Vec<Vec<f64>> = Vec::new();
        for sp in spans {
            let (s, u) = (sp[0], sp[1]);
            match merged.last_mut() {
                Some(last) if s <= last[1] => {
                    if u > last[1] {
                        last[1] = u;
                    }
                }
                _ => merged.push(vec![s, u]),
            }
        }
        let keep = merged.len().saturating_sub(8);
        merged.drain(..keep);
        set(&mut blocks.0, tenant, merged);
        self.blocks_changed = true;
        Ok(())
    }

    /// `_extend_blocks`: an earlier detection moves the blocks it caused (IP scope).
    fn extend_blocks(&mut self, tenant: &Tenant, actions: &[Order], at: f64) -> Result<(), EmitError> {
        if self.scope != "ip" {
            return Ok(());
        }
        for a in actions {
            if a.kind == "block_ip" && !exempt(tenant, &a.target) {
                self.block(&tenant.name, at, a.duration_s)?;
            }
        }
        Ok(())
    }
}

/// Python's `<` of two lists of floats, as `list.sort` uses it (the first unequal item decides).
fn py_list_cmp(a: &[f64], b: &[f64]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = time_cmp(*x, *y);
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Two times as Python's `<` orders them, made total for Rust's sort: `-0.0` is `0.0`, and a NaN (which no
/// event time is: the contract refuses one) sorts after every number instead of leaving the order undefined.
fn time_cmp(x: f64, y: f64) -> std::cmp::Ordering {
    let z = |v: f64| if v == 0.0 { 0.0 } else { v };
    z(x).total_cmp(&z(y))
}
