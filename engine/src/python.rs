//! The Python face of the engine: `streams._engine` (see `streams/_engine.pyi`).
//!
//! Values cross the boundary once per call, in batches; nothing here holds a Python object.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::IntoPyObjectExt;

use crate::forest;
use crate::seclog::{self, Format, LogState, Outcome, Snapshot, Value};

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

/// One PBX security log file read line by line (`streams/intake/seclog.py`'s `parse_line` with its
/// `LogState`, held here): `parse` takes a batch of lines and gives one result per line.
#[pyclass(module = "streams._engine")]
struct LogReader {
    fmt: Format,
    tz: String,
    tenant: String,
    state: LogState,
}

#[pymethods]
impl LogReader {
    #[new]
    #[pyo3(signature = (fmt, tz, tenant = "default", year = None))]
    fn new(fmt: &str, tz: &str, tenant: &str, year: Option<i64>) -> PyResult<Self> {
        let format = Format::parse(fmt).ok_or_else(|| {
            PyValueError::new_err(format!("unknown log format {fmt:?} (one of {})", seclog::FORMATS.join(", ")))
        })?;
        let state = LogState::new(tz, tenant, year).map_err(PyValueError::new_err)?;
        Ok(LogReader { fmt: format, tz: tz.to_string(), tenant: tenant.to_string(), state })
    }

    /// Per line: the event dict, None (not a security event), or the reason it is refused (a str).
    fn parse(&mut self, py: Python<'_>, lines: Vec<String>) -> PyResult<Vec<Py<PyAny>>> {
        let fmt = self.fmt;
        let state = &mut self.state;
        let outcomes: Vec<Outcome> = py.detach(|| lines.iter().map(|l| seclog::parse_line(fmt, l, state)).collect());
        outcomes.into_iter().map(|o| outcome(py, o)).collect()
    }

    /// `LogState.snapshot()`.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let snap = self.state.snapshot();
        let d = PyDict::new(py);
        d.set_item("year", snap.year)?;
        d.set_item("last", snap.last)?;
        d.set_item("cut_tail", snap.cut_tail)?;
        d.set_item("cut_left", snap.cut_left)?;
        Ok(d)
    }

    /// `LogState.restore` of a snapshot into this reader.
    fn restore(&mut self, snap: &Bound<'_, PyDict>) -> PyResult<()> {
        let get = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            Ok(snap.get_item(k)?.filter(|v| !v.is_none()))
        };
        let cut_left = match get("cut_left")? {
            Some(v) if v.is_truthy()? => v.extract::<i64>()?,
            _ => 0,
        };
        let snap = Snapshot {
            year: get("year")?.map(|v| v.extract()).transpose()?,
            last: get("last")?.map(|v| v.extract()).transpose()?,
            cut_tail: get("cut_tail")?.and_then(|v| v.extract().ok()),
            cut_left,
        };
        self.state = LogState::restore(&self.tz, &self.tenant, &snap).map_err(PyValueError::new_err)?;
        Ok(())
    }
}

fn outcome(py: Python<'_>, o: Outcome) -> PyResult<Py<PyAny>> {
    match o {
        Outcome::Skip => Ok(py.None()),
        Outcome::Reject(reason) => PyString::new(py, &reason).into_py_any(py),
        Outcome::Event(ev) => {
            let d = PyDict::new(py);
            for (k, v) in ev {
                match v {
                    Value::Str(s) => d.set_item(k, s)?,
                    Value::Int(i) => d.set_item(k, i)?,
                    Value::Bool(b) => d.set_item(k, b)?,
                }
            }
            d.into_py_any(py)
        }
    }
}

/// `seclog.sniff_line`: which PBX log format a line unmistakably belongs to, if any.
#[pyfunction]
fn sniff_line(line: &str) -> Option<&'static str> {
    seclog::sniff_line(line).map(Format::name)
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Forest>()?;
    m.add_class::<LogReader>()?;
    m.add_function(wrap_pyfunction!(sniff_line, m)?)?;
    Ok(())
}
