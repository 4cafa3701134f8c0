//! CPython's `heapq.heappush` and `heappop`, step for step, over any `PyLt` item: the same layout
//! and the same reorderings as the reference's heaps, so two heaps fed alike pop alike even where
//! `<` is not a total order (a NaN, Python's tuple comparison). Used by the canonical order
//! (`order.rs`) and the key lifecycle (`lifecycle.rs`).

/// Python's `<` on the item the reference keeps in its heap (usually a tuple).
pub trait PyLt {
    fn py_lt(&self, other: &Self) -> bool;
}

/// `heapq._siftdown(heap, start, pos)`: the item at `pos` moves up while it is `<` its parent.
fn sift_down<T: PyLt>(heap: &mut [T], start: usize, mut pos: usize) {
    while pos > start {
        let parent = (pos - 1) >> 1;
        if heap[pos].py_lt(&heap[parent]) {
            heap.swap(pos, parent);
            pos = parent;
            continue;
        }
        break;
    }
}

/// `heapq._siftup(heap, pos)`: the item at `pos` goes down to a leaf along the smaller children
/// (the right one unless `left < right`), then back up with `_siftdown`.
fn sift_up<T: PyLt>(heap: &mut [T], mut pos: usize) {
    let end = heap.len();
    let start = pos;
    let mut child = 2 * pos + 1;
    while child < end {
        let right = child + 1;
        if right < end && !heap[child].py_lt(&heap[right]) {
            child = right;
        }
        heap.swap(pos, child);
        pos = child;
        child = 2 * pos + 1;
    }
    sift_down(heap, start, pos);
}

/// `heapq.heappush(heap, item)`.
pub fn push<T: PyLt>(heap: &mut Vec<T>, item: T) {
    heap.push(item);
    let last = heap.len() - 1;
    sift_down(heap, 0, last);
}

/// `heapq.heappop(heap)` (None where it raises IndexError).
pub fn pop<T: PyLt>(heap: &mut Vec<T>) -> Option<T> {
    let last = heap.pop()?;
    if heap.is_empty() {
        return Some(last);
    }
    let top = std::mem::replace(&mut heap[0], last);
    sift_up(heap, 0);
    Some(top)
}

/// Python's `max(a, b)` of two floats: `a` unless `b > a` (so `a` on a tie or a NaN).
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)` of two floats: `a` unless `b < a`.
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl PyLt for (f64, u32) {
        fn py_lt(&self, other: &Self) -> bool {
            if self.0 == other.0 {
                self.1 < other.1
            } else {
                self.0 < other.0
            }
        }
    }

    #[test]
    fn pops_in_order_and_keeps_heapqs_layout() {
        let mut h = Vec::new();
        for (i, t) in [5.0, 1.0, 4.0, 1.0, 3.0, 9.0, 2.0].into_iter().enumerate() {
            push(&mut h, (t, i as u32));
        }
        // heapq.heappush over the same tuples leaves this list
        assert_eq!(h, vec![(1.0, 1), (1.0, 3), (2.0, 6), (5.0, 0), (3.0, 4), (9.0, 5), (4.0, 2)]);
        let mut out = Vec::new();
        while let Some(x) = pop(&mut h) {
            out.push(x);
        }
        assert_eq!(out, vec![(1.0, 1), (1.0, 3), (2.0, 6), (3.0, 4), (4.0, 2), (5.0, 0), (9.0, 5)]);
    }

    #[test]
    fn max_and_min_keep_the_first_on_a_tie_or_a_nan() {
        assert!(py_max(f64::NAN, 1.0).is_nan());
        assert_eq!(py_max(1.0, f64::NAN), 1.0);
        assert_eq!(py_max(0.0, -0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(py_max(-0.0, 0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(py_min(2.0, f64::NAN), 2.0);
        assert_eq!(py_min(2.0, 1.0), 1.0);
    }
}
