//! The Python face of the engine: `streams._engine` (see `streams/_engine.pyi`).
//!
//! Values cross the boundary once per call, in batches. Only `Sequencer` holds Python objects (the
//! items it orders, visited by Python's cycle collector); the rest holds Rust values.

use std::collections::HashMap;

use pyo3::exceptions::{PyIndexError, PyKeyError, PyOSError, PyOverflowError, PyTypeError, PyValueError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use pyo3::{PyTraverseError, PyVisit};

use crate::country;
use crate::emit;
use crate::event::{self, DateTime, Event};
use crate::features::{self, CallFacts, FeaturesError};
use crate::forest;
use crate::ids::{self, EpochError, IsoError, Part};
use crate::lifecycle;
use crate::order;
use crate::policy;
use crate::record::{self, Ev};
use crate::rules;
use crate::seclog::{self, Format, LogState, Outcome, Snapshot, Value};
use crate::state;
use crate::window;

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

// -- the per-key windows (engine/src/window/): not used by the detector yet; the differential
// tests (tests/engine/test_windows_engine.py) hold them to streams/state/timeset.py and valuewindow.py.

fn slot(j: Option<usize>) -> i64 {
    j.map_or(-1, |j| j as i64)
}

fn keep(keep: i64) -> PyResult<usize> {
    usize::try_from(keep).map_err(|_| PyValueError::new_err("keep must not be negative"))
}

fn index(i: i64, n: usize) -> PyResult<usize> {
    usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| PyIndexError::new_err("list index out of range"))
}

fn json_err(e: window::WindowError) -> PyErr {
    PyValueError::new_err(e.0)
}

/// `streams.state.timeset.TimeSet`, in Rust.
#[pyclass(module = "streams._engine")]
struct TimeSet {
    inner: window::TimeSet,
}

#[pymethods]
impl TimeSet {
    #[new]
    fn new() -> Self {
        TimeSet { inner: window::TimeSet::new() }
    }

    #[staticmethod]
    fn from_json(data: &[u8]) -> PyResult<Self> {
        Ok(TimeSet { inner: window::from_json(data).map_err(json_err)? })
    }

    fn to_json<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &window::to_json(&self.inner))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn t(&self) -> Vec<f64> {
        self.inner.t.clone()
    }

    #[getter]
    fn ids(&self) -> Vec<u64> {
        self.inner.ids.clone()
    }

    fn add(&mut self, time: f64, ident: u64) -> i64 {
        slot(self.inner.add(time, ident))
    }

    fn count(&self, end: f64, seconds: f64) -> i64 {
        self.inner.count(end, seconds)
    }

    #[pyo3(signature = (i, seconds, limit, span = None))]
    fn exceeded(&self, i: i64, seconds: f64, limit: i64, span: Option<f64>) -> PyResult<Vec<(f64, i64)>> {
        let i = index(i, self.inner.len())?;
        self.inner.exceeded(i, seconds, limit, span).map_err(|e| PyValueError::new_err(e.0))
    }

    fn prune(&mut self, before: f64, keep: i64) -> PyResult<()> {
        self.inner.prune(before, self::keep(keep)?);
        Ok(())
    }

    fn compact(&mut self, lo: f64, hi: f64, keep: i64) -> PyResult<()> {
        self.inner.compact(lo, hi, self::keep(keep)?);
        Ok(())
    }
}

/// `streams.state.timeset.Intervals`, in Rust.
#[pyclass(module = "streams._engine")]
struct Intervals {
    inner: window::Intervals,
}

#[pymethods]
impl Intervals {
    #[new]
    fn new() -> Self {
        Intervals { inner: window::Intervals::new() }
    }

    #[staticmethod]
    fn from_json(data: &[u8]) -> PyResult<Self> {
        Ok(Intervals { inner: window::from_json(data).map_err(json_err)? })
    }

    fn to_json<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &window::to_json(&self.inner))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn ends(&self) -> Vec<f64> {
        self.inner.ends.clone()
    }

    #[getter]
    fn starts(&self) -> Vec<f64> {
        self.inner.starts.clone()
    }

    #[getter]
    fn ids(&self) -> Vec<u64> {
        self.inner.ids.clone()
    }

    #[getter]
    fn by_start(&self) -> Vec<f64> {
        self.inner.by_start.clone()
    }

    fn add(&mut self, start: f64, end: f64, ident: u64) -> i64 {
        slot(self.inner.add(start, end, ident))
    }

    fn latest_start(&mut self) -> Option<f64> {
        self.inner.latest_start()
    }

    fn ended_by(&self, t: f64) -> usize {
        self.inner.ended_by(t)
    }

    fn count_at(&mut self, t: f64) -> i64 {
        self.inner.count_at(t)
    }

    fn holds(&mut self, ident: u64, start: f64) -> bool {
        self.inner.holds(ident, start)
    }

    fn overlapping(&self, lo: f64, hi: f64) -> Vec<(f64, f64)> {
        self.inner.overlapping(lo, hi)
    }

    fn prune(&mut self, before: f64, keep: i64) -> PyResult<()> {
        self.inner.prune(before, self::keep(keep)?);
        Ok(())
    }
}

/// `streams.state.valuewindow.ValueWindow`, in Rust.
#[pyclass(module = "streams._engine")]
struct ValueWindow {
    inner: window::ValueWindow,
}

#[pymethods]
impl ValueWindow {
    #[new]
    fn new() -> Self {
        ValueWindow { inner: window::ValueWindow::new() }
    }

    #[staticmethod]
    fn from_json(data: &[u8]) -> PyResult<Self> {
        Ok(ValueWindow { inner: window::from_json(data).map_err(json_err)? })
    }

    fn to_json<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &window::to_json(&self.inner))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn t(&self) -> Vec<f64> {
        self.inner.t.clone()
    }

    #[getter]
    fn ids(&self) -> Vec<u64> {
        self.inner.ids.clone()
    }

    #[getter]
    fn vals(&self) -> Vec<i64> {
        self.inner.vals.clone()
    }

    #[pyo3(signature = (time, ident, value = 0))]
    fn add(&mut self, time: f64, ident: u64, value: i64) -> i64 {
        slot(self.inner.add(time, ident, value))
    }

    fn hits(&self, i: i64, seconds: f64, threshold: f64, kind: &str) -> PyResult<Vec<(f64, i128)>> {
        let i = index(i, self.inner.len())?;
        Ok(self.inner.hits(i, seconds, threshold, window::Kind::parse(kind)))
    }

    fn prune(&mut self, before: f64, keep: i64) -> PyResult<()> {
        self.inner.prune(before, self::keep(keep)?);
        Ok(())
    }
}

// -- the event contract (engine/src/event/): not used by the shells yet; the differential tests
// (tests/engine/test_events_engine.py) hold it to streams.domain.events.

type TimeTuple = (f64, (u16, u8, u8, u8, u8, u8, u32, i16));

fn time_tuple(t: DateTime) -> TimeTuple {
    (t.timestamp(), (t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro, t.offset))
}

/// The event's fields as a dict (`type` first, then every field, defaults included), datetimes as
/// (timestamp, (year, month, day, hour, minute, second, microsecond, offset in minutes)).
fn fields_dict<'py>(py: Python<'py>, ev: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", ev.tag())?;
    for (name, v, _) in ev.fields() {
        match v {
            event::Value::Str(s) => d.set_item(name, s)?,
            event::Value::Time(t) => d.set_item(name, time_tuple(t))?,
            event::Value::Float(x) => d.set_item(name, x)?,
            event::Value::Int(i) => d.set_item(name, i)?,
            event::Value::Bool(b) => d.set_item(name, b)?,
            event::Value::None => d.set_item(name, py.None())?,
        }
    }
    Ok(d)
}

fn decoded<'py>(py: Python<'py>, ev: &Event, fields: bool) -> PyResult<Bound<'py, PyTuple>> {
    let f = if fields { fields_dict(py, ev)?.into_any() } else { py.None().into_bound(py) };
    PyTuple::new(py, [ev.time().into_bound_py_any(py)?, ev.ident().into_bound_py_any(py)?, f])
}

/// `decode_event_bytes` of each input: the reason it is refused (a str), or (bytes out, event_time,
/// event_ident, fields or None); the bytes out are the input object itself when nothing changed.
#[pyfunction]
#[pyo3(signature = (raws, fields = true))]
fn decode_events(py: Python<'_>, raws: Vec<Bound<'_, PyBytes>>, fields: bool) -> PyResult<Vec<Py<PyAny>>> {
    let views: Vec<&[u8]> = raws.iter().map(|b| b.as_bytes()).collect();
    let results: Vec<_> = py.detach(|| views.iter().map(|v| event::decode_event_bytes(v)).collect());
    results
        .into_iter()
        .zip(&raws)
        .map(|(r, raw)| match r {
            Err(why) => why.into_py_any(py),
            Ok((ev, out)) => {
                let out = match out {
                    std::borrow::Cow::Borrowed(_) => raw.clone().into_any(),
                    std::borrow::Cow::Owned(b) => PyBytes::new(py, &b).into_any(),
                };
                let d = decoded(py, &ev, fields)?;
                let (t, i, f) = (d.get_item(0)?, d.get_item(1)?, d.get_item(2)?);
                PyTuple::new(py, [out, t, i, f])?.into_py_any(py)
            }
        })
        .collect()
}

/// `record_events(raw, canonical=True)` of each record: the reason a batch record cannot be split
/// (a str), or its items as (index or None, bytes, (event_time, event_ident, fields) or None,
/// reason or None).
#[pyfunction]
fn decode_records(py: Python<'_>, raws: Vec<Bound<'_, PyBytes>>) -> PyResult<Vec<Py<PyAny>>> {
    let views: Vec<&[u8]> = raws.iter().map(|b| b.as_bytes()).collect();
    let results: Vec<_> = py.detach(|| views.iter().map(|v| event::record_events(v)).collect());
    results
        .into_iter()
        .map(|r| match r {
            Err(why) => why.into_py_any(py),
            Ok(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let bytes = PyBytes::new(py, &item.bytes);
                    let row = match &item.event {
                        Ok(ev) => (item.index, bytes, Some(decoded(py, ev, true)?), None),
                        Err(why) => (item.index, bytes, None, Some(why.as_str())),
                    };
                    out.push(row.into_py_any(py)?);
                }
                out.into_py_any(py)
            }
        })
        .collect()
}

// -- ids and epochs (engine/src/ids.rs): not used by the detector yet; tests/engine/test_ids_engine.py
// holds them to streams.core.detector._hash, streams.core.epochs and streams.domain.incidents/campaigns.

/// A Python int as an i128 (i64 first: the fast path every epoch and ident takes), or None beyond.
fn small_int(v: &Bound<'_, PyAny>) -> Option<i128> {
    v.extract::<i64>().map(i128::from).or_else(|_| v.extract::<i128>()).ok()
}

/// `streams.core.detector._hash(*parts)`: the blake2b-80 hex of the parts' `str()` joined by `|`. A part
/// is a str, int, float, bool or None, of exactly that type (a subclass's `str()` may differ); an int
/// beyond 128 bits is written by Python's own `str()`.
#[pyfunction]
#[pyo3(signature = (*parts))]
fn hash_id(parts: &Bound<'_, PyTuple>) -> PyResult<String> {
    let mut j = ids::Joined::new();
    for v in parts.iter() {
        if let Ok(s) = v.cast_exact::<PyString>() {
            j.push(Part::Str(s.to_str()?));
        } else if let Ok(f) = v.cast_exact::<PyFloat>() {
            j.push(Part::Float(f.value()));
        } else if v.is_exact_instance_of::<PyInt>() {
            match small_int(&v) {
                Some(n) => j.push(Part::Int(n)),
                None => j.push(Part::Str(v.str()?.to_str()?)),
            }
        } else if let Ok(b) = v.cast_exact::<PyBool>() {
            j.push(Part::Bool(b.is_true()));
        } else if v.is_none() {
            j.push(Part::None);
        } else {
            return Err(PyTypeError::new_err(format!(
                "an id part is a str, int, float, bool or None, not {}",
                v.get_type().name()?
            )));
        }
    }
    Ok(j.hex())
}

/// `streams.core.epochs.epoch_of(at, span)`, with Python's exceptions (a span of 0, a NaN, an infinity).
#[pyfunction]
fn epoch_of(py: Python<'_>, at: f64, span: f64) -> PyResult<Py<PyAny>> {
    match ids::epoch_of(at, span) {
        Ok(n) => n.into_py_any(py),
        Err(EpochError::Big) => {
            let q = ids::epoch_floor(at, span).expect("Big is a finite floor");
            Ok(PyFloat::new(py, q).call_method0("__int__")?.unbind()) // exact: the floor is an integer
        }
        Err(EpochError::ZeroSpan) => Err(PyZeroDivisionError::new_err("float division by zero")),
        Err(EpochError::NaN) => Err(PyValueError::new_err("cannot convert float NaN to integer")),
        Err(EpochError::Infinite) => Err(PyOverflowError::new_err("cannot convert float infinity to integer")),
    }
}

/// `msgspec.json.encode(streams.core.epochs.iso(ts))` without the quotes: an alert's or action's `ts`
/// as the records carry it; what `datetime.fromtimestamp` raises where it raises.
#[pyfunction]
fn iso_text(ts: f64) -> PyResult<String> {
    ids::iso_text(ts).map_err(iso_err)
}

/// `streams.domain.incidents.incident_id`.
#[pyfunction]
fn incident_id(tenant: &str, subject_type: &str, subject: &str, first_alert: &str) -> String {
    ids::incident_id(tenant, subject_type, subject, first_alert)
}

/// `streams.domain.incidents._call_key`: the call id itself, or `#` and its blake2b-96 hex.
#[pyfunction]
fn call_key<'py>(call_id: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    match ids::call_key(call_id.to_str()?) {
        std::borrow::Cow::Borrowed(_) => Ok(call_id.clone()),
        std::borrow::Cow::Owned(key) => Ok(PyString::new(call_id.py(), &key)),
    }
}

/// `streams.domain.incidents._ident_of` of a detection with this alert id and `ts`.
#[pyfunction]
fn seen_ident(alert_id: &str, ts: f64) -> u64 {
    ids::seen_ident(alert_id, ts)
}

/// The campaign's detection ident of `IncidentFold._count_in`: blake2b-56 of `f"{alert_id}|{ident}"`.
#[pyfunction]
fn detection_ident(alert_id: &str, ident: &Bound<'_, PyInt>) -> PyResult<u64> {
    let n = small_int(ident.as_any()).ok_or_else(|| PyOverflowError::new_err("ident beyond 128 bits"))?;
    Ok(ids::detection_ident(alert_id, n))
}

/// `streams.domain.campaigns._hash`: a value's 64-bit hash.
#[pyfunction]
fn campaign_hash(value: &str) -> u64 {
    ids::campaign_hash(value)
}

// -- the per-key state codec (engine/src/state/): not used by the detector yet;
// tests/engine/test_state_engine.py holds it to streams.shells.worker.statecodec.

/// `encode_value(decode_value(raw))` for a key's state, through the Rust types; ValueError where
/// `decode_value` raises (and for a partition's record, which is not a key's state).
#[pyfunction]
fn state_roundtrip<'py>(py: Python<'py>, raw: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let out = state::roundtrip(raw).map_err(|e| PyValueError::new_err(e.0))?;
    Ok(PyBytes::new(py, &out))
}

/// The scope of a key's state value: "ip", "ext", "trunk" or "tenant"; ValueError as `state_roundtrip`.
#[pyfunction]
fn state_scope(raw: &[u8]) -> PyResult<&'static str> {
    state::decode(raw).map(|s| s.scope()).map_err(|e| PyValueError::new_err(e.0))
}

// -- the anomaly model's features (engine/src/features.rs): not used by the detector yet;
// tests/engine/test_features_engine.py holds it to models.features.ExtensionFeatures.update.

fn float_item(facts: &Bound<'_, PyTuple>, i: usize, name: &str) -> PyResult<f64> {
    let item = facts.get_item(i)?;
    let f = item.cast::<PyFloat>().map_err(|_| PyTypeError::new_err(format!("CallFacts.{name} must be a float")))?;
    Ok(f.value())
}

fn bool_item(facts: &Bound<'_, PyTuple>, i: usize, name: &str) -> PyResult<bool> {
    let item = facts.get_item(i)?;
    let b = item.cast::<PyBool>().map_err(|_| PyTypeError::new_err(format!("CallFacts.{name} must be a bool")))?;
    Ok(b.is_true())
}

/// `ExtensionFeatures.update` on a `Features` given as `msgspec.msgpack.encode(f)` and a `CallFacts` as
/// its fields' tuple: the new state's bytes (msgspec's) and the feature vector. ValueError for bytes
/// msgspec would not decode as a `Features`; IndexError and ZeroDivisionError where the reference raises.
#[pyfunction]
fn features_update<'py>(py: Python<'py>, state: &[u8], facts: &Bound<'py, PyTuple>) -> PyResult<(Bound<'py, PyBytes>, Vec<f64>)> {
    use state::Codec;
    if facts.len() != 9 {
        return Err(PyTypeError::new_err(format!("CallFacts has 9 fields, got {}", facts.len())));
    }
    let c = CallFacts {
        ts: float_item(facts, 0, "ts")?,
        dst: facts.get_item(1)?.extract()?,
        country: facts.get_item(2)?.extract()?,
        international: bool_item(facts, 3, "international")?,
        premium: bool_item(facts, 4, "premium")?,
        offhours: bool_item(facts, 5, "offhours")?,
        billsec: float_item(facts, 6, "billsec")?,
        cost: float_item(facts, 7, "cost")?,
        failed: bool_item(facts, 8, "failed")?,
    };
    let mut r = state::Reader::new(state);
    let mut st = state::Features::read(&mut r).map_err(|e| PyValueError::new_err(e.0))?;
    if !r.at_end() {
        return Err(PyValueError::new_err(format!("MessagePack data is malformed: trailing characters (byte {})", r.pos)));
    }
    let vec = features::update(&mut st, &c).map_err(|e| match e {
        FeaturesError::Index => PyIndexError::new_err("list index out of range"),
        FeaturesError::ZeroDivision => PyZeroDivisionError::new_err("float division by zero"),
    })?;
    let mut w = Vec::with_capacity(state.len() + 32);
    st.write(&mut w);
    Ok((PyBytes::new(py, &w), vec.to_vec()))
}

// -- the canonical order (engine/src/order.rs): not used by the shells yet;
// tests/engine/test_order_engine.py holds it to streams.core.ordering.

/// A float's NaN identity token for `order::Sequencer::push_same`: the object's address when it is a
/// NaN (Python's tuple `==` is true for one and the same object), else 0.
fn nan_token(ts: &Bound<'_, PyAny>, t: f64) -> usize {
    if t.is_nan() { ts.as_ptr() as usize } else { 0 }
}

/// An item held by `Sequencer`, with its NaN time object kept alive (its address is its token).
struct Held {
    item: Py<PyAny>,
    nan: Option<Py<PyAny>>,
}

/// `streams.core.ordering.Sequencer` with str tenants, bytes order keys and any items.
#[pyclass(module = "streams._engine")]
struct Sequencer {
    inner: order::Sequencer<usize, Vec<u8>, Held>,
    index: Py<PyDict>,     // tenant -> its number, looked up as the reference's dicts look it up
    names: Vec<Py<PyAny>>, // the tenants by number, the first object seen of each
}

impl Sequencer {
    fn known(&self, py: Python<'_>, tenant: &Bound<'_, PyString>) -> PyResult<Option<usize>> {
        self.index.bind(py).get_item(tenant)?.map(|n| n.extract()).transpose()
    }
}

#[pymethods]
impl Sequencer {
    #[new]
    #[pyo3(signature = (lateness = 0.0))]
    fn new(py: Python<'_>, lateness: f64) -> Self {
        Sequencer { inner: order::Sequencer::new(lateness), index: PyDict::new(py).unbind(), names: Vec::new() }
    }

    /// Hold `item`; True when it is late. The tenant must be exactly a `str` and the time exactly a
    /// `float` (TypeError otherwise): no Python code (a subclass's `__hash__`, an `__float__`) runs
    /// while the sequencer is borrowed, and an int time is not compared as a float would be.
    fn push(&mut self, py: Python<'_>, tenant: &Bound<'_, PyAny>, ts: &Bound<'_, PyAny>, order: &[u8], item: Py<PyAny>) -> PyResult<bool> {
        let tenant = tenant.cast_exact::<PyString>()?;
        let t = ts.cast_exact::<PyFloat>()?.value();
        let n = match self.known(py, tenant)? {
            Some(n) => n,
            None => {
                let n = self.names.len();
                self.index.bind(py).set_item(tenant, n)?;
                self.names.push(tenant.clone().into_any().unbind());
                n
            }
        };
        let same = nan_token(ts, t);
        let held = Held { item, nan: (same != 0).then(|| ts.clone().unbind()) };
        Ok(self.inner.push_same(n, t, same, order.to_vec(), held))
    }

    /// `(time, item, late)` of this tenant up to `watermark - lateness`, in canonical order.
    fn release(&mut self, py: Python<'_>, tenant: &Bound<'_, PyAny>, watermark: f64) -> PyResult<Vec<(f64, Py<PyAny>, bool)>> {
        let tenant = tenant.cast_exact::<PyString>()?;
        let Some(n) = self.known(py, tenant)? else { return Ok(Vec::new()) };
        Ok(self.inner.release(&n, watermark).into_iter().map(|(t, h, late)| (t, h.item, late)).collect())
    }

    /// Everything still held as `(tenant, time, item, late)`, tenant by tenant.
    fn drain(&mut self, py: Python<'_>) -> Vec<(Py<PyAny>, f64, Py<PyAny>, bool)> {
        let names = &self.names;
        self.inner.drain().into_iter().map(|(n, t, h, late)| (names[n].clone_ref(py), t, h.item, late)).collect()
    }

    fn tenants(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.inner.tenants().into_iter().map(|&n| self.names[n].clone_ref(py)).collect()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Python's cycle collector sees the held items, so an item that refers back to its sequencer
    /// is collected, as with the reference.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.index)?;
        for name in &self.names {
            visit.call(name)?;
        }
        for held in self.inner.held() {
            visit.call(&held.item)?;
            if let Some(nan) = &held.nan {
                visit.call(nan)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.inner.clear_held();
    }

    #[getter]
    fn late(&self) -> u64 {
        self.inner.late()
    }

    #[getter]
    fn frontier<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (&n, t) in self.inner.frontiers() {
            d.set_item(self.names[n].bind(py), t)?;
        }
        Ok(d)
    }

    #[getter]
    fn get_lateness(&self) -> f64 {
        self.inner.lateness
    }

    #[setter]
    fn set_lateness(&mut self, lateness: f64) {
        self.inner.lateness = lateness;
    }
}

/// A key read from Python: (tenant number, time, NaN token, order bytes).
type KeyPart<'py> = (usize, f64, usize, Bound<'py, PyBytes>);

/// `in_event_time_order` over `keys` (per record `(tenant, time, order)` or None): the records' release
/// order as `(index, late)`. KeyError(tenant) where the reference raises it.
#[pyfunction]
fn order_events(py: Python<'_>, keys: Vec<Bound<'_, PyAny>>, lateness: f64) -> PyResult<Vec<(usize, bool)>> {
    let index = PyDict::new(py);
    let mut names: Vec<Bound<'_, PyAny>> = Vec::new();
    let mut parts: Vec<Option<KeyPart<'_>>> = Vec::with_capacity(keys.len());
    for k in &keys {
        if k.is_none() {
            parts.push(None);
            continue;
        }
        let k = k.cast::<PyTuple>()?;
        if k.len() != 3 {
            return Err(PyTypeError::new_err(format!("a key is (tenant, time, order), got {} items", k.len())));
        }
        let tenant = k.get_item(0)?;
        let tenant = tenant.cast_exact::<PyString>()?;
        let n = match index.get_item(tenant)? {
            Some(n) => n.extract()?,
            None => {
                let n = names.len();
                index.set_item(tenant, n)?;
                names.push(tenant.clone().into_any());
                n
            }
        };
        let ts = k.get_item(1)?;
        let t = ts.cast_exact::<PyFloat>()?.value();
        let order = k.get_item(2)?.cast_into::<PyBytes>()?;
        parts.push(Some((n, t, nan_token(&ts, t), order)));
    }
    let rs: Vec<_> = parts
        .iter()
        .map(|p| p.as_ref().map(|(n, t, same, o)| order::Key { tenant: *n, ts: *t, same: *same, order: o.as_bytes() }))
        .collect();
    py.detach(|| order::order_events(rs, lateness)).map_err(|n| PyKeyError::new_err(names[n].clone().unbind()))
}

// -- the key lifecycle (engine/src/lifecycle.rs): not used by the detector yet;
// tests/engine/test_lifecycle_engine.py holds it to streams.state.lifecycle.KeyLifecycle.

fn life_err(e: lifecycle::LifeError) -> PyErr {
    match e {
        lifecycle::LifeError::NaN => PyValueError::new_err(e.to_string()),
        lifecycle::LifeError::Infinite => PyOverflowError::new_err(e.to_string()),
        lifecycle::LifeError::ShortBlock => PyIndexError::new_err(e.to_string()),
        lifecycle::LifeError::Scope(s) => PyKeyError::new_err(s),
    }
}

fn life_tenant(name: &str, retention: &Bound<'_, PyDict>) -> PyResult<lifecycle::Tenant> {
    let mut keep = [0.0; 4];
    for (i, scope) in lifecycle::SCOPES.iter().enumerate() {
        let v = retention.get_item(scope)?.ok_or_else(|| PyKeyError::new_err(*scope))?;
        keep[i] = v.extract::<f64>()?;
    }
    Ok(lifecycle::Tenant { name: name.to_string(), retention: keep })
}

fn life_state(raw: &[u8]) -> PyResult<state::KeyState> {
    state::decode(raw).map_err(|e| PyValueError::new_err(e.0))
}

/// `streams.state.lifecycle.KeyLifecycle` with the keys' states it keeps (the detector's `state`),
/// each given and returned as its changelog value.
#[pyclass(module = "streams._engine")]
struct KeyLifecycle {
    inner: lifecycle::KeyLifecycle,
    state: HashMap<String, state::KeyState>,
}

#[pymethods]
impl KeyLifecycle {
    #[new]
    #[pyo3(signature = (max_keys = Some(lifecycle::MAX_KEYS)))]
    fn new(max_keys: Option<usize>) -> Self {
        KeyLifecycle { inner: lifecycle::KeyLifecycle::new(max_keys), state: HashMap::new() }
    }

    /// `write(state, key, scope, st, tenant, ts)` with `st` as its changelog value; True when stored.
    /// `ts` must be a float (an int would be stored as `last` as it is, and compared exactly).
    fn write(&mut self, key: &str, scope: &str, raw: &[u8], tenant: &str, retention: &Bound<'_, PyDict>,
             ts: &Bound<'_, PyAny>) -> PyResult<bool> {
        let ts = ts.cast_exact::<PyFloat>()?.value();
        let sc = lifecycle::scope_index(scope).map_err(life_err)?;
        let t = life_tenant(tenant, retention)?;
        let st = life_state(raw)?;
        self.inner.write(&mut self.state, key, sc, st, &t, ts).map_err(life_err)
    }

    /// `expire(state, tenant, limit)`: how many keys were deleted.
    fn expire(&mut self, tenant: &str, retention: &Bound<'_, PyDict>, limit: &Bound<'_, PyAny>) -> PyResult<u64> {
        let limit = limit.cast_exact::<PyFloat>()?.value();
        let t = life_tenant(tenant, retention)?;
        self.inner.expire(&mut self.state, &t, limit).map_err(life_err)
    }

    /// `rebuild(state, key, scope, st, tenant)` for a key read back from the changelog: held, then indexed.
    fn rebuild(&mut self, key: &str, scope: &str, raw: &[u8], tenant: &str, retention: &Bound<'_, PyDict>)
        -> PyResult<()> {
        let sc = lifecycle::scope_index(scope).map_err(life_err)?;
        let t = life_tenant(tenant, retention)?;
        self.state.insert(key.to_string(), life_state(raw)?);
        self.inner.rebuild(&self.state, key, sc, &t).map_err(life_err)
    }

    /// The changelog value of a held key, or None.
    fn state<'py>(&self, py: Python<'py>, key: &str) -> Option<Bound<'py, PyBytes>> {
        self.state.get(key).map(|st| PyBytes::new(py, &st.encode()))
    }

    /// The held keys (in no particular order).
    fn keys(&self) -> Vec<String> {
        self.state.keys().cloned().collect()
    }

    /// The bucket and tenant a key is indexed under, or None.
    fn indexed(&self, key: &str) -> Option<(f64, String)> {
        self.inner.indexed(key).cloned()
    }

    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (i, scope) in lifecycle::SCOPES.iter().enumerate() {
            d.set_item(*scope, self.inner.counts[i])?;
        }
        Ok(d)
    }

    #[getter]
    fn expired(&self) -> u64 {
        self.inner.expired
    }

    #[getter]
    fn evicted(&self) -> u64 {
        self.inner.evicted
    }

    #[getter]
    fn max_keys(&self) -> Option<usize> {
        self.inner.max_keys
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// The registered country of one address text; a text that is not UTF-8 (a lone surrogate) has none,
/// as `streams.reference.countries.country_of` answers when iptocc raises on it.
fn country_of_text(ip: &Bound<'_, PyString>) -> Option<&'static str> {
    ip.to_str().ok().and_then(country::country_of)
}

/// `streams.reference.countries.country_of` without its cache (engine/src/country.rs).
#[pyfunction]
fn country_of(ip: &Bound<'_, PyString>) -> Option<&'static str> {
    country_of_text(ip)
}

/// `country_of` of each address, in order.
#[pyfunction]
fn countries_of(ips: Vec<Bound<'_, PyString>>) -> Vec<Option<&'static str>> {
    ips.iter().map(country_of_text).collect()
}

/// A tenant's policy document as the engine reads it (engine/src/policy.rs).
#[pyclass(frozen, module = "streams._engine")]
struct TenantDoc {
    inner: policy::Tenant,
}

fn time_err(e: policy::TimeError) -> PyErr {
    match e {
        policy::TimeError::NaN => PyValueError::new_err("cannot convert float NaN to integer"),
        policy::TimeError::Utc(e) => iso_err(e),
        policy::TimeError::Local => PyOverflowError::new_err("date value out of range"),
        policy::TimeError::Beyond => PyValueError::new_err("past the end of the engine's time zone data (9999-12-30T22:00Z)"),
    }
}

fn ip_arg(ip: &str) -> PyResult<std::net::IpAddr> {
    policy::parse_ip(ip).ok_or_else(|| PyValueError::new_err(format!("{ip:?} does not appear to be an IPv4 or IPv6 address")))
}

#[pymethods]
impl TenantDoc {
    #[new]
    fn new(doc: &[u8]) -> PyResult<Self> {
        policy::Tenant::from_json(doc).map(|inner| TenantDoc { inner }).map_err(|e| PyValueError::new_err(e.0))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn in_lan(&self, ip: &str) -> PyResult<bool> {
        Ok(self.inner.in_lan(ip_arg(ip)?))
    }

    fn exempt(&self, ip: &str) -> PyResult<bool> {
        Ok(self.inner.exempt(ip_arg(ip)?))
    }

    fn business_hours(&self, ts: f64) -> PyResult<Option<bool>> {
        self.inner.business_hours(ts).map_err(time_err)
    }

    fn local_day(&self, ts: f64) -> PyResult<i64> {
        self.inner.local_day(ts).map_err(time_err)
    }

    /// What the engine read of the flood rules' settings, as plain values (for the tests to compare).
    fn flood_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.inner.settings;
        let d = PyDict::new(py);
        let lockout = |l: &policy::Lockout| {
            (l.failures, l.seconds, l.block_seconds, l.lock_account, l.lock_scope.clone(), l.max_failures, l.max_seconds)
        };
        d.set_item("timezone", &s.timezone)?;
        d.set_item("allowed_country_ips", s.allowed_country_ips.clone())?;
        d.set_item("country_ip_block", &s.country_ip_block)?;
        d.set_item("registration_lockout", lockout(&s.registration_lockout))?;
        d.set_item("login_lockout", lockout(&s.login_lockout))?;
        let dl = &s.distributed_lockout;
        d.set_item("distributed_lockout", (dl.failures, dl.seconds, dl.sources, dl.accounts))?;
        let ad: Vec<_> = s.auto_defense.iter()
            .map(|a| (a.name.clone(), a.service.clone(), a.protocol.clone(), a.port, a.packets, a.seconds, a.block_seconds))
            .collect();
        d.set_item("auto_defense", ad)?;
        d.set_item("block_on_unverified_udp", s.block_on_unverified_udp)?;
        d.set_item("scanner_block_seconds", s.scanner_block_seconds)?;
        d.set_item("block_seconds", s.block_seconds)?;
        d.set_item("incident_seconds", s.incident_seconds)?;
        d.set_item("campaign_seconds", s.campaign_seconds)?;
        d.set_item("scanners", self.inner.scanners.clone())?;
        d.set_item("retention", self.inner.retention.clone())?;
        Ok(d)
    }
}

/// An evidence value from Python: None, bool, int, float, str, list, tuple and dict (str or int keys), as
/// msgspec encodes them; anything else (a set, bytes, a float key) is a TypeError, which no rule writes.
fn ev_of(obj: &Bound<'_, PyAny>, depth: u32) -> PyResult<Ev> {
    if depth > 64 {
        return Err(PyValueError::new_err("evidence nested deeper than 64 levels"));
    }
    if obj.is_none() {
        return Ok(Ev::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Ev::Bool(b.is_true()));
    }
    if let Ok(n) = obj.cast::<PyInt>() {
        return Ok(match n.extract::<i128>() {
            Ok(v) => Ev::Int(v),
            Err(_) => Ev::BigInt(n.str()?.to_str()?.to_owned()),
        });
    }
    if let Ok(x) = obj.cast::<PyFloat>() {
        return Ok(Ev::Float(x.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Ev::Str(s.to_str()?.to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(Ev::Map(map_of(d, depth)?));
    }
    if let Ok(l) = obj.cast::<pyo3::types::PyList>() {
        return l.iter().map(|x| ev_of(&x, depth + 1)).collect::<PyResult<Vec<_>>>().map(Ev::List);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|x| ev_of(&x, depth + 1)).collect::<PyResult<Vec<_>>>().map(Ev::List);
    }
    Err(PyTypeError::new_err(format!("evidence holds a {}, which the engine does not write", obj.get_type().name()?)))
}

fn map_of(d: &Bound<'_, PyDict>, depth: u32) -> PyResult<Vec<(String, Ev)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let key = if let Ok(s) = k.cast::<PyString>() {
            s.to_str()?.to_owned()
        } else if k.cast::<PyInt>().is_ok() && k.cast::<PyBool>().is_err() {
            k.str()?.to_str()?.to_owned()
        } else {
            return Err(PyTypeError::new_err("Only dicts with str-like or number-like keys are supported"));
        };
        out.push((key, ev_of(&v, depth + 1)?));
    }
    Ok(out)
}

/// What `datetime.fromtimestamp` raises where the port of `iso` refuses a time.
fn iso_err(e: IsoError) -> PyErr {
    match e {
        IsoError::NaN => PyValueError::new_err("Invalid value NaN (not a number)"),
        IsoError::TimeT => PyOverflowError::new_err("timestamp out of range for platform time_t"),
        IsoError::Gmtime => PyOSError::new_err((75, "Value too large for defined data type")),
        IsoError::Year(y) => PyValueError::new_err(format!("year {y} is out of range")),
    }
}

type ActionFields = (String, f64, String, String, String, Option<i64>, String, String, Option<String>);

fn action_of(f: ActionFields) -> record::Action {
    let (action_id, ts, tenant, kind, target, duration_s, alert_id, reason, from_ip) = f;
    record::Action { action_id, ts, tenant, kind, target, duration_s, alert_id, reason, from_ip }
}

/// `encode(Alert(...))` with the alert's instant `ts` as a float (engine/src/record.rs).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn alert_json<'py>(py: Python<'py>, alert_id: String, ts: f64, tenant: String, rule: String, severity: String,
                   subject_type: String, subject: String, summary: String, evidence: &Bound<'py, PyDict>,
                   mode: String) -> PyResult<Bound<'py, PyBytes>> {
    let alert = record::Alert { alert_id, ts, tenant, rule, severity, subject_type, subject, summary,
                                evidence: map_of(evidence, 0)?, mode };
    let mut out = Vec::with_capacity(512);
    alert.write(&mut out).map_err(iso_err)?;
    Ok(PyBytes::new(py, &out))
}

/// `encode(Action(...))`: the fields in declared order, `ts` as a float.
#[pyfunction]
fn action_json<'py>(py: Python<'py>, fields: ActionFields) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(256);
    action_of(fields).write(&mut out).map_err(iso_err)?;
    Ok(PyBytes::new(py, &out))
}

/// `encode(Seen(...))`: the fields in declared order, each action as `action_json`'s fields.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn seen_json<'py>(py: Python<'py>, alert_id: String, ts: f64, tenant: String, rule: String, severity: String,
                  subject_type: String, subject: String, summary: String, span: f64, ident: u64,
                  call_id: Option<String>, cost: Option<f64>, actions: Vec<ActionFields>, campaign: Option<String>,
                  source: Option<String>, account: Option<String>, country: Option<String>) -> PyResult<Bound<'py, PyBytes>> {
    let seen = record::Seen { alert_id, ts, tenant, rule, severity, subject_type, subject, summary, span, ident,
                              call_id, cost, actions: actions.into_iter().map(action_of).collect(), campaign,
                              source, account, country };
    let mut out = Vec::with_capacity(512);
    seen.write(&mut out).map_err(iso_err)?;
    Ok(PyBytes::new(py, &out))
}

/// What `Ctx.emit` raises where the port refuses.
fn emit_err(e: emit::EmitError) -> PyErr {
    match e {
        emit::EmitError::Privacy => PyValueError::new_err("the tenant's privacy setting is not in the engine yet"),
        emit::EmitError::Epoch(EpochError::ZeroSpan) => PyZeroDivisionError::new_err("float division by zero"),
        emit::EmitError::Epoch(EpochError::NaN) => PyValueError::new_err("cannot convert float NaN to integer"),
        emit::EmitError::Epoch(EpochError::Infinite) => PyOverflowError::new_err("cannot convert float infinity to integer"),
        emit::EmitError::Epoch(EpochError::Big) => PyValueError::new_err("an incident epoch past 64 bits (a span far under a second)"),
        emit::EmitError::Iso(e) => iso_err(e),
        emit::EmitError::BadSpan(n) => PyValueError::new_err(if n < 2 {
            format!("not enough values to unpack (expected 2, got {n})")
        } else {
            "too many values to unpack (expected 2)".to_string()
        }),
    }
}

fn records_of<'py>(py: Python<'py>, out: &[emit::Out]) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let mut records = Vec::with_capacity(out.len());
    for rec in out {
        let mut buf = Vec::with_capacity(512);
        match rec {
            emit::Out::Alert(a) => a.write(&mut buf),
            emit::Out::Seen(s) => s.write(&mut buf),
        }
        .map_err(iso_err)?;
        records.push(PyBytes::new(py, &buf));
    }
    Ok(records)
}

/// What `rule_step` and `ip_scope_step` read of their arguments: the event, the other tenants' documents by name,
/// and what `_seen` reads of the event (a CDR's `cost` as given).
#[allow(clippy::type_complexity)]
fn step_input<'py>(event: &[u8], tenants: &Bound<'py, PyDict>, cost: Option<f64>)
                   -> PyResult<(Event, Vec<(String, PyRef<'py, TenantDoc>)>, emit::Source)> {
    let event = crate::event::decode_json(event).map_err(|e| PyValueError::new_err(format!("not an event: {e:?}")))?;
    let mut held = Vec::with_capacity(tenants.len());
    for (k, v) in tenants.iter() {
        held.push((k.extract::<String>()?, v.extract::<PyRef<'py, TenantDoc>>()?));
    }
    let source = match &event {
        Event::Cdr(e) => emit::Source::Cdr { call_id: e.call_id.clone(), cost },
        Event::Security(e) => emit::Source::Security {
            outcome: e.outcome.as_str().to_string(), src_ip: e.src_ip.clone(), account: e.account.clone(),
        },
        Event::Unblock(_) => emit::Source::None,
    };
    Ok((event, held, source))
}

/// `rule_step`'s answer: (the records, the state after, `Ctx.blocks_changed` after).
type RuleResult<'py> = (Vec<Bound<'py, PyBytes>>, Bound<'py, PyBytes>, bool);

/// One rule's `check(ctx, event)` (engine/src/rules/) on a key's state given as its changelog value: the records
/// it appended (alerts and detections, as `emit` writes them), the state after, and `Ctx.blocks_changed`.
/// `doc` is the event's tenant; `tenants` every other tenant's document by name (`Policy.tenant`), `event` the
/// event as `streams.domain.events.encode` writes it, `cost` a CDR's cost as `_seen` works it out.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn rule_step<'py>(py: Python<'py>, rule: &str, doc: PyRef<'py, TenantDoc>, tenants: Bound<'py, PyDict>, scope: &str,
                  state: &[u8], event: &[u8], ts: f64, settled: f64, ident: u64, blocks_changed: bool,
                  cost: Option<f64>) -> PyResult<RuleResult<'py>> {
    let (event, held, source) = step_input(event, &tenants, cost)?;
    let by_name: rules::Tenants<'_> = held.iter().map(|(k, v)| (k.as_str(), &v.inner)).collect();
    let mut st = state::decode(state).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut out = Vec::new();
    let mut c = rules::Check { tenant: &doc.inner, tenants: &by_name, scope, ts, settled, ident, source: &source,
                               blocks_changed, out: &mut out };
    let done = match (&mut st, &event) {
        (state::KeyState::Ip(s), Event::Security(ev)) => match rule {
            "registration_lockout" => rules::registration_lockout::check(&mut c, s, &event, ev),
            "login_lockout" => rules::login_lockout::check(&mut c, s, &event, ev),
            "auto_defense" => rules::auto_defense::check(&mut c, s, &event, ev),
            "scanner_user_agent" => rules::scanner_user_agent::check(&mut c, s, &event, ev),
            "static_defense" => rules::static_defense::check(&mut c, s, Some(&ev.src_ip)),
            "country_ip" => rules::country_ip::check(&mut c, &mut s.incidents, Some(&mut s.blocks), &event),
            "global_blocklist" => rules::global_blocklist::check(&mut c, s, &event),
            other => return Err(PyValueError::new_err(format!("no rule {other:?} in the engine's IP scope yet"))),
        },
        (state::KeyState::Ip(s), Event::Cdr(ev)) => match rule {
            "static_defense" => rules::static_defense::check(&mut c, s, ev.src_ip.as_deref()),
            "country_ip" => rules::country_ip::check(&mut c, &mut s.incidents, Some(&mut s.blocks), &event),
            "global_blocklist" => rules::global_blocklist::check(&mut c, s, &event),
            other => return Err(PyValueError::new_err(format!("no rule {other:?} for a CDR in the engine's IP scope yet"))),
        },
        (state::KeyState::Tenant(s), _) if rule == "country_ip" => {
            rules::country_ip::check(&mut c, &mut s.incidents, None, &event)
        }
        (state::KeyState::Tenant(s), Event::Security(ev)) if rule == "distributed_lockout" => {
            rules::distributed_lockout::check(&mut c, s, ev)
        }
        (state::KeyState::Ext(s), Event::Security(ev)) => match rule {
            "account_lockout" => rules::account_lockout::check(&mut c, s, &event, ev),
            "registration_ip_restriction" => rules::registration_ip_restriction::check(&mut c, s, &event, ev),
            "user_agent_restriction" => rules::user_agent_restriction::check(&mut c, s, &event, ev),
            "remote_registration" => rules::remote_registration::check(&mut c, s, &event, ev),
            other => return Err(PyValueError::new_err(format!("no rule {other:?} in the engine's extension scope yet"))),
        },
        _ => return Err(PyValueError::new_err(format!("no rule {rule:?} for this key and event in the engine yet"))),
    };
    let changed = c.blocks_changed;
    done.map_err(rule_err)?;
    Ok((records_of(py, &out)?, PyBytes::new(py, &st.encode()), changed))
}

/// `ip_scope_step`'s answer: the records, and the state after (None: no rule judged the event).
type ScopeResult<'py> = (Vec<Bound<'py, PyBytes>>, Option<Bound<'py, PyBytes>>);

/// The IP scope of one event (engine/src/rules/ip_scope.rs): `Detector.process`'s rules of the `ip` scope on the
/// key's state (None: a key not held), with the arguments of `rule_step`. Returns the records and the state after,
/// or no records and None when no rule of the scope judges the event (no key is made or written).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ip_scope_step<'py>(py: Python<'py>, doc: PyRef<'py, TenantDoc>, tenants: Bound<'py, PyDict>, state: Option<&[u8]>,
                      event: &[u8], ts: f64, settled: f64, ident: u64, cost: Option<f64>)
                      -> PyResult<ScopeResult<'py>> {
    let (event, held, source) = step_input(event, &tenants, cost)?;
    if matches!(event, Event::Unblock(_)) {
        return Err(PyValueError::new_err("an unblock is not judged by the rules"));
    }
    let by_name: rules::Tenants<'_> = held.iter().map(|(k, v)| (k.as_str(), &v.inner)).collect();
    let mut st = match state {
        Some(raw) => match state::decode(raw).map_err(|e| PyValueError::new_err(e.to_string()))? {
            state::KeyState::Ip(s) => s,
            other => return Err(PyValueError::new_err(format!("a {} key's state, not an IP key's", other.scope()))),
        },
        None => state::IpState::default(),
    };
    let mut out = Vec::new();
    let mut c = rules::Check { tenant: &doc.inner, tenants: &by_name, scope: "ip", ts, settled, ident, source: &source,
                               blocks_changed: false, out: &mut out };
    if !rules::ip_scope::step(&mut c, &mut st, &event).map_err(rule_err)? {
        return Ok((Vec::new(), None));
    }
    Ok((records_of(py, &out)?, Some(PyBytes::new(py, &state::KeyState::Ip(st).encode()))))
}

/// The IP scope's rules in order (`streams.rules.RULES_BY_SCOPE["ip"]` but `custom`).
#[pyfunction]
fn ip_scope_rules() -> Vec<(&'static str, bool, bool, Option<&'static str>)> {
    rules::ip_scope::IP_RULES.to_vec()
}

fn rule_err(e: rules::RuleError) -> PyErr {
    match e {
        rules::RuleError::Emit(e) => emit_err(e),
        rules::RuleError::Window(e) => PyValueError::new_err(e.0),
        rules::RuleError::NoTenant(name) => PyKeyError::new_err(format!("no tenant document for {name:?}")),
        rules::RuleError::State(why) => PyValueError::new_err(why),
        rules::RuleError::Unported(why) => PyValueError::new_err(format!("not in the engine yet: {why}")),
    }
}

/// `emit_step`'s answer: (a new alert?, the records, the state after, a block recorded?).
type EmitResult<'py> = (bool, Vec<Bound<'py, PyBytes>>, Bound<'py, PyBytes>, bool);
type SourceFields = (String, Option<String>, Option<f64>, Option<String>, Option<String>, Option<String>);
type OrderFields = (String, String, Option<i64>, Option<String>);
type EmitCall<'py> = (String, String, String, String, String, Bound<'py, PyDict>, Vec<OrderFields>, String, Option<f64>,
                      Option<f64>, bool);

/// One `Ctx.emit` (engine/src/emit.rs) on a key's state given as its changelog value: (a new alert?,
/// the records it appended, the state after, whether it recorded a block: `Ctx.blocks_changed`). `source` is (kind "none"/"cdr"/"security", call_id, cost,
/// outcome, src_ip, account); `call` is emit's arguments; `other` the `tenant=` a rule passed.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn emit_step<'py>(py: Python<'py>, doc: PyRef<'py, TenantDoc>, other: Option<PyRef<'py, TenantDoc>>, scope: &str,
                  state: &[u8], ts: f64, settled: f64, ident: u64, source: SourceFields, call: EmitCall<'py>)
                  -> PyResult<EmitResult<'py>> {
    let (kind, call_id, cost, outcome, src_ip, account) = source;
    let source = match kind.as_str() {
        "none" => emit::Source::None,
        "cdr" => emit::Source::Cdr { call_id: call_id.unwrap_or_default(), cost },
        "security" => emit::Source::Security { outcome: outcome.unwrap_or_default(), src_ip: src_ip.unwrap_or_default(), account },
        other => return Err(PyValueError::new_err(format!("unknown source kind {other:?}"))),
    };
    let (rule, severity, subject_type, subject, summary, evidence, actions, variant, at, span, adds) = call;
    let mut st = state::decode(state).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let (incidents, blocks) = match &mut st {
        state::KeyState::Ip(s) => (&mut s.incidents, Some(&mut s.blocks)),
        state::KeyState::Ext(s) => (&mut s.incidents, None),
        state::KeyState::Trunk(s) => (&mut s.incidents, None),
        state::KeyState::Tenant(s) => (&mut s.incidents, None),
    };
    let mut out = Vec::new();
    let mut ctx = emit::Ctx { tenant: &doc.inner, scope, ts, settled, ident, source: &source, incidents, blocks,
                              blocks_changed: false, out: &mut out };
    let detection = emit::Detection {
        rule: &rule, severity: &severity, subject_type: &subject_type, subject: &subject, summary: &summary,
        evidence: map_of(&evidence, 0)?,
        actions: actions.into_iter().map(|(kind, target, duration_s, from_ip)| emit::Order { kind, target, duration_s, from_ip }).collect(),
        variant: &variant, at, span, tenant: other.as_ref().map(|o| &o.inner), adds,
    };
    let made = ctx.emit(detection).map_err(emit_err)?;
    let changed = ctx.blocks_changed;
    let records = records_of(py, &out)?;
    Ok((made, records, PyBytes::new(py, &st.encode()), changed))
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Forest>()?;
    m.add_class::<LogReader>()?;
    m.add_class::<TimeSet>()?;
    m.add_class::<Intervals>()?;
    m.add_class::<ValueWindow>()?;
    m.add_class::<Sequencer>()?;
    m.add_class::<KeyLifecycle>()?;
    m.add_class::<TenantDoc>()?;
    m.add("TENANT_DOC_VERSION", policy::VERSION)?;
    m.add("LIFECYCLE_KEEPS", lifecycle::KEEPS.to_vec())?;
    m.add_function(wrap_pyfunction!(sniff_line, m)?)?;
    m.add_function(wrap_pyfunction!(decode_events, m)?)?;
    m.add_function(wrap_pyfunction!(decode_records, m)?)?;
    m.add_function(wrap_pyfunction!(hash_id, m)?)?;
    m.add_function(wrap_pyfunction!(rule_step, m)?)?;
    m.add_function(wrap_pyfunction!(ip_scope_step, m)?)?;
    m.add_function(wrap_pyfunction!(ip_scope_rules, m)?)?;
    m.add_function(wrap_pyfunction!(epoch_of, m)?)?;
    m.add_function(wrap_pyfunction!(iso_text, m)?)?;
    m.add_function(wrap_pyfunction!(incident_id, m)?)?;
    m.add_function(wrap_pyfunction!(call_key, m)?)?;
    m.add_function(wrap_pyfunction!(seen_ident, m)?)?;
    m.add_function(wrap_pyfunction!(detection_ident, m)?)?;
    m.add_function(wrap_pyfunction!(campaign_hash, m)?)?;
    m.add_function(wrap_pyfunction!(state_roundtrip, m)?)?;
    m.add_function(wrap_pyfunction!(state_scope, m)?)?;
    m.add_function(wrap_pyfunction!(features_update, m)?)?;
    m.add_function(wrap_pyfunction!(order_events, m)?)?;
    m.add_function(wrap_pyfunction!(country_of, m)?)?;
    m.add_function(wrap_pyfunction!(countries_of, m)?)?;
    m.add_function(wrap_pyfunction!(alert_json, m)?)?;
    m.add_function(wrap_pyfunction!(action_json, m)?)?;
    m.add_function(wrap_pyfunction!(seen_json, m)?)?;
    m.add_function(wrap_pyfunction!(emit_step, m)?)?;
    m.add("CAMPAIGN_RULES", emit::CAMPAIGN_RULES.to_vec())?;
    Ok(())
}
