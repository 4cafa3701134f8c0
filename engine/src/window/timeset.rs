//! `TimeSet`: a sorted set of `(time, id)` entries (`streams/state/timeset.py`), with the helpers
//! `slot` and `cut` the windows share. Inserting ignores an entry already held, so the set after a
//! stream of adds is the same whatever their order and however often one is repeated.

use super::{array_like, bisect_left, bisect_right, WindowError};

/// `streams.core.epochs.FOREVER`: a span this long is one epoch for ever.
pub use crate::ids::FOREVER;

/// Where `(time, ident)` goes in sorted `times` (after the entries of the same instant), or `None`
/// when it is already held.
pub fn slot(times: &[f64], ids: &[u64], time: f64, ident: u64) -> Option<usize> {
    let n = times.len();
    let mut j = bisect_left(times, time, 0);
    while j < n && times[j] == time {
        if ids[j] == ident {
            return None;
        }
        j += 1;
    }
    Some(j)
}

/// How many of the oldest entries a window drops: those before `before`, then all but the newest
/// `keep` (amortised: a little over `keep` may stay); 0 when none.
pub fn cut(times: &[f64], before: f64, keep: usize) -> usize {
    let n = times.len();
    if n <= keep && (n == 0 || times[0] >= before) {
        return 0;
    }
    let mut k = if times[0] < before { bisect_left(times, before, 0) } else { 0 };
    if n - k > keep + keep / 4 {
        k = n - keep;
    }
    k
}

/// The `(time, id)` set of a counting rule; JSON `[t, ids]` as msgspec writes the Python Struct.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeSet {
    pub t: Vec<f64>,
    pub ids: Vec<u64>,
}

array_like!(TimeSet, 2, t: Vec<f64>, ids: Vec<u64>);

impl TimeSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Insert in sorted position; the entry's index, or `None` when this `(time, id)` is held.
    pub fn add(&mut self, time: f64, ident: u64) -> Option<usize> {
        let n = self.t.len();
        if n == 0 || time > self.t[n - 1] {
            self.t.push(time);
            self.ids.push(ident);
            return Some(n);
        }
        let j = slot(&self.t, &self.ids, time, ident)?;
        self.t.insert(j, time);
        self.ids.insert(j, ident);
        Some(j)
    }

    /// Entries in the window `(end - seconds, end]`.
    /// (Negative when `seconds` is, as in the reference.)
    pub fn count(&self, end: f64, seconds: f64) -> i64 {
        let n = self.t.len();
        bisect_right(&self.t, end, 0, n) as i64 - bisect_right(&self.t, end - seconds, 0, n) as i64
    }

    /// `(window end, count)` for every window end (an entry's time) that contains entry `i` and holds
    /// more than `limit` entries, earliest first; with `span`, only the first of each epoch.
    pub fn exceeded(&self, i: usize, seconds: f64, limit: i64, span: Option<f64>) -> Result<Vec<(f64, i64)>, WindowError> {
        let times = &self.t;
        let n = times.len();
        if i >= n {
            return Err(WindowError("list index out of range".into()));
        }
        let start = times[i];
        if (i == n - 1 || times[i + 1] - seconds >= start) && !(i + 1 < n && times[i + 1] == start) {
            let c = (i + 1 - bisect_right(times, start - seconds, 0, i + 1)) as i64;
            return Ok(if c > limit { vec![(start, c)] } else { vec![] });
        }
        let mut out = Vec::new();
        let mut j = bisect_left(times, start, 0);
        let mut last: Option<f64> = None;
        while j < n && times[j] - seconds < start {
            let end = times[j];
            if last.is_none_or(|l| end != l) {
                last = Some(end);
                let c = bisect_right(times, end, j, n) as i64 - bisect_right(times, end - seconds, 0, j + 1) as i64;
                if c > limit {
                    out.push((end, c));
                    if let Some(span) = span {
                        if span < FOREVER {
                            j = (j + 1).max(bisect_left(times, next_epoch(end, span)?, j));
                            continue;
                        }
                        break;
                    }
                }
            }
            j += 1;
        }
        Ok(out)
    }

    /// Drop entries older than `before`, then all but the newest `keep` (amortised).
    pub fn prune(&mut self, before: f64, keep: usize) {
        let k = cut(&self.t, before, keep);
        if k > 0 {
            self.t.drain(..k);
            self.ids.drain(..k);
        }
    }

    /// Keep only the newest `keep` entries of `[lo, hi)`.
    pub fn compact(&mut self, lo: f64, hi: f64, keep: usize) {
        let a = bisect_left(&self.t, lo, 0);
        let b = bisect_left(&self.t, hi, 0);
        if b > a && b - a > keep {
            self.t.drain(a..b - keep);
            self.ids.drain(a..b - keep);
        }
    }
}

/// `(math.floor(end / span) + 1) * span`, refused where Python raises.
fn next_epoch(end: f64, span: f64) -> Result<f64, WindowError> {
    if span == 0.0 {
        return Err(WindowError("float division by zero".into()));
    }
    let q = end / span;
    if q.is_nan() {
        return Err(WindowError("cannot convert float NaN to integer".into()));
    }
    if q.is_infinite() {
        return Err(WindowError("cannot convert float infinity to integer".into()));
    }
    // floor(q) is an integer held exactly; Python's int + 1 then int * float rounds as f64 does
    Ok((q.floor() + 1.0) * span)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small deterministic generator (no dev-dependency): xorshift64*.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        pub fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.below(i as u64 + 1) as usize);
            }
        }
    }

    fn entries(rng: &mut Rng, n: usize) -> Vec<(f64, u64)> {
        (0..n).map(|_| (rng.below(20) as f64 * 0.5, rng.below(6))).collect()
    }

    #[test]
    fn order_and_repeats_do_not_matter() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..500 {
            let es = entries(&mut rng, 40);
            let mut a = TimeSet::new();
            for &(t, id) in &es {
                a.add(t, id);
            }
            let mut shuffled = es.clone();
            shuffled.extend_from_slice(&es[..10]);
            rng.shuffle(&mut shuffled);
            let mut b = TimeSet::new();
            for &(t, id) in &shuffled {
                b.add(t, id);
            }
            assert_eq!(a.t, b.t);
            // ids of equal times may sit in another order; the set of entries is the same
            let mut ea: Vec<_> = a.t.iter().zip(&a.ids).map(|(t, i)| (t.to_bits(), *i)).collect();
            let mut eb: Vec<_> = b.t.iter().zip(&b.ids).map(|(t, i)| (t.to_bits(), *i)).collect();
            ea.sort();
            eb.sort();
            assert_eq!(ea, eb);
            for end in [0.0, 3.0, 5.5, 9.5] {
                assert_eq!(a.count(end, 2.0), b.count(end, 2.0));
            }
        }
    }

    #[test]
    fn an_entry_added_twice_counts_once() {
        let mut s = TimeSet::new();
        assert_eq!(s.add(5.0, 1), Some(0));
        assert_eq!(s.add(5.0, 1), None);
        assert_eq!(s.add(5.0, 2), Some(1));
        assert_eq!(s.add(4.0, 1), Some(0));
        assert_eq!(s.count(5.0, 1.0), 2);
        assert_eq!(s.count(5.0, 1.5), 3);
    }

    #[test]
    fn a_late_entry_raises_what_an_on_time_one_would() {
        let mut s = TimeSet::new();
        for (t, id) in [(1.0, 1), (2.0, 2), (4.0, 4)] {
            s.add(t, id);
        }
        let i = s.add(3.0, 3).unwrap();
        assert_eq!(s.exceeded(i, 3.0, 2, None).unwrap(), vec![(3.0, 3), (4.0, 3)]);
        assert_eq!(s.exceeded(i, 3.0, 2, Some(10.0)).unwrap(), vec![(3.0, 3)]);
        assert_eq!(s.exceeded(i, 3.0, 2, Some(0.0)), Err(WindowError("float division by zero".into())));
    }

    #[test]
    fn prune_and_compact() {
        let mut s = TimeSet::new();
        for k in 0..10 {
            s.add(k as f64, k);
        }
        s.prune(3.0, 100);
        assert_eq!(s.t, vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        s.compact(4.0, 8.0, 1);
        assert_eq!(s.t, vec![3.0, 7.0, 8.0, 9.0]);
        assert_eq!(cut(&s.t, 0.0, 2), 2);
        assert_eq!(cut(&s.t, 0.0, 3), 1); // 4 > 3 + 3/4
        assert_eq!(cut(&s.t, 0.0, 4), 0); // amortised: nothing to drop
    }

    #[test]
    fn json_as_msgspec_writes_it() {
        let s = TimeSet { t: vec![1.0, 1e18], ids: vec![3, 18446744073709551615] };
        assert_eq!(super::super::to_json(&s), b"[[1.0,1e18],[3,18446744073709551615]]");
        let back: TimeSet = super::super::from_json(b"[[1,1e18],[3,18446744073709551615]]").unwrap();
        assert_eq!(back, s);
        let empty: TimeSet = super::super::from_json(b"[]").unwrap();
        assert_eq!(empty, TimeSet::new());
    }
}

/// ns per event without Python in the way: `cargo test --release --lib -- --ignored --nocapture timing`
/// (tests/engine/bench_windows.py measures the same steps through the Python classes).
#[cfg(test)]
mod timing {
    use super::tests::Rng;
    use super::*;

    fn events(n: usize, gap: f64, late: f64) -> Vec<f64> {
        let mut rng = Rng(7);
        let mut t = 1.7e9;
        (0..n)
            .map(|_| {
                t += gap * 2.0 * (rng.below(1000) as f64 / 1000.0);
                if rng.below(5) == 0 { t - late * (rng.below(1000) as f64 / 1000.0) } else { t }
            })
            .collect()
    }

    #[test]
    #[ignore]
    fn timing() {
        let n = 200_000;
        for (name, gap, late, exceeded, span) in [
            ("add+count, in order", 1.0, 0.0, false, None),
            ("add+count, 20% late <30 s", 1.0, 30.0, false, None),
            ("add+exceeded, in order, flood", 0.05, 0.0, true, None),
            ("add+exceeded, 20% late, flood", 0.05, 30.0, true, None),
            ("add+exceeded span=60, late, flood", 0.05, 30.0, true, Some(60.0)),
        ] {
            let ts = events(n, gap, late);
            let mut w = TimeSet::new();
            let mut sink = 0i64;
            let t0 = std::time::Instant::now();
            for (k, &t) in ts.iter().enumerate() {
                if let Some(i) = w.add(t, k as u64) {
                    sink += if exceeded { w.exceeded(i, 60.0, 5, span).unwrap().len() as i64 } else { w.count(t, 60.0) };
                }
                if k % 64 == 0 {
                    w.prune(t - 3600.0, 4096);
                }
            }
            let ns = t0.elapsed().as_nanos() as f64 / n as f64;
            println!("{name:36} {ns:8.0} ns/event ({sink})");
        }
    }
}
