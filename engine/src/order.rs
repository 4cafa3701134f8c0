//! Canonical event-time order, ported from `streams/core/ordering.py` (`Sequencer`,
//! `in_event_time_order`). Not yet used by anything but its tests.
//!
//! Release for release the reference's, for any input: each tenant's held entries are a binary
//! heap laid out and reordered exactly as CPython's `heapq.heappush`/`heappop` do it (append and
//! `_siftdown`; pop the last, put it at the root and `_siftup`, which walks down to a leaf taking
//! the right child unless `left < right`, then `_siftdown`), and two entries compare as the
//! reference's tuples `(ts, order, seq, item, late)` compare: the first slot whose items are not
//! `==` decides by `<`. So `-0.0` and `0.0` are one time (the order key decides), a NaN time is
//! neither less nor greater than anything, and even then the heap is left as Python leaves it,
//! so the release order is the same. `seq` is unique, so `item` and `late` are never compared.
//!
//! One thing of Python's the tuple comparison does that plain f64 cannot see: `==` on two items that
//! are *the same object* is true by identity, even for a NaN. `push_same` and [`Key::same`] carry a
//! nonzero token per NaN object (its address, from the bindings) so that two entries holding one NaN
//! object compare by their order key, as in the reference; 0 means "a NaN of its own".

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use crate::pyheap::{self, PyLt};

/// `streams.core.ordering.LATENESS`: how far out of event-time order a file may be (6 hours).
pub const LATENESS: f64 = 6.0 * 3600.0;

struct Entry<O, V> {
    ts: f64,
    same: usize,
    order: O,
    seq: u64,
    item: V,
    late: bool,
}

impl<O: Ord, V> PyLt for Entry<O, V> {
    /// Python's `(ts, order, seq, item, late) < (ts', order', seq', item', late')`.
    #[inline]
    fn py_lt(&self, other: &Self) -> bool {
        if self.ts == other.ts || (self.same != 0 && self.same == other.same) {
            match self.order.cmp(&other.order) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.seq < other.seq,
            }
        } else {
            self.ts < other.ts
        }
    }
}

struct Slot<K, O, V> {
    tenant: K,
    heap: Vec<Entry<O, V>>,
    frontier: Option<f64>,
    latest: Option<f64>, // in_event_time_order's `latest[tenant]`
}

/// `streams.core.ordering.Sequencer`: items held per tenant and released in canonical order
/// `(time, order key)` once the tenant's watermark minus `lateness` has passed them.
pub struct Sequencer<K, O, V> {
    /// Subtracted from a watermark (public and mutable, as the reference's attribute).
    pub lateness: f64,
    index: HashMap<K, usize>,
    slots: Vec<Slot<K, O, V>>, // in the order of each tenant's first push (the reference's `_heaps`)
    frontier_order: Vec<usize>, // the reference's `frontier` dict: tenants in the order first set
    seq: u64,
    late: u64,
    held: usize,
}

impl<K: Clone + Eq + Hash, O: Ord, V> Sequencer<K, O, V> {
    pub fn new(lateness: f64) -> Self {
        Sequencer { lateness, index: HashMap::new(), slots: Vec::new(), frontier_order: Vec::new(), seq: 0, late: 0, held: 0 }
    }

    fn slot(&mut self, tenant: K) -> usize {
        if let Some(&s) = self.index.get(&tenant) {
            return s;
        }
        let s = self.slots.len();
        self.index.insert(tenant.clone(), s);
        self.slots.push(Slot { tenant, heap: Vec::new(), frontier: None, latest: None });
        s
    }

    /// Hold `item`; true when it is late (its tenant already released something later).
    pub fn push(&mut self, tenant: K, ts: f64, order: O, item: V) -> bool {
        self.push_same(tenant, ts, 0, order, item)
    }

    /// `push` with the NaN identity token `same` (see the module's text; 0 for none).
    pub fn push_same(&mut self, tenant: K, ts: f64, same: usize, order: O, item: V) -> bool {
        let s = self.slot(tenant);
        self.push_at(s, ts, same, order, item)
    }

    fn push_at(&mut self, s: usize, ts: f64, same: usize, order: O, item: V) -> bool {
        let slot = &mut self.slots[s];
        let late = ts < slot.frontier.unwrap_or(f64::NEG_INFINITY);
        if late {
            self.late += 1;
        }
        let same = if ts.is_nan() { same } else { 0 };
        pyheap::push(&mut slot.heap, Entry { ts, same, order, seq: self.seq, item, late });
        self.seq += 1;
        self.held += 1;
        late
    }

    /// Every held item, in no particular order (for a garbage collector's visit).
    pub fn held(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flat_map(|s| s.heap.iter().map(|e| &e.item))
    }

    /// Drop every held item (a garbage collector breaking a cycle); the counts and frontiers stay.
    pub fn clear_held(&mut self) {
        for s in &mut self.slots {
            s.heap.clear();
        }
        self.held = 0;
    }

    /// `(time, item, late)` of this tenant up to `watermark - lateness`, in canonical order.
    pub fn release(&mut self, tenant: &K, watermark: f64) -> Vec<(f64, V, bool)> {
        let mut out = Vec::new();
        if let Some(&s) = self.index.get(tenant) {
            self.release_at(s, watermark, &mut out);
        }
        out
    }

    fn release_at(&mut self, s: usize, watermark: f64, out: &mut Vec<(f64, V, bool)>) {
        let limit = watermark - self.lateness;
        let slot = &mut self.slots[s];
        match slot.heap.first() {
            None => return,
            Some(e) if e.ts > limit && !e.late => return, // the usual case: nothing due yet
            _ => {}
        }
        let before = out.len();
        let mut top: Option<f64> = None; // the latest on-time entry released
        while let Some(e) = slot.heap.first() {
            if !(e.ts <= limit || e.late) {
                break;
            }
            let e = pyheap::pop(&mut slot.heap).expect("not empty");
            if !e.late && top.is_none_or(|t| e.ts > t) {
                top = Some(e.ts);
            }
            out.push((e.ts, e.item, e.late));
        }
        self.held -= out.len() - before;
        if let Some(t) = top {
            match slot.frontier {
                None if t > f64::NEG_INFINITY => {
                    slot.frontier = Some(t);
                    self.frontier_order.push(s);
                }
                Some(f) if t > f => slot.frontier = Some(t),
                _ => {}
            }
        }
    }

    /// Everything still held, tenant by tenant (first pushed first), each in canonical order: each
    /// tenant released with a watermark of `+inf` (so with an infinite `lateness`, as in the
    /// reference, only the late entries come out).
    pub fn drain(&mut self) -> Vec<(K, f64, V, bool)> {
        let mut out = Vec::new();
        let mut part = Vec::new();
        for s in 0..self.slots.len() {
            self.release_at(s, f64::INFINITY, &mut part);
            let tenant = &self.slots[s].tenant;
            out.extend(part.drain(..).map(|(ts, item, late)| (tenant.clone(), ts, item, late)));
        }
        out
    }

    /// The tenants holding something, in the order of their first push.
    pub fn tenants(&self) -> Vec<&K> {
        self.slots.iter().filter(|s| !s.heap.is_empty()).map(|s| &s.tenant).collect()
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.held
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// How many items were late when pushed.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The latest time released of this tenant (its late entries aside), if any.
    pub fn frontier(&self, tenant: &K) -> Option<f64> {
        self.index.get(tenant).and_then(|&s| self.slots[s].frontier)
    }

    /// Every tenant's frontier, in the order the reference's `frontier` dict holds them (first set first).
    pub fn frontiers(&self) -> Vec<(&K, f64)> {
        self.frontier_order.iter().map(|&s| (&self.slots[s].tenant, self.slots[s].frontier.expect("set"))).collect()
    }
}

/// A record's key for [`InOrder`]: `(tenant, time, order)` as the reference's `key(record)` gives it,
/// with the NaN identity token `same` (0: none).
pub struct Key<K, O> {
    pub tenant: K,
    pub ts: f64,
    pub same: usize,
    pub order: O,
}

impl<K, O> Key<K, O> {
    pub fn new(tenant: K, ts: f64, order: O) -> Self {
        Key { tenant, ts, same: 0, order }
    }
}

/// `in_event_time_order`, fed one record at a time: each record is held until its tenant's latest
/// time read is `lateness` past it; a record without a key passes straight on.
pub struct InOrder<K, O, V> {
    seq: Sequencer<K, O, V>,
    part: Vec<(f64, V, bool)>,
}

impl<K: Clone + Eq + Hash, O: Ord, V> InOrder<K, O, V> {
    pub fn new(lateness: f64) -> Self {
        InOrder { seq: Sequencer::new(lateness), part: Vec::new() }
    }

    /// One record (`key` None: a reject): appends what it releases to `out` as `(record, late)`.
    /// Err(tenant) where the reference raises KeyError: a tenant's first time is NaN or `-inf`, so
    /// `latest[tenant]` was never set (the record is held, as the reference held it).
    pub fn feed(&mut self, key: Option<Key<K, O>>, record: V, out: &mut Vec<(V, bool)>) -> Result<(), K> {
        let Some(k) = key else {
            out.push((record, false));
            return Ok(());
        };
        let s = self.seq.slot(k.tenant);
        let slot = &mut self.seq.slots[s];
        if k.ts > slot.latest.unwrap_or(f64::NEG_INFINITY) {
            slot.latest = Some(k.ts);
        }
        let latest = slot.latest;
        self.seq.push_at(s, k.ts, k.same, k.order, record);
        let Some(watermark) = latest else {
            return Err(self.seq.slots[s].tenant.clone());
        };
        self.seq.release_at(s, watermark, &mut self.part);
        out.extend(self.part.drain(..).map(|(_, item, late)| (item, late)));
        Ok(())
    }

    /// The end of the input: everything still held (`Sequencer::drain`).
    pub fn finish(&mut self, out: &mut Vec<(V, bool)>) {
        out.extend(self.seq.drain().into_iter().map(|(_, _, item, late)| (item, late)));
    }

    pub fn sequencer(&self) -> &Sequencer<K, O, V> {
        &self.seq
    }
}

/// `list(in_event_time_order(records, lateness, key))` as `(index into keys, late)`: the order the
/// reference yields the records in. Err(tenant) where it raises KeyError (see [`InOrder::feed`]).
pub fn order_events<K, O, I>(keys: I, lateness: f64) -> Result<Vec<(usize, bool)>, K>
where
    K: Clone + Eq + Hash,
    O: Ord,
    I: IntoIterator<Item = Option<Key<K, O>>>,
{
    let keys = keys.into_iter();
    let mut out = Vec::with_capacity(keys.size_hint().0);
    let mut run = InOrder::new(lateness);
    for (i, k) in keys.enumerate() {
        run.feed(k, i, &mut out)?;
    }
    run.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seq = Sequencer<&'static str, &'static str, &'static str>;

    fn items<T, V: Copy>(out: &[(T, V, bool)]) -> Vec<V> {
        out.iter().map(|(_, v, _)| *v).collect()
    }

    #[test]
    fn released_in_time_then_order_key_once_the_watermark_passes() {
        let mut s = Seq::new(10.0);
        for (ts, key, item) in [(5.0, "b", "5b"), (3.0, "z", "3z"), (5.0, "a", "5a"), (30.0, "x", "30x")] {
            assert!(!s.push("t", ts, key, item));
        }
        assert_eq!(items(&s.release(&"t", 15.0)), ["3z", "5a", "5b"]);
        assert!(s.release(&"t", 39.0).is_empty());
        assert_eq!(s.len(), 1);
        assert_eq!(items(&s.release(&"t", 40.0)), ["30x"]);
        assert_eq!(s.frontier(&"t"), Some(30.0));
        assert!(s.is_empty() && s.tenants().is_empty());
    }

    #[test]
    fn clocks_are_per_tenant() {
        let mut s = Seq::new(0.0);
        s.push("a", 100.0, "", "a100");
        s.push("b", 5.0, "", "b5");
        assert_eq!(s.release(&"a", 9e18), vec![(100.0, "a100", false)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.tenants(), [&"b"]);
        assert!(s.release(&"nobody", 1e300).is_empty());
    }

    #[test]
    fn an_item_behind_what_was_released_is_late_and_still_released() {
        let mut s = Seq::new(0.0);
        s.push("t", 10.0, "", "on time");
        s.release(&"t", 10.0);
        assert!(s.push("t", 4.0, "", "late"));
        assert_eq!(s.late(), 1);
        // a late entry comes out with the next release whatever the watermark, NaN included
        assert_eq!(s.release(&"t", f64::NAN), vec![(4.0, "late", true)]);
        assert_eq!(s.frontier(&"t"), Some(10.0)); // a late entry does not move the frontier
    }

    #[test]
    fn minus_zero_is_zero_and_the_order_key_decides() {
        let mut s = Seq::new(0.0);
        s.push("t", 0.0, "b", "+0 b");
        s.push("t", -0.0, "c", "-0 c");
        s.push("t", -0.0, "a", "-0 a");
        let out = s.release(&"t", 0.0);
        assert_eq!(items(&out), ["-0 a", "+0 b", "-0 c"]);
        assert!(out[0].0.is_sign_negative() && out[1].0.is_sign_positive());
        // top was -0.0 first; +0.0 is not greater, so the frontier keeps -0.0
        assert!(s.frontier(&"t").unwrap().is_sign_negative());
    }

    #[test]
    fn drain_goes_tenant_by_tenant_in_first_push_order() {
        let mut s = Seq::new(60.0);
        s.push("b", 2.0, "", "b2");
        s.push("a", 1.0, "", "a1");
        s.push("b", 1.0, "", "b1");
        let out: Vec<_> = s.drain().into_iter().map(|(t, _, v, _)| (t, v)).collect();
        assert_eq!(out, [("b", "b1"), ("b", "b2"), ("a", "a1")]);
        let names: Vec<_> = s.frontiers().into_iter().map(|(t, _)| *t).collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn an_infinite_lateness_drains_only_the_late() {
        let mut s = Seq::new(f64::INFINITY);
        s.push("t", 1.0, "", "held");
        assert!(s.drain().is_empty()); // inf - inf is NaN: nothing on time is due
        assert_eq!(s.len(), 1);
    }

    /// A NaN time is neither less nor greater: the entries around it keep the places the heap
    /// gives them, as CPython's heapq leaves them (worked by hand from Lib/heapq.py).
    #[test]
    fn a_nan_time_leaves_the_heap_as_heapq_does() {
        let mut s = Seq::new(0.0);
        for (ts, item) in [(3.0, "3"), (f64::NAN, "nan"), (1.0, "1"), (2.0, "2")] {
            s.push("t", ts, "", item);
        }
        // pushes: [3] [3 nan] [1 nan 3] [1 nan 3 2] (2 < nan is false: 2 stays below the NaN)
        // pop 1: [2 nan 3] -> _siftup takes the right child (not nan < 3) -> [3 nan 2] -> [2 nan 3]
        // pop 2: [3 nan] -> [nan 3]; the NaN root stops the release (nan <= inf is false)
        let out = s.release(&"t", f64::INFINITY);
        assert_eq!(items(&out), ["1", "2"]);
        assert_eq!((s.len(), s.frontier(&"t")), (2, Some(2.0)));
        assert!(s.slots[0].heap[0].ts.is_nan() && s.slots[0].heap[1].ts == 3.0);
    }

    #[test]
    fn the_same_nan_object_compares_by_order_key() {
        let mut s: Sequencer<&str, u8, &str> = Sequencer::new(0.0);
        s.push_same("t", f64::NAN, 7, 2, "second");
        s.push_same("t", f64::NAN, 7, 1, "first");
        let mut d: Sequencer<&str, u8, &str> = Sequencer::new(0.0);
        d.push("t", f64::NAN, 2, "second");
        d.push("t", f64::NAN, 1, "first");
        // one object: (nan, 1) < (nan, 2) by the order key, so "first" rises to the root; two
        // distinct NaNs are never less, so the heap keeps the push order
        assert_eq!(s.slots[0].heap[0].item, "first");
        assert_eq!(d.slots[0].heap[0].item, "second");
    }

    #[test]
    fn in_event_time_order_sorts_within_lateness_and_passes_rejects_through() {
        let recs: [Option<f64>; 8] = [Some(3.0), None, Some(1.0), Some(2.0), Some(50.0), Some(4.0), Some(100.0), Some(5.0)];
        let keys = recs.iter().map(|r| r.map(|t| Key::new("t", t, t.to_bits())));
        let out = order_events(keys, 10.0).unwrap();
        let times: Vec<_> = out.iter().map(|&(i, late)| (recs[i], late)).collect();
        assert_eq!(times[0], (None, false));
        assert_eq!(
            times[1..],
            [(Some(1.0), false), (Some(2.0), false), (Some(3.0), false), (Some(4.0), false), (Some(50.0), false),
             (Some(5.0), true), (Some(100.0), false)]
        );
    }

    #[test]
    fn a_first_time_of_nan_or_minus_inf_is_the_reference_key_error() {
        for t in [f64::NAN, f64::NEG_INFINITY] {
            let keys = [Some(Key::new("x", 1.0, 0)), Some(Key::new("y", t, 0))];
            assert_eq!(order_events(keys, 0.0), Err("y"));
        }
        let keys = [Some(Key::new("y", 1.0, 0)), Some(Key::new("y", f64::NAN, 0))];
        // after a real time, a NaN is held; never due, not even at the drain: it never comes out
        assert_eq!(order_events(keys, 0.0).unwrap(), [(0, false)]);
    }

    /// Against a plain stable sort: with no NaN, released once at the end (lateness inf - the
    /// drain's watermark is +inf; with a finite lateness everything is due), the order is the sort
    /// by (time, order key, arrival).
    #[test]
    fn a_full_drain_is_the_stable_sort() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut s: Sequencer<u8, u8, usize> = Sequencer::new(0.0);
        let mut all = Vec::new();
        for i in 0..2000 {
            let ts = [(next() % 50) as f64, -0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY][(next() % 5) as usize];
            let ts = if next() % 3 == 0 { ts } else { (next() % 50) as f64 };
            let o = (next() % 4) as u8;
            s.push(0, ts, o, i);
            all.push((ts, o, i));
        }
        all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let got: Vec<usize> = s.drain().into_iter().map(|(_, _, i, _)| i).collect();
        assert_eq!(got, all.iter().map(|a| a.2).collect::<Vec<_>>());
    }
}

/// `cargo test --release --lib order::timing -- --ignored --nocapture` with `TOLLGUARD_ORDER_KEYS` naming
/// a file of keys, one a line: tenant, the time's f64 bits in hex and the order bytes in hex, tab
/// separated (`-` alone for a record without a key): ns per event of `order_events`, best of 5 × 20.
#[cfg(test)]
mod timing {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    #[ignore]
    fn timing() {
        let Ok(path) = std::env::var("TOLLGUARD_ORDER_KEYS") else { return };
        let text = std::fs::read_to_string(path).expect("keys file");
        let keys: Vec<Option<(String, f64, Vec<u8>)>> = text
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                let tenant = f.next().expect("tenant");
                if tenant == "-" {
                    return None;
                }
                let ts = f64::from_bits(u64::from_str_radix(f.next().expect("ts"), 16).expect("bits"));
                Some((tenant.to_string(), ts, unhex(f.next().unwrap_or(""))))
            })
            .collect();
        let lateness: f64 = std::env::var("TOLLGUARD_ORDER_LATENESS").map_or(LATENESS, |s| s.parse().expect("lateness"));
        let mut best = f64::INFINITY;
        let mut sink = 0;
        for _ in 0..5 {
            let t0 = std::time::Instant::now();
            for _ in 0..20 {
                let it = keys.iter().map(|k| k.as_ref().map(|(t, ts, o)| Key::new(t.as_str(), *ts, o.as_slice())));
                sink += order_events(it, lateness).expect("no KeyError").len();
            }
            best = best.min(t0.elapsed().as_nanos() as f64 / (20 * keys.len()) as f64);
        }
        println!("order_events: {best:.0} ns/event over {} keys ({sink})", keys.len());
    }
}
