//! The life of a key, ported from `streams/state/lifecycle.py` (`KeyLifecycle`) and
//! `streams/state/expiry.py` (`expiry`). Not yet used by anything but its tests.
//!
//! A key is written while it holds something, indexed by the event time after which its state stops
//! mattering (rounded up to `BUCKET`), deleted once its tenant's event time passes that, and evicted
//! oldest-first when a scope holds more than `max_keys`. Decision for decision the reference's: the
//! same heaps (CPython's `heapq` steps on the tuples `(bucket, last, key)`, `pyheap`), in the same
//! order of first use, searched in that order for the key to evict; Python's `max`/`min` (the first
//! on a tie or a NaN); `math.ceil` raising where it raises (an expiry that is not finite); a key's
//! `last` set as `write` sets it. An IP key is shared by tenants (`ip:<address>`), so its index
//! names the tenant that indexed it last and the other tenants' heaps skip it, as in the reference.

use std::collections::HashMap;

use crate::pyheap::{self, py_max, py_min, PyLt};
use crate::state::KeyState;

/// `lifecycle.BUCKET`: expiry instants are rounded up to this.
pub const BUCKET: f64 = 900.0;
/// `lifecycle.MAX_KEYS`: keys per scope before the oldest are evicted.
pub const MAX_KEYS: usize = 200_000;
/// `expiry.PROFILE`: how long an extension's profile, or a permanent block or incident, keeps a key.
pub const PROFILE: f64 = 30.0 * 86400.0;
pub use crate::ids::{FOREVER, HORIZON};
/// `streams.core.types.SCOPES`, in the reference's order (`expire` goes through them in it).
pub const SCOPES: [&str; 4] = ["ip", "ext", "trunk", "tenant"];

/// Where the reference raises.
#[derive(Debug, Clone, PartialEq)]
pub enum LifeError {
    /// `math.ceil` of a NaN: ValueError.
    NaN,
    /// `math.ceil` of an infinity: OverflowError.
    Infinite,
    /// A block held as a list of fewer than two times (`span[1]`): IndexError.
    ShortBlock,
    /// A scope that is not one of `SCOPES`: KeyError.
    Scope(String),
}

impl std::fmt::Display for LifeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifeError::NaN => f.write_str("cannot convert float NaN to integer"),
            LifeError::Infinite => f.write_str("cannot convert float infinity to integer"),
            LifeError::ShortBlock => f.write_str("list index out of range"),
            LifeError::Scope(s) => write!(f, "{s:?}"),
        }
    }
}

/// The index of a scope in `SCOPES`.
pub fn scope_index(scope: &str) -> Result<usize, LifeError> {
    SCOPES.iter().position(|s| *s == scope).ok_or_else(|| LifeError::Scope(scope.to_string()))
}

/// A tenant as the lifecycle sees it: its name and, per scope in `SCOPES` order, its retention
/// (`CompiledTenant.retention`, from `expiry.retention(policy)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub name: String,
    pub retention: [f64; 4],
}

/// `expiry(st, keep)`: the event time after which the state no longer matters.
pub fn expiry(st: &KeyState, keep: f64) -> Result<f64, LifeError> {
    let (incidents, last) = match st {
        KeyState::Ip(s) => (&s.incidents, s.last),
        KeyState::Ext(s) => (&s.incidents, s.last),
        KeyState::Trunk(s) => (&s.incidents, s.last),
        KeyState::Tenant(s) => (&s.incidents, s.last),
    };
    let seen = last.unwrap_or(f64::NEG_INFINITY);
    let mut t = seen + keep;
    for (_, inc) in &incidents.0 {
        t = py_max(t, (if inc.until < FOREVER { inc.until } else { seen + PROFILE }) + HORIZON);
    }
    let spend = match st {
        KeyState::Ip(s) => {
            for (_, spans) in &s.blocks.0 {
                for span in spans {
                    let until = *span.get(1).ok_or(LifeError::ShortBlock)?;
                    t = py_max(t, py_min(until, seen + PROFILE) + HORIZON);
                }
            }
            return Ok(t);
        }
        KeyState::Ext(s) => &s.spend_limit,
        KeyState::Trunk(s) => &s.spend_limit,
        KeyState::Tenant(s) => {
            for (_, ring) in &s.wangiri_inbound.0 {
                for b in &ring.bursts {
                    t = py_max(t, py_min(b.until, seen + PROFILE) + HORIZON);
                }
            }
            &s.spend_limit
        }
    };
    for (_, w) in &spend.0 {
        if let Some(due) = w.due {
            t = py_max(t, due + HORIZON);
        }
    }
    if let KeyState::Ext(s) = st {
        if s.anomaly.is_some() {
            t = py_max(t, seen + PROFILE);
        }
        if let Some(takeover) = &s.account_takeover {
            if !takeover.ips.0.is_empty() || !takeover.agents.0.is_empty() {
                t = py_max(t, seen + PROFILE);
            }
        }
        if let Some(next) = s.next_timer {
            t = py_max(t, next + HORIZON);
        }
    }
    Ok(t)
}

/// `math.ceil(expiry(st, keep) / BUCKET) * BUCKET`.
pub fn bucket(st: &KeyState, keep: f64) -> Result<f64, LifeError> {
    let q = expiry(st, keep)? / BUCKET;
    if q.is_nan() {
        return Err(LifeError::NaN);
    }
    if q.is_infinite() {
        return Err(LifeError::Infinite);
    }
    Ok(q.ceil() * BUCKET + 0.0) // math.ceil gives an int: an expiry in (-900, 0] is bucket 0.0, never -0.0
}

/// The rules whose `keeps(state, seen)` hook `expiry` writes out above (the reference asks the rules;
/// `tests/engine/test_lifecycle_engine.py` holds this list to theirs, so a new hook fails it until it is here).
pub const KEEPS: [&str; 4] = ["account_takeover", "anomaly", "spend_limit", "wangiri_inbound"];

/// `st == EMPTY[scope]` with `last` set to None: a key that holds nothing. Every default of the key
/// states is empty (an empty dict, None, an `Intervals` of empty lists), and Python's `==` on a
/// container is false against a non-empty one, so this is "every field but `last` is empty".
pub fn holds_nothing(st: &KeyState) -> bool {
    match st {
        KeyState::Ip(s) => {
            s.incidents.0.is_empty()
                && s.auto_defense.0.is_empty()
                && s.registration_lockout.is_none()
                && s.registration_accounts.0.is_empty()
                && s.registration_locked.0.is_empty()
                && s.login_lockout.is_none()
                && s.blocks.0.is_empty()
                && s.seen.0.is_empty()
                && s.custom.0.is_empty()
        }
        KeyState::Ext(s) => {
            s.incidents.0.is_empty()
                && s.calls.0.is_empty()
                && s.call_frequency.is_none()
                && s.pin_failures.is_none()
                && s.daily_calls.0.is_empty()
                && s.sequential_calls.0.is_empty()
                && s.devices.0.is_empty()
                && s.anomaly.is_none()
                && s.account_failures.0.is_empty()
                && s.account_source_ips.0.is_empty()
                && s.account_locked.0.is_empty()
                && s.next_timer.is_none()
                && s.account_takeover.is_none()
                && s.spend_limit.0.is_empty()
                && s.custom.0.is_empty()
        }
        KeyState::Trunk(s) => {
            s.incidents.0.is_empty()
                && s.live.0.is_empty()
                && s.live_latest.is_none()
                && s.pending.0.is_empty()
                && s.done.ends.is_empty()
                && s.done.starts.is_empty()
                && s.done.ids.is_empty()
                && s.done.by_start.is_empty()
                && s.spend_limit.0.is_empty()
                && s.custom.0.is_empty()
        }
        KeyState::Tenant(s) => {
            s.incidents.0.is_empty()
                && s.failures.is_none()
                && s.failure_sources.is_none()
                && s.failure_accounts.is_none()
                && s.accounts.0.is_empty()
                && s.sources.0.is_empty()
                && s.probes.0.is_empty()
                && s.wangiri_inbound.0.is_empty()
                && s.wangiri_dialled.0.is_empty()
                && s.spend_limit.0.is_empty()
                && s.route_scan.0.is_empty()
        }
    }
}

fn last_of(st: &KeyState) -> Option<f64> {
    match st {
        KeyState::Ip(s) => s.last,
        KeyState::Ext(s) => s.last,
        KeyState::Trunk(s) => s.last,
        KeyState::Tenant(s) => s.last,
    }
}

fn set_last(st: &mut KeyState, last: Option<f64>) {
    match st {
        KeyState::Ip(s) => s.last = last,
        KeyState::Ext(s) => s.last = last,
        KeyState::Trunk(s) => s.last = last,
        KeyState::Tenant(s) => s.last = last,
    }
}

/// The keys' states, as the detector holds them (the reference's `state` dict).
pub trait Store {
    fn get(&self, key: &str) -> Option<&KeyState>;
    fn put(&mut self, key: &str, st: KeyState);
    fn remove(&mut self, key: &str);
}

impl Store for HashMap<String, KeyState> {
    fn get(&self, key: &str) -> Option<&KeyState> {
        HashMap::get(self, key)
    }
    fn put(&mut self, key: &str, st: KeyState) {
        self.insert(key.to_string(), st);
    }
    fn remove(&mut self, key: &str) {
        HashMap::remove(self, key);
    }
}

/// A heap entry: the tuple `(bucket, st.last or 0.0, key)`.
#[derive(Debug, Clone)]
struct Due {
    bucket: f64,
    last: f64,
    key: String,
}

impl PyLt for Due {
    fn py_lt(&self, other: &Self) -> bool {
        if self.bucket != other.bucket {
            self.bucket < other.bucket
        } else if self.last != other.last {
            self.last < other.last
        } else {
            self.key < other.key // str order is code point order, which UTF-8 bytes keep
        }
    }
}

/// `KeyLifecycle`.
#[derive(Debug, Default)]
pub struct KeyLifecycle {
    pub max_keys: Option<usize>,
    until: HashMap<String, (f64, String)>,
    heaps: Vec<((String, usize), Vec<Due>)>, // (tenant, scope) -> heap, in the order first used
    heap_of: HashMap<(String, usize), usize>,
    pub counts: [usize; 4],
    tenants: HashMap<String, Tenant>,
    pub expired: u64,
    pub evicted: u64,
}

impl KeyLifecycle {
    pub fn new(max_keys: Option<usize>) -> Self {
        KeyLifecycle { max_keys, ..Default::default() }
    }

    /// How many keys are indexed (`len(lifecycle)`).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// The indexed bucket and tenant of a key.
    pub fn indexed(&self, key: &str) -> Option<&(f64, String)> {
        self.until.get(key)
    }

    /// `write(state, key, scope, st, tenant, ts)`: store `st` under `key` (a new key only when it holds
    /// something), its `last` moved up to `ts`; true when stored.
    pub fn write<S: Store>(&mut self, state: &mut S, key: &str, scope: usize, mut st: KeyState, tenant: &Tenant, ts: f64)
        -> Result<bool, LifeError> {
        let last = last_of(&st);
        let known = self.until.contains_key(key);
        // a state of another scope's type is never == EMPTY[scope] (msgspec compares the types first)
        if !known && st.scope() == SCOPES[scope] && holds_nothing(&st) {
            return Ok(false);
        }
        // `ts if last is None or ts > last else last`
        set_last(&mut st, Some(match last {
            Some(l) if ts.partial_cmp(&l) != Some(std::cmp::Ordering::Greater) => l,
            _ => ts,
        }));
        let (bucket_of, last_now) = if known { (None, None) } else { (Some(bucket(&st, tenant.retention[scope])), last_of(&st)) };
        state.put(key, st);
        if let Some(b) = bucket_of {
            self.index_at(key, scope, b?, last_now, tenant);
            if self.max_keys.is_some_and(|m| self.counts[scope] > m) {
                self.evict(state, scope)?;
            }
        }
        Ok(true)
    }

    fn index<S: Store>(&mut self, state: &S, key: &str, scope: usize, tenant: &Tenant) -> Result<(), LifeError> {
        let st = state.get(key).expect("indexed keys are held");
        let b = bucket(st, tenant.retention[scope])?;
        let last = last_of(st);
        self.index_at(key, scope, b, last, tenant);
        Ok(())
    }

    fn index_at(&mut self, key: &str, scope: usize, bucket: f64, last: Option<f64>, tenant: &Tenant) {
        match self.until.get(key) {
            None => self.counts[scope] += 1,
            Some((b, t)) if *b == bucket && *t == tenant.name => return,
            Some(_) => {}
        }
        self.until.insert(key.to_string(), (bucket, tenant.name.clone()));
        self.tenants.insert(tenant.name.clone(), tenant.clone());
        let id = (tenant.name.clone(), scope);
        let h = match self.heap_of.get(&id) {
            Some(&h) => h,
            None => {
                self.heaps.push((id.clone(), Vec::new()));
                self.heap_of.insert(id, self.heaps.len() - 1);
                self.heaps.len() - 1
            }
        };
        // `st.last or 0.0`: None, 0.0 and -0.0 are falsy
        let last = match last {
            Some(l) if l != 0.0 => l,
            _ => 0.0,
        };
        pyheap::push(&mut self.heaps[h].1, Due { bucket, last, key: key.to_string() });
    }

    fn forget(&mut self, key: &str, scope: usize) {
        if self.until.remove(key).is_some() {
            self.counts[scope] -= 1;
        }
    }

    fn is_current(&self, due: &Due, tenant: &str) -> bool {
        matches!(self.until.get(&due.key), Some((b, t)) if *b == due.bucket && t == tenant)
    }

    /// `expire(state, tenant, limit)`: delete the tenant's keys whose state stopped mattering before `limit`.
    pub fn expire<S: Store>(&mut self, state: &mut S, tenant: &Tenant, limit: f64) -> Result<u64, LifeError> {
        let mut n = 0;
        for scope in 0..SCOPES.len() {
            let Some(&h) = self.heap_of.get(&(tenant.name.clone(), scope)) else { continue };
            loop {
                let heap = &mut self.heaps[h].1;
                if !heap.first().is_some_and(|d| d.bucket < limit) {
                    break;
                }
                let due = pyheap::pop(heap).expect("not empty");
                if !self.is_current(&due, &tenant.name) {
                    continue; // re-indexed later, or gone
                }
                let Some(st) = state.get(&due.key) else {
                    self.forget(&due.key, scope);
                    continue;
                };
                // an error leaves `expired` short of the keys already deleted, as the reference's does
                if bucket(st, tenant.retention[scope])? < limit {
                    state.remove(&due.key);
                    self.forget(&due.key, scope);
                    n += 1;
                } else {
                    self.until.remove(&due.key);
                    self.counts[scope] -= 1;
                    self.index(state, &due.key, scope, tenant)?;
                }
            }
        }
        self.expired += n;
        Ok(n)
    }

    /// `_evict(state, scope)`: over budget, forget the key of this scope whose state expires first,
    /// whatever its tenant; a candidate touched since it was indexed is re-indexed, not evicted.
    fn evict<S: Store>(&mut self, state: &mut S, scope: usize) -> Result<(), LifeError> {
        let max = self.max_keys.unwrap_or(usize::MAX);
        while self.counts[scope] > max {
            let mut best: Option<usize> = None;
            for h in 0..self.heaps.len() {
                if self.heaps[h].0 .1 != scope {
                    continue;
                }
                let tenant = self.heaps[h].0 .0.clone();
                while let Some(top) = self.heaps[h].1.first() {
                    if self.is_current(top, &tenant) {
                        break;
                    }
                    pyheap::pop(&mut self.heaps[h].1); // stale entries
                }
                if let Some(top) = self.heaps[h].1.first() {
                    if best.is_none_or(|b| top.py_lt(&self.heaps[b].1[0])) {
                        best = Some(h);
                    }
                }
            }
            let Some(h) = best else { return Ok(()) };
            let tenant_name = self.heaps[h].0 .0.clone();
            let due = pyheap::pop(&mut self.heaps[h].1).expect("not empty");
            let Some(st) = state.get(&due.key) else {
                self.forget(&due.key, scope);
                continue;
            };
            if let Some(tenant) = self.tenants.get(&tenant_name).cloned() {
                if bucket(st, tenant.retention[scope])? > due.bucket {
                    self.until.remove(&due.key);
                    self.counts[scope] -= 1;
                    self.index(state, &due.key, scope, &tenant)?;
                    continue;
                }
            }
            state.remove(&due.key);
            self.forget(&due.key, scope);
            self.evicted += 1;
        }
        Ok(())
    }

    /// `rebuild(state, key, scope, st, tenant)`: index a key found in `state` after a restart.
    pub fn rebuild<S: Store>(&mut self, state: &S, key: &str, scope: usize, tenant: &Tenant) -> Result<(), LifeError> {
        if !self.until.contains_key(key) {
            self.index(state, key, scope, tenant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Dict, Incident, IpState, TenantState};

    fn tenant(name: &str, keep: f64) -> Tenant {
        Tenant { name: name.into(), retention: [keep; 4] }
    }

    fn ip(seen: f64, blocks: Vec<Vec<f64>>) -> KeyState {
        let blocks = if blocks.is_empty() { Dict::default() } else { Dict(vec![("t".into(), blocks)]) };
        KeyState::Ip(IpState { last: Some(seen), blocks, ..Default::default() })
    }

    #[test]
    fn expiry_is_the_latest_of_retention_incidents_and_blocks() {
        let st = ip(1000.0, vec![vec![0.0, 5000.0]]);
        assert_eq!(expiry(&st, 100.0), Ok(5000.0 + HORIZON));
        let st = ip(1000.0, vec![vec![0.0, FOREVER]]);
        assert_eq!(expiry(&st, 100.0), Ok(1000.0 + PROFILE + HORIZON));
        let incident = Incident { first: 0.0, count: 1, alert_id: "x".into(), until: FOREVER };
        let t = TenantState { last: Some(10.0), incidents: Dict(vec![("a".into(), incident)]), ..Default::default() };
        assert_eq!(expiry(&KeyState::Tenant(t), 1.0), Ok(10.0 + PROFILE + HORIZON));
        assert_eq!(expiry(&ip(1000.0, vec![vec![0.0]]), 1.0), Err(LifeError::ShortBlock));
    }

    #[test]
    fn a_key_that_holds_nothing_is_not_written() {
        let mut lc = KeyLifecycle::new(None);
        let mut state: HashMap<String, KeyState> = HashMap::new();
        let t = tenant("t", 60.0);
        assert_eq!(lc.write(&mut state, "ip:1", 0, KeyState::Ip(IpState::default()), &t, 5.0), Ok(false));
        assert!(state.is_empty() && lc.is_empty());
        assert_eq!(lc.write(&mut state, "ip:1", 0, ip(1.0, vec![vec![0.0, 10.0]]), &t, 5.0), Ok(true));
        assert_eq!(last_of(&state["ip:1"]), Some(5.0));
        assert_eq!(lc.counts, [1, 0, 0, 0]);
    }

    #[test]
    fn keys_expire_once_their_bucket_has_passed_and_the_oldest_are_evicted() {
        let mut lc = KeyLifecycle::new(Some(2));
        let mut state: HashMap<String, KeyState> = HashMap::new();
        let t = tenant("t", 60.0);
        for (i, until) in [3000.0, 1000.0, 2000.0].into_iter().enumerate() {
            let key = format!("ip:{i}");
            lc.write(&mut state, &key, 0, ip(0.0, vec![vec![0.0, until - HORIZON]]), &t, 0.0).unwrap();
        }
        assert_eq!((lc.evicted, lc.counts[0]), (1, 2));
        assert!(!state.contains_key("ip:1")); // the one whose state expired first
        assert_eq!(lc.expire(&mut state, &t, 2000.0), Ok(0)); // its bucket 2700 has not passed
        assert_eq!(lc.expire(&mut state, &t, 2701.0), Ok(1));
        assert!(state.contains_key("ip:0") && !state.contains_key("ip:2"));
        assert_eq!((lc.expired, lc.len()), (1, 1));
    }

    #[test]
    fn a_non_finite_expiry_raises_as_math_ceil_does() {
        let blocks = Dict(vec![("t".into(), vec![vec![0.0, 1.0]])]);
        let mut s = IpState { blocks, last: Some(0.0), ..Default::default() };
        assert_eq!(bucket(&KeyState::Ip(s.clone()), 60.0), Ok(22_500.0)); // 1 + HORIZON, up to 25 buckets
        s.last = Some(f64::NAN);
        assert_eq!(bucket(&KeyState::Ip(s.clone()), 60.0), Err(LifeError::NaN));
        s.last = None; // seen from -inf
        assert_eq!(bucket(&KeyState::Ip(s), 60.0), Err(LifeError::Infinite));
    }
}
