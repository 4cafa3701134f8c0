//! `ValueWindow`: the sliding window of an operator-written rule (`streams/state/valuewindow.py`):
//! a `(time, id)` set like `TimeSet`, each entry carrying an integer value (0, a CRC-32 or
//! micro-units), so a count, a distinct count or a sum is the same in any order of adds.

use std::collections::HashMap;

use super::{array_like, bisect_left, bisect_right, cut, slot};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueWindow {
    pub t: Vec<f64>,
    pub ids: Vec<u64>,
    pub vals: Vec<i64>,
}

array_like!(ValueWindow, 3, t: Vec<f64>, ids: Vec<u64>, vals: Vec<i64>);

/// What a rule measures over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EventCount,
    ValueCount,
    ValueSum,
}

impl Kind {
    /// The reference takes any other name as `value_sum`; so does this.
    pub fn parse(kind: &str) -> Kind {
        match kind {
            "event_count" => Kind::EventCount,
            "value_count" => Kind::ValueCount,
            _ => Kind::ValueSum,
        }
    }
}

/// Python's `int > float`, exact (no rounding of the int to a float).
pub fn int_above(m: i128, x: f64) -> bool {
    if x.is_nan() {
        return false;
    }
    const TOP: f64 = 1.7014118346046923e38; // 2**127
    if x >= TOP {
        return false;
    }
    if x < -TOP {
        return true;
    }
    m > x.floor() as i128 // for an integer m, m > x exactly when m > floor(x)
}

impl ValueWindow {
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
    pub fn add(&mut self, time: f64, ident: u64, value: i64) -> Option<usize> {
        let n = self.t.len();
        if n == 0 || time > self.t[n - 1] {
            self.t.push(time);
            self.ids.push(ident);
            self.vals.push(value);
            return Some(n);
        }
        let j = slot(&self.t, &self.ids, time, ident)?;
        self.t.insert(j, time);
        self.ids.insert(j, ident);
        self.vals.insert(j, value);
        Some(j)
    }

    /// `(window end, measure)` for every window end whose window contains entry `i` and whose
    /// measure is above `threshold`, earliest first; one pass with running tallies.
    pub fn hits(&self, i: usize, seconds: f64, threshold: f64, kind: Kind) -> Vec<(f64, i128)> {
        let (times, vals) = (&self.t, &self.vals);
        let n = times.len();
        let start = times[i];
        let last = bisect_left(times, start + seconds, 0);
        let mut lo = bisect_right(times, start - seconds, 0, n);
        let mut hi = lo;
        let (mut count, mut total) = (0i128, 0i128);
        let mut tally: HashMap<i64, u64> = HashMap::new();
        let mut out = Vec::new();
        let mut j = i;
        while j < last {
            let end = times[j];
            let top = bisect_right(times, end, 0, n);
            for &v in &vals[hi.min(top)..top] {
                count += 1;
                total += v as i128;
                *tally.entry(v).or_insert(0) += 1;
            }
            hi = top;
            let floor = bisect_right(times, end - seconds, 0, n);
            for v in &vals[lo.min(floor)..floor] {
                count -= 1;
                total -= *v as i128;
                let left = tally.get_mut(v).expect("an entry leaving was counted joining");
                *left -= 1;
                if *left == 0 {
                    tally.remove(v);
                }
            }
            lo = floor;
            let measure = match kind {
                Kind::EventCount => count,
                Kind::ValueCount => tally.len() as i128,
                Kind::ValueSum => total,
            };
            if int_above(measure, threshold) {
                out.push((end, measure));
            }
            j = top;
        }
        out
    }

    /// Drop entries older than `before`, then all but the newest `keep` (amortised).
    pub fn prune(&mut self, before: f64, keep: usize) {
        let k = cut(&self.t, before, keep);
        if k > 0 {
            self.t.drain(..k);
            self.ids.drain(..k);
            self.vals.drain(..k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::timeset::tests::Rng;
    use super::*;

    #[test]
    fn measures_do_not_depend_on_order() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for _ in 0..300 {
            let es: Vec<(f64, u64, i64)> =
                (0..30).map(|_| (rng.below(20) as f64, rng.below(8), rng.below(4) as i64 * 250_000)).collect();
            let mut a = ValueWindow::new();
            for &(t, id, v) in &es {
                a.add(t, id, v);
            }
            let mut b = ValueWindow::new();
            // the value of a (time, id) is the first one added; keep those, repeated and shuffled
            let mut firsts: Vec<_> = es.iter().filter(|&&(t, id, _)| a.t.iter().zip(&a.ids).any(|(x, y)| *x == t && *y == id)).copied().collect();
            firsts.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
            let mut seen = std::collections::HashSet::new();
            firsts.retain(|e| seen.insert((e.0.to_bits(), e.1)));
            let mut calls = firsts.clone();
            calls.extend_from_slice(&firsts);
            rng.shuffle(&mut calls);
            for &(t, id, v) in &calls {
                b.add(t, id, v);
            }
            assert_eq!(a.t, b.t);
            for kind in [Kind::EventCount, Kind::ValueCount, Kind::ValueSum] {
                let ia = a.t.iter().position(|&x| x == 10.0);
                let ib = b.t.iter().position(|&x| x == 10.0);
                if let (Some(ia), Some(ib)) = (ia, ib) {
                    assert_eq!(a.hits(ia, 5.0, 1.0, kind), b.hits(ib, 5.0, 1.0, kind));
                }
            }
        }
    }

    #[test]
    fn hits_and_exact_comparison() {
        let mut w = ValueWindow::new();
        for (t, id, v) in [(1.0, 1, 5), (2.0, 2, 5), (3.0, 3, 7)] {
            w.add(t, id, v);
        }
        assert_eq!(w.hits(0, 10.0, 1.0, Kind::EventCount), vec![(2.0, 2), (3.0, 3)]);
        assert_eq!(w.hits(0, 10.0, 1.5, Kind::ValueCount), vec![(3.0, 2)]);
        assert_eq!(w.hits(0, 10.0, 16.9, Kind::ValueSum), vec![(3.0, 17)]);
        assert!(int_above(9007199254740993, 9007199254740992.0)); // 2**53 + 1 > 2**53, unlike as floats
        assert!(!int_above(5, f64::NAN));
        assert!(!int_above(i128::MAX, f64::INFINITY));
        assert!(int_above(i128::MIN, f64::NEG_INFINITY));
    }
}
