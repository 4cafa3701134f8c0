//! `Intervals`: completed `[start, end)` intervals sorted by end, one per id
//! (`streams/state/timeset.py`). `by_start` holds the same starts sorted; state written before it
//! existed (or a `by_start` of another length) is rebuilt on first use, as the reference does.

use super::{array_like, bisect_left, bisect_right};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intervals {
    pub ends: Vec<f64>,
    pub starts: Vec<f64>,
    pub ids: Vec<u64>,
    pub by_start: Vec<f64>,
}

array_like!(Intervals, 4, ends: Vec<f64>, starts: Vec<f64>, ids: Vec<u64>, by_start: Vec<f64>);

/// Python's `sorted` of floats (stable, by `<`; the windows never hold a NaN start).
fn sorted(v: &[f64]) -> Vec<f64> {
    let mut out = v.to_vec();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    out
}

impl Intervals {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Insert in end order; the index, or `None` when this interval is already held.
    pub fn add(&mut self, start: f64, end: f64, ident: u64) -> Option<usize> {
        let n = self.ends.len();
        let mut j = if n == 0 || end > self.ends[n - 1] { n } else { bisect_left(&self.ends, end, 0) };
        while j < n && self.ends[j] == end {
            if self.ids[j] == ident {
                return None;
            }
            j += 1;
        }
        self.sorted_starts();
        self.ends.insert(j, end);
        self.starts.insert(j, start);
        self.ids.insert(j, ident);
        let k = bisect_right(&self.by_start, start, 0, self.by_start.len()); // insort
        self.by_start.insert(k, start);
        Some(j)
    }

    fn sorted_starts(&mut self) -> &[f64] {
        if self.by_start.len() != self.starts.len() {
            self.by_start = sorted(&self.starts);
        }
        &self.by_start
    }

    pub fn latest_start(&mut self) -> Option<f64> {
        self.sorted_starts().last().copied()
    }

    /// How many held intervals ended at or before `t`.
    pub fn ended_by(&self, t: f64) -> usize {
        bisect_right(&self.ends, t, 0, self.ends.len())
    }

    /// How many held intervals contain the instant `t` (start <= t < end).
    pub fn count_at(&mut self, t: f64) -> i64 {
        let started = {
            let by_start = self.sorted_starts();
            bisect_right(by_start, t, 0, by_start.len())
        };
        started as i64 - self.ended_by(t) as i64
    }

    /// Is the interval of `ident` (which began at `start`) held?
    pub fn holds(&mut self, ident: u64, start: f64) -> bool {
        let by_start = self.sorted_starts();
        let i = bisect_left(by_start, start, 0);
        if i == by_start.len() || by_start[i] != start {
            return false;
        }
        (bisect_left(&self.ends, start, 0)..self.ends.len()).any(|k| self.starts[k] == start && self.ids[k] == ident)
    }

    /// The held intervals that overlap `[lo, hi)`, as `(start, end)`.
    pub fn overlapping(&self, lo: f64, hi: f64) -> Vec<(f64, f64)> {
        (bisect_right(&self.ends, lo, 0, self.ends.len())..self.ends.len())
            .filter(|&k| self.starts[k] < hi)
            .map(|k| (self.starts[k], self.ends[k]))
            .collect()
    }

    /// Drop intervals that ended before `before`, then all but the `keep` that ended last.
    pub fn prune(&mut self, before: f64, keep: usize) {
        let n = self.ends.len();
        let k = bisect_left(&self.ends, before, 0).max(n.saturating_sub(keep));
        if k == 0 {
            return;
        }
        self.sorted_starts();
        if k > 16 {
            self.ends.drain(..k);
            self.starts.drain(..k);
            self.ids.drain(..k);
            self.by_start = sorted(&self.starts);
            return;
        }
        for s in &self.starts[..k] {
            let at = bisect_left(&self.by_start, *s, 0);
            self.by_start.remove(at);
        }
        self.ends.drain(..k);
        self.starts.drain(..k);
        self.ids.drain(..k);
    }
}

#[cfg(test)]
mod tests {
    use super::super::timeset::tests::Rng;
    use super::*;

    #[test]
    fn order_and_repeats_do_not_matter() {
        let mut rng = Rng(0xDEAD_BEEF_1234_5678);
        for _ in 0..300 {
            // one interval per call (a call's id), with equal starts and ends among them
            let calls: Vec<(f64, f64, u64)> = (0..30)
                .map(|id| {
                    let s = rng.below(20) as f64;
                    (s, s + 1.0 + rng.below(5) as f64, id)
                })
                .collect();
            let mut a = Intervals::new();
            for &(s, e, id) in &calls {
                a.add(s, e, id);
            }
            let mut b = Intervals::new();
            let mut again = calls.clone();
            again.extend_from_slice(&calls[..15]);
            rng.shuffle(&mut again);
            for &(s, e, id) in &again {
                b.add(s, e, id);
            }
            assert_eq!(a.ends, b.ends);
            assert_eq!(a.by_start, b.by_start);
            for t in 0..26 {
                assert_eq!(a.count_at(t as f64), b.count_at(t as f64));
            }
        }
    }

    #[test]
    fn count_hold_prune() {
        let mut iv = Intervals::new();
        assert_eq!(iv.add(0.0, 10.0, 1), Some(0));
        assert_eq!(iv.add(5.0, 8.0, 2), Some(0));
        assert_eq!(iv.add(5.0, 8.0, 2), None);
        assert_eq!(iv.count_at(5.0), 2);
        assert_eq!(iv.count_at(8.0), 1);
        assert!(iv.holds(2, 5.0));
        assert!(!iv.holds(1, 5.0));
        assert_eq!(iv.overlapping(9.0, 20.0), vec![(0.0, 10.0)]);
        assert_eq!(iv.latest_start(), Some(5.0));
        iv.by_start.clear(); // state from before by_start: rebuilt on use
        assert_eq!(iv.count_at(6.0), 2);
        assert_eq!(iv.by_start, vec![0.0, 5.0]);
        iv.prune(9.0, 10);
        assert_eq!((iv.ends.clone(), iv.by_start.clone()), (vec![10.0], vec![0.0]));
    }
}
