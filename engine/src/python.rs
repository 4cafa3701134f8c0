//! The Python face of the engine: `streams._engine` (see `streams/_engine.pyi`).
//!
//! Values cross the boundary once per call, in batches; nothing here holds a Python object.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::forest;

/// An isolation forest scored in Rust (`models/score.py` builds it from a fitted scikit-learn model).
#[pyclass(frozen, module = "streams._engine")]
struct Forest {
    inner: forest::Forest,
}

#[pymethods]
impl Forest {
    /// `trees`: per tree, (left, right, feature, threshold, missing_go_to_left, path_length,
    /// average_path, columns), as scikit-learn's arrays hold them.
    #[new]
    #[allow(clippy::type_complexity)]
    fn new(
        trees: Vec<(Vec<i64>, Vec<i64>, Vec<i64>, Vec<f64>, Vec<bool>, Vec<f64>, Vec<f64>, Vec<usize>)>,
        width: usize,
        max_samples: f64,
    ) -> PyResult<Self> {
        let trees = trees
            .into_iter()
            .map(|(left, right, feature, threshold, missing_left, path_length, average_path, columns)| forest::Tree {
                left, right, feature, threshold, missing_left, path_length, average_path, columns,
            })
            .collect();
        let inner = forest::Forest::new(trees, width, max_samples).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Forest { inner })
    }

    /// The anomaly score of each row (scikit-learn's `-score_samples`): `rows` holds them one after another.
    fn score(&self, py: Python<'_>, rows: Vec<f64>) -> PyResult<Vec<f64>> {
        py.detach(|| self.inner.score(&rows)).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[getter]
    fn width(&self) -> usize {
        self.inner.width()
    }

    #[getter]
    fn trees(&self) -> usize {
        self.inner.trees()
    }
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Forest>()?;
    Ok(())
}
