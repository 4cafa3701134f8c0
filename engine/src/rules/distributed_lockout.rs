//! distributed_lockout — guide: Endpoint Security and Extension Login Security, "Account Lockout", counted across
//! the tenant. The port of `streams/rules/distributed_lockout.py` (its docstring says what it judges and why).
//! Where the Python asks the window's index (`streams.state.windex`), the port scans, stopping at `enough`.

use std::collections::HashSet;

use super::{first_per_epoch, int, s, Check, Result};
use crate::emit::Detection;
use crate::event::{fmt::crc32, SecurityEvent};
use crate::ids::{epoch_of, HORIZON};
use crate::record::Ev;
use crate::state::{Dict, TenantState};
use crate::window::{bisect_right, TimeSet};

pub const RULE: &str = "distributed_lockout";
const SEVERITY: &str = "critical";
const KEEP: usize = 64;
const DISTINCT_KEEP: usize = 4096;

/// `note_name`: remember `name` at its latest time; past `keep` names (amortised) the least recent go.
pub fn note_name(seen: &mut Dict<String, f64>, name: &str, ts: f64, keep: usize) {
    match seen.0.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => {
            if ts >= slot.1 {
                slot.1 = ts;
            }
        }
        None => seen.0.push((name.to_string(), ts)),
    }
    if seen.0.len() > keep + keep / 2 {
        let mut by_time: Vec<(f64, &String)> = seen.0.iter().map(|(n, t)| (*t, n)).collect();
        by_time.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(b.1)));
        let gone: HashSet<String> = by_time[..seen.0.len() - keep].iter().map(|(_, n)| (*n).clone()).collect();
        seen.0.retain(|(n, _)| !gone.contains(n));
    }
}

/// `names_during`: names last seen within `seconds` of `at` (either side), oldest first.
pub fn names_during(seen: &Dict<String, f64>, at: f64, seconds: f64) -> Vec<String> {
    let mut by_time: Vec<(f64, &String)> = seen.0.iter().map(|(n, t)| (*t, n)).collect();
    by_time.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(b.1)));
    by_time.into_iter().filter(|&(t, _)| at - seconds <= t && t <= at + seconds).map(|(_, n)| n.clone()).collect()
}

/// Distinct ids among the entries in `(lo, hi]`, counting stops at `enough`.
fn distinct(window: &TimeSet, lo: f64, hi: f64, enough: i64) -> i64 {
    let n = window.t.len();
    let (a, b) = (bisect_right(&window.t, lo, 0, n), bisect_right(&window.t, hi, 0, n));
    let mut seen = HashSet::new();
    for &id in &window.ids[a..b.max(a)] {
        seen.insert(id);
        if seen.len() as i64 >= enough {
            break;
        }
    }
    seen.len() as i64
}

fn note(window: &mut TimeSet, ts: f64, name: &str, before: f64) {
    window.add(ts, u64::from(crc32(name.as_bytes())));
    window.prune(before, DISTINCT_KEEP);
}

pub fn check(c: &mut Check<'_>, st: &mut TenantState, ev: &SecurityEvent) -> Result<()> {
    let cfg = &c.tenant.settings.distributed_lockout;
    let seconds = cfg.seconds as f64;
    let before = c.settled - seconds - HORIZON;
    let mut failures = super::take(&mut st.failures);
    let (mut sources_w, mut accounts_w) = if st.failure_sources.is_none() {
        (TimeSet::new(), TimeSet::new())
    } else {
        (super::take(&mut st.failure_sources), super::take(&mut st.failure_accounts))
    };
    note_name(&mut st.sources, &ev.src_ip, c.ts, KEEP);
    let account = ev.account.as_deref().unwrap_or_default();
    if !account.is_empty() {
        note_name(&mut st.accounts, account, c.ts, KEEP);
    }
    note(&mut sources_w, c.ts, &ev.src_ip, before);
    note(&mut accounts_w, c.ts, account, before);
    let span = c.tenant.settings.incident_seconds as f64;
    let mut hits = Vec::new();
    if let Some(i) = failures.add(c.ts, c.ident) {
        hits = failures.exceeded(i, seconds, cfg.failures, Some(span))?;
        if hits.len() > 1 {
            hits = first_per_epoch(hits, span)?;
        }
        failures.prune(before, DISTINCT_KEEP);
    }
    st.failures = super::put_back(failures);
    let t = c.tenant.name.clone();
    for (at, n) in hits {
        let n_sources = distinct(&sources_w, at - seconds, at, cfg.sources);
        let n_accounts = distinct(&accounts_w, at - seconds, at, cfg.accounts);
        if n_sources < cfg.sources || n_accounts < cfg.accounts {
            continue;
        }
        let ikey = format!("{t}|{RULE}|tenant|{t}|tenant|{}", epoch_of(at, span)?);
        let head = format!("Distributed brute force on tenant {t}: {n} failed logins and registrations in {} s", cfg.seconds);
        let (summary, evidence) = if st.incidents.0.iter().any(|(k, _)| *k == ikey) {
            (head, Vec::new())
        } else {
            let sources = names_during(&st.sources, at, seconds);
            let accounts = names_during(&st.accounts, at, seconds);
            let plus = |d: &[String]| if d.len() >= KEEP { "+" } else { "" };
            let last16 = |d: &[String]| Ev::List(d[d.len().saturating_sub(16)..].iter().map(|n| s(n)).collect());
            (format!("{head} from {}{} addresses against {}{} accounts", n_sources.max(sources.len() as i64), plus(&sources),
                     n_accounts.max(accounts.len() as i64), plus(&accounts)),
             vec![("failures".to_string(), int(n)), ("seconds".to_string(), int(cfg.seconds)),
                  ("sources".to_string(), last16(&sources)), ("accounts".to_string(), last16(&accounts))])
        };
        let d = Detection {
            rule: RULE, severity: SEVERITY, subject_type: "tenant", subject: &t, summary: &summary, evidence,
            actions: Vec::new(), variant: "tenant", at: Some(at), span: None, tenant: None, adds: false,
        };
        c.emit(&mut st.incidents, None, d)?;
    }
    st.failure_sources = super::put_back(sources_w);
    st.failure_accounts = super::put_back(accounts_w);
    Ok(())
}
