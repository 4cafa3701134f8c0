//! registration_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts".
//! The port of `streams/rules/registration_lockout.py` (its docstring says what it judges and why).

use std::collections::{HashMap, HashSet};

use super::{by_latest, detection, flagged, int, is_registration, lock_orders, may_block, order, proven_orders, put, s,
            Check, Result};
use crate::emit::Order;
use crate::event::{fmt::crc32, Event, SecurityEvent};
use crate::ids::{epoch_of, HORIZON};
use crate::policy::Lockout;
use crate::record::Ev;
use crate::state::IpState;
use crate::window::{bisect_right, TimeSet};

pub const RULE: &str = "registration_lockout";
const SEVERITY: &str = "alert";
const SHOWN: usize = 5;
const REPEAT: i64 = 2;
const BLOCKED: i128 = -1;
const MAX_LOCKS: i64 = 64;
const KEEP: i64 = 256;
const ACCOUNT_BITS: u32 = 31;
const LOW33: u64 = (1 << 33) - 1;

/// The window ends over the limit per (incident epoch, may block), in the order first found.
type Groups = Vec<((i64, bool), Vec<(f64, i64)>)>;

/// `account_id`: the account's 31-bit hash in a window entry (0: no account).
pub fn account_id(account: Option<&str>) -> u64 {
    match account {
        Some(a) if !a.is_empty() => match u64::from(crc32(a.as_bytes())) & ((1 << ACCOUNT_BITS) - 1) {
            0 => 1,
            h => h,
        },
        _ => 0,
    }
}

pub fn check(c: &mut Check<'_>, st: &mut IpState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    if ev.outcome.as_str() != "failure" || !is_registration(ev) {
        return Ok(());
    }
    let cfg = &c.tenant.settings.registration_lockout;
    let mut window = super::take(&mut st.registration_lockout);
    let acct = account_id(ev.account.as_deref());
    if acct != 0 {
        let name = ev.account.as_deref().unwrap_or_default();
        let names = &mut st.registration_accounts.0;
        match names.iter_mut().find(|(k, _)| *k == i128::from(acct)) {
            Some((_, held)) => {
                if name < held.as_str() {
                    *held = name.to_string();
                }
            }
            None => names.push((i128::from(acct), name.to_string())),
        }
    }
    let span = crate::emit::span_of(&[order("block_ip", &ev.src_ip, cfg.block_seconds, None)], c.tenant);
    let entry = (acct << 33) | (flagged(c.ident, event) & LOW33);
    if let Some(i) = window.add(c.ts, entry) {
        let mut groups: Groups = Vec::new();
        for (at, n) in window.exceeded(i, cfg.seconds as f64, cfg.failures - 1, None)? {
            let key = (epoch_of(at, span)?, may_block(c.tenant, &window, at, cfg.seconds as f64));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ends)) => ends.push((at, n)),
                None => groups.push((key, vec![(at, n)])),
            }
        }
        for ((epoch, ok), ends) in groups {
            detect(c, cfg, st, &window, epoch, ok, &ends, span, ev)?;
        }
    }
    let keep = cfg.failures.saturating_mul(16).max(KEEP);  // Python's ints do not wrap
    forget(st, &mut window, c.settled - cfg.seconds as f64 - HORIZON, usize::try_from(keep).unwrap_or(0), span);
    st.registration_lockout = super::put_back(window);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn detect(c: &mut Check<'_>, cfg: &Lockout, st: &mut IpState, window: &TimeSet, epoch: i64, ok: bool,
          ends: &[(f64, i64)], span: f64, ev: &SecurityEvent) -> Result<()> {
    let (at, n) = ends[0];
    let seconds = cfg.seconds as f64;
    let names: HashMap<u64, &str> = st.registration_accounts.0.iter().map(|(k, v)| (*k as u64, v.as_str())).collect();
    let latest = by_latest(window, at - seconds, at, 33, Some(0));
    let shown: Vec<Ev> = latest[latest.len().saturating_sub(SHOWN)..].iter()
        .filter_map(|a| names.get(a).map(|n| s(n))).collect();
    let mut evidence = vec![
        ("failures".to_string(), int(n)),
        ("seconds".to_string(), int(cfg.seconds)),
        ("accounts".to_string(), Ev::List(shown)),
        ("user_agent".to_string(), super::opt(ev.user_agent.as_deref())),
    ];
    let orders = if ok {
        let times: Vec<f64> = ends.iter().map(|&(e, _)| e).collect();
        orders_of(c, cfg, st, window, epoch, &times, &ev.src_ip, &mut evidence)
    } else {
        vec![order("block_ip", &ev.src_ip, cfg.block_seconds, None)]
    };
    let (actions, variant) = proven_orders(ok, orders, &mut evidence);
    let summary = format!("Extension Registration Blocked Out: {n} failed registrations from {} in {} s", ev.src_ip,
                          cfg.seconds);
    let mut d = detection(RULE, SEVERITY, &ev.src_ip, &summary, evidence, actions);
    d.variant = variant;
    d.at = Some(at);
    d.span = Some(span);
    d.adds = true;
    c.emit_ip(st, d)?;
    Ok(())
}

/// `_orders`: the block and the locks this epoch has not ordered yet.
#[allow(clippy::too_many_arguments)]
fn orders_of(c: &Check<'_>, cfg: &Lockout, st: &mut IpState, window: &TimeSet, epoch: i64, ends: &[f64], src_ip: &str,
             evidence: &mut Vec<(String, Ev)>) -> Vec<Order> {
    let at = st.registration_locked.slot(epoch.to_string(), Vec::new);
    let done = &mut st.registration_locked.0[at].1;
    let held: HashSet<i128> = done.iter().copied().collect();
    let names = &st.registration_accounts.0;
    let name_of = |a: u64| names.iter().find(|(k, _)| *k == i128::from(a)).map(|(_, v)| v.as_str());
    let mut new: Vec<u64> = repeated(window, ends, cfg.seconds as f64).into_iter()
        .filter(|&a| !held.contains(&i128::from(a)) && name_of(a).is_some()).collect();
    let blocked = held.contains(&BLOCKED);
    let room = MAX_LOCKS + i64::from(blocked) - done.len() as i64;
    if new.len() as i64 > room {
        put(evidence, "not_locked", s(&format!(
            "{} more account(s) failed twice: not locked, past {MAX_LOCKS} for one source in one incident (its block stops it)",
            new.len() as i64 - room.max(0))));
        new.sort_unstable();
        new.truncate(usize::try_from(room.max(0)).unwrap_or(0));
    }
    let mut out = if blocked { Vec::new() } else { vec![order("block_ip", src_ip, cfg.block_seconds, None)] };
    if !blocked {
        done.push(BLOCKED);
    }
    done.extend(new.iter().map(|&a| i128::from(a)));
    let accounts: Vec<&str> = new.iter().filter_map(|&a| name_of(a)).collect();
    out.extend(lock_orders(c.tenant, cfg, &accounts, src_ip));
    out
}

/// `_repeated`: the accounts with `REPEAT` failures within one of the windows ending at `ends`, in the
/// order they got there.
fn repeated(window: &TimeSet, ends: &[f64], seconds: f64) -> Vec<u64> {
    let (times, ids) = (&window.t, &window.ids);
    let n = times.len();
    let mut tally: HashMap<u64, i64> = HashMap::new();
    let mut found: Vec<u64> = Vec::new();
    let mut lo = bisect_right(times, ends[0] - seconds, 0, n);
    let mut hi = lo;
    for &end in ends {
        let top = bisect_right(times, end, 0, n);
        let mut joined = Vec::new();
        for &id in &ids[hi..top.max(hi)] {
            let a = id >> 33;
            *tally.entry(a).or_insert(0) += 1;
            joined.push(a);
        }
        hi = hi.max(top);
        let floor = bisect_right(times, end - seconds, 0, n);
        for &id in &ids[lo..floor.max(lo)] {
            *tally.entry(id >> 33).or_insert(0) -= 1;
        }
        lo = lo.max(floor);
        for a in joined {
            if a != 0 && tally[&a] >= REPEAT && !found.contains(&a) {
                found.push(a);
            }
        }
    }
    found
}

/// `_forget`: prune the window, the names no entry holds any more, and the orders of epochs over.
fn forget(st: &mut IpState, window: &mut TimeSet, before: f64, keep: usize, span: f64) {
    window.prune(before, keep);
    let names = &mut st.registration_accounts.0;
    if names.len() > 2 * window.len() + 16 {
        let held: HashSet<i128> = window.ids.iter().map(|&i| i128::from(i >> 33)).collect();
        names.retain(|(a, _)| held.contains(a));
    }
    let locked = &mut st.registration_locked.0;
    if locked.len() > 1 {
        locked.retain(|(k, _)| k.parse::<i128>().map_or(true, |e| !super::epoch_over(e, span, before)));
    }
}
