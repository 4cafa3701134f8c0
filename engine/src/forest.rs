//! Scoring an isolation forest trained by scikit-learn, from the fitted trees' own arrays.
//!
//! The arithmetic follows `IsolationForest.score_samples` (scikit-learn 1.9) step by step, so the
//! scores agree with it to rounding: each row is cast to `f32` as scikit-learn's validation does,
//! a node sends a row left when its feature is `<=` the threshold (a NaN goes where the node's
//! `missing_go_to_left` says), each tree adds `path_length[leaf] + average_path[leaf] - 1.0` to
//! the row's depth in tree order, and the score is `2 ** -(depth / (trees * c(max_samples)))`.
//! The score returned is scikit-learn's `-score_samples`: higher is stranger.

/// One fitted tree, as `sklearn.tree._tree.Tree` holds it, with the forest's per-node path lengths.
#[derive(Debug, Clone)]
pub struct Tree {
    pub left: Vec<i64>,
    pub right: Vec<i64>,
    pub feature: Vec<i64>,
    pub threshold: Vec<f64>,
    pub missing_left: Vec<bool>,
    /// `_decision_path_lengths[tree]` and `_average_path_length_per_tree[tree]`, per node.
    pub path_length: Vec<f64>,
    pub average_path: Vec<f64>,
    /// `estimators_features_[tree]`: the columns of the row this tree reads, in its own order.
    pub columns: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Tree>,
    width: usize,
    denominator: f64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ForestError {
    Shape(String),
}

impl std::fmt::Display for ForestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForestError::Shape(s) => write!(f, "{s}"),
        }
    }
}

/// scikit-learn's `_average_path_length` for one sample count: the mean depth of an unsuccessful
/// search in a binary search tree of `n` nodes.
pub fn average_path_length(n: f64) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
    }
}

impl Forest {
    /// A forest of `trees` reading rows of `width` features, trained on `max_samples` rows per tree.
    pub fn new(trees: Vec<Tree>, width: usize, max_samples: f64) -> Result<Forest, ForestError> {
        for (i, t) in trees.iter().enumerate() {
            t.check(width).map_err(|e| ForestError::Shape(format!("tree {i}: {e}")))?;
        }
        let denominator = trees.len() as f64 * average_path_length(max_samples);
        Ok(Forest { trees, width, denominator })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// The anomaly score of each row of `rows` (row-major, `width` values each).
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ForestError> {
        if self.width == 0 || rows.len() % self.width != 0 {
            return Err(ForestError::Shape(format!("{} values are not rows of {} features", rows.len(), self.width)));
        }
        let narrowed: Vec<f64> = rows.iter().map(|&x| f64::from(x as f32)).collect();
        Ok(narrowed.chunks(self.width).map(|row| self.score_row(row)).collect())
    }

    fn score_row(&self, row: &[f64]) -> f64 {
        let mut depth = 0.0_f64;
        for t in &self.trees {
            let leaf = t.leaf(row);
            depth += t.path_length[leaf] + t.average_path[leaf] - 1.0;
        }
        if self.denominator == 0.0 {
            // a forest trained on one sample: scikit-learn divides into ones where the denominator is 0,
            // so its score is 2 ** -1 (its comment says 1; the arithmetic gives this)
            return 0.5;
        }
        2f64.powf(-(depth / self.denominator))
    }
}

impl Tree {
    fn check(&self, width: usize) -> Result<(), String> {
        let n = self.left.len();
        if n == 0 {
            return Err("no nodes".into());
        }
        let same = [self.right.len(), self.feature.len(), self.threshold.len(), self.missing_left.len(),
                    self.path_length.len(), self.average_path.len()];
        if same.iter().any(|&m| m != n) {
            return Err(format!("node arrays of different lengths ({n} and {same:?})"));
        }
        if self.columns.iter().any(|&c| c >= width) {
            return Err(format!("a column outside the {width} features"));
        }
        for i in 0..n {
            let (l, r) = (self.left[i], self.right[i]);
            if l == -1 && r == -1 {
                continue;
            }
            // children come after their parent in scikit-learn's depth-first build: no cycle can form
            let child_ok = |c: i64| c > i as i64 && (c as usize) < n;
            let f = self.feature[i];
            if !child_ok(l) || !child_ok(r) || f < 0 || f as usize >= self.columns.len() {
                return Err(format!("node {i} has bad children or feature"));
            }
        }
        Ok(())
    }

    fn leaf(&self, row: &[f64]) -> usize {
        let mut node = 0usize;
        while self.left[node] != -1 {
            let x = row[self.columns[self.feature[node] as usize]];
            let go_left = if x.is_nan() { self.missing_left[node] } else { x <= self.threshold[node] };
            node = if go_left { self.left[node] } else { self.right[node] } as usize;
        }
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 0.5 goes left to a leaf at depth 1, else right to a leaf at depth 1.
    fn stump(missing_left: bool) -> Tree {
        Tree {
            left: vec![1, -1, -1],
            right: vec![2, -1, -1],
            feature: vec![0, -2, -2],
            threshold: vec![0.5, -2.0, -2.0],
            missing_left: vec![missing_left, false, false],
            path_length: vec![0.0, 1.0, 1.0],
            average_path: vec![0.0, 0.0, average_path_length(3.0)],
            columns: vec![0],
        }
    }

    #[test]
    fn average_path_length_matches_the_formula() {
        assert_eq!(average_path_length(1.0), 0.0);
        assert_eq!(average_path_length(2.0), 1.0);
        let c256 = average_path_length(256.0);
        assert!((c256 - 10.244_770_920_804_2).abs() < 1e-9, "{c256}");
    }

    #[test]
    fn rows_go_left_at_or_below_the_threshold_and_nan_follows_the_node() {
        let f = Forest::new(vec![stump(true)], 1, 4.0).unwrap();
        let s = f.score(&[0.5, 0.6, f64::NAN]).unwrap();
        assert_eq!(s[0], 1.0); // left leaf: depth 1 + c(1) - 1 = 0, so 2^-0
        assert!(s[1] < s[0]); // the right leaf holds 3 samples: a longer expected path, a lower score
        assert_eq!(s[2], s[0]);
        let right = Forest::new(vec![stump(false)], 1, 4.0).unwrap();
        assert_eq!(right.score(&[f64::NAN]).unwrap()[0], s[1]);
    }

    #[test]
    fn values_are_compared_as_f32_like_scikit_learn() {
        let mut t = stump(true);
        t.threshold[0] = f64::from(0.1_f32); // what an f32-trained split looks like
        let f = Forest::new(vec![t], 1, 4.0).unwrap();
        let s = f.score(&[0.1]).unwrap(); // 0.1 as f64 is above f32(0.1), but equal once narrowed
        assert_eq!(s[0], 1.0); // left leaf: depth 1 + c(1) - 1 = 0, so 2^-0
    }

    #[test]
    fn malformed_forests_and_rows_are_refused() {
        let mut t = stump(true);
        t.left[0] = 0; // a cycle
        assert!(Forest::new(vec![t], 1, 4.0).is_err());
        let mut t = stump(true);
        t.columns = vec![3];
        assert!(Forest::new(vec![t], 1, 4.0).is_err());
        let f = Forest::new(vec![stump(true)], 2, 4.0).unwrap();
        assert!(f.score(&[1.0, 2.0, 3.0]).is_err());
    }
}
