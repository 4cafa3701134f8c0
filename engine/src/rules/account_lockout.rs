//! account_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts", and
//! Extension Login Security, "Account Lockout for Failed Login Attempts", counted per account.
//! The port of `streams/rules/account_lockout.py` (its docstring says what it judges and why). Where the
//! Python asks the window's index (`streams.state.windex`), the port scans: the index answers as the scan does.

use std::collections::{HashMap, HashSet};

use super::{by_latest, flagged, int, is_registration, may_block, order, put, s, Check, Result, UNVERIFIED};
use crate::emit::{span_of, Detection, Order};
use crate::event::{fmt::crc32, Event, SecurityEvent};
use crate::ids::{epoch_of, HORIZON};
use crate::policy::Lockout;
use crate::record::Ev;
use crate::state::{self, ExtState};
use crate::window::{bisect_right, TimeSet};

pub const RULE: &str = "account_lockout";
const SEVERITY: &str = "alert";
const SOURCES: usize = 8;
const REPEAT: i64 = 2;
const KEEP: usize = 4096;

pub fn check(c: &mut Check<'_>, st: &mut ExtState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    let Some(account) = ev.account.as_deref().filter(|a| !a.is_empty()) else { return Ok(()) };
    let kind = if is_registration(ev) { "registration" } else { "login" };
    let cfg = if kind == "registration" { &c.tenant.settings.registration_lockout } else { &c.tenant.settings.login_lockout };
    let slot = st.account_failures.slot(kind.to_string(), state::TimeSet::default);
    let mut window = st.account_failures.0[slot].1.take_window();
    let source = u64::from(crc32(ev.src_ip.as_bytes()));
    st.account_source_ips.set(i128::from(source), ev.src_ip.clone());
    let span = span_of(&[order("lock_account", "", cfg.block_seconds, None)], c.tenant);
    let seconds = cfg.seconds as f64;
    if let Some(i) = window.add(c.ts, flagged(source, event)) {
        let mut groups: Vec<((i64, bool), Vec<f64>)> = Vec::new();
        for (at, _) in window.exceeded(i, seconds, cfg.failures - 1, None)? {
            if sources_in(&window, at, seconds) >= 2 {
                let key = (epoch_of(at, span)?, may_block(c.tenant, &window, at, seconds));
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, ends)) => ends.push(at),
                    None => groups.push((key, vec![at])),
                }
            }
        }
        for ((epoch, ok), ends) in groups {
            detect(c, cfg, kind, st, &window, epoch, ok, &ends, span, ev, account)?;
        }
    }
    window.prune(c.settled - seconds - HORIZON, KEEP);
    st.account_failures.0[slot].1 = state::TimeSet::from_window(window);
    forget(st, c.settled - seconds - HORIZON, span);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn detect(c: &mut Check<'_>, cfg: &Lockout, kind: &str, st: &mut ExtState, window: &TimeSet, epoch: i64, ok: bool,
          ends: &[f64], span: f64, ev: &SecurityEvent, account: &str) -> Result<()> {
    let at = ends[0];
    let n = window.count(at, cfg.seconds as f64);
    let variant = if ok { kind.to_string() } else { format!("{kind}/unverified") };
    let ikey = format!("{}|{RULE}|account|{account}|{variant}|{}", c.tenant.name, epoch_of(at, span)?);
    let quiet = st.incidents.0.iter().any(|(k, _)| *k == ikey);
    let named: Vec<String> = if quiet { Vec::new() } else { sources(st, window, at - cfg.seconds as f64, at) };
    let mut evidence = vec![
        ("failures".to_string(), int(n)),
        ("seconds".to_string(), int(cfg.seconds)),
        ("kind".to_string(), s(kind)),
        ("sources".to_string(), Ev::List(named[named.len().saturating_sub(SOURCES)..].iter().map(|n| s(n)).collect())),
        ("service".to_string(), s(&ev.service)),
    ];
    let actions = if ok { Some(locks(c, cfg, st, window, kind, epoch, ends, account, &mut evidence, quiet)) } else { None };
    if actions.is_none() {
        put(&mut evidence, "unverified", s(UNVERIFIED));
    }
    let many = if named.is_empty() { "more than one".to_string() } else { named.len().to_string() };
    let summary = format!("Account {account} locked: {n} failed {kind}s in {} s from {many} source addresses", cfg.seconds);
    let d = Detection {
        rule: RULE, severity: SEVERITY, subject_type: "account", subject: account, summary: &summary, evidence,
        actions: actions.unwrap_or_default(), variant: &variant, at: Some(at), span: Some(span), tenant: None, adds: true,
    };
    c.emit(&mut st.incidents, None, d)?;
    Ok(())
}

/// `_locks`: the locks not yet ordered in this epoch.
#[allow(clippy::too_many_arguments)]
fn locks(c: &Check<'_>, cfg: &Lockout, st: &mut ExtState, window: &TimeSet, kind: &str, epoch: i64, ends: &[f64],
         account: &str, evidence: &mut Vec<(String, Ev)>, quiet: bool) -> Vec<Order> {
    let trust = c.tenant.settings.block_on_unverified_udp;
    let at = st.account_locked.slot(format!("{kind}|{epoch}"), Vec::new);
    let done = &mut st.account_locked.0[at].1;
    let (lo, hi) = (ends[0] - cfg.seconds as f64, ends[ends.len() - 1]);
    let ips: Vec<Option<String>> = if cfg.lock_scope == "account" {
        let ips = if done.contains(&0) { Vec::new() } else { vec![None] };
        *done = vec![0];
        ips
    } else if quiet && !trust && no_repeat(window, lo, hi) {
        Vec::new()
    } else {
        let counts = counts(window, lo, hi);
        let names: HashMap<u64, &str> = st.account_source_ips.0.iter().map(|(k, v)| (*k as u64, v.as_str())).collect();
        let score = |&(n, p): &(i64, i64)| if trust { n } else { p };
        let allowed: Vec<&str> = counts.iter().filter(|(_, c)| score(c) >= REPEAT).filter_map(|(s, _)| names.get(s).copied()).collect();
        let once = counts.iter().filter(|(_, c)| 0 < score(c) && score(c) < REPEAT).count();
        if once > 0 {
            put(evidence, "not_locked", s(&format!(
                "{once} source(s) with a single failure: not locked for the account (a source that does not come back \
                 is stopped by no lock; lock_scope: account locks it for every address)")));
        }
        let known: HashSet<i128> = done.iter().copied().collect();
        let ips: Vec<&str> = allowed.into_iter().filter(|ip| !known.contains(&i128::from(crc32(ip.as_bytes())))).collect();
        done.extend(ips.iter().map(|ip| i128::from(crc32(ip.as_bytes()))));
        if !trust {
            let mut unverified: Vec<&str> = counts.iter().filter(|(_, (n, p))| *n >= REPEAT && REPEAT > *p)
                .filter_map(|(s, _)| names.get(s).copied()).collect();
            unverified.sort_unstable();
            if !unverified.is_empty() {
                let shown = unverified[..unverified.len().min(SOURCES)].join(", ");
                put(evidence, "unverified", s(&format!("{UNVERIFIED}: {shown}")));
            }
        }
        ips.into_iter().map(|ip| Some(ip.to_string())).collect()
    };
    let target = format!("{}/{account}", c.tenant.name);
    ips.into_iter().map(|ip| order("lock_account", &target, cfg.block_seconds, ip.as_deref())).collect()
}

/// `_counts`: per source id, its failures in `(lo, hi]` and how many proved a round trip, by first failure.
fn counts(window: &TimeSet, lo: f64, hi: f64) -> Vec<(u64, (i64, i64))> {
    let n = window.t.len();
    let (a, b) = (bisect_right(&window.t, lo, 0, n), bisect_right(&window.t, hi, 0, n));
    let mut out: Vec<(u64, (i64, i64))> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    for &id in &window.ids[a..b.max(a)] {
        let k = *at.entry(id >> 1).or_insert_with(|| {
            out.push((id >> 1, (0, 0)));
            out.len() - 1
        });
        out[k].1 .0 += 1;
        out[k].1 .1 += (id & 1) as i64;
    }
    out
}

/// `_no_repeat`: does no entry id occur twice in `(lo, hi]`?
fn no_repeat(window: &TimeSet, lo: f64, hi: f64) -> bool {
    let n = window.t.len();
    let (a, b) = (bisect_right(&window.t, lo, 0, n), bisect_right(&window.t, hi, 0, n));
    let mut seen = HashSet::new();
    window.ids[a..b.max(a)].iter().all(|id| seen.insert(*id))
}

/// `_sources`: the addresses of the failures in `(lo, hi]`, by their latest failure.
fn sources(st: &ExtState, window: &TimeSet, lo: f64, hi: f64) -> Vec<String> {
    let names: HashMap<u64, &str> = st.account_source_ips.0.iter().map(|(k, v)| (*k as u64, v.as_str())).collect();
    by_latest(window, lo, hi, 1, None).into_iter().filter_map(|s| names.get(&s).map(|n| n.to_string())).collect()
}

/// `_sources_in`: distinct sources in the window ending at `at` (counting stops at two).
fn sources_in(window: &TimeSet, at: f64, seconds: f64) -> i64 {
    let n = window.t.len();
    let (a, b) = (bisect_right(&window.t, at - seconds, 0, n), bisect_right(&window.t, at, 0, n));
    let mut first = None;
    for &id in &window.ids[a..b.max(a)] {
        match first {
            None => first = Some(id >> 1),
            Some(f) if f != id >> 1 => return 2,
            _ => {}
        }
    }
    i64::from(first.is_some())
}

/// `_forget` after the window is pruned: the addresses no window holds any more, and the locks of epochs over.
fn forget(st: &mut ExtState, before: f64, span: f64) {
    let total: usize = st.account_failures.0.iter().map(|(_, w)| w.t.len()).sum();
    if st.account_source_ips.0.len() > 2 * total + 16 {
        let held: HashSet<i128> = st.account_failures.0.iter().flat_map(|(_, w)| w.ids.iter().map(|&i| i128::from(i >> 1))).collect();
        st.account_source_ips.0.retain(|(s, _)| held.contains(s));
    }
    st.account_locked.0.retain(|(k, _)| {
        k.rsplit_once('|').and_then(|(_, e)| e.parse::<i128>().ok()).is_none_or(|e| !super::epoch_over(e, span, before))
    });
}
