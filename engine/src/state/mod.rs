//! The per-key state of `streams/state/schema.py` as Rust types that read and write the worker's
//! changelog values (`streams/shells/worker/statecodec.py`) byte for byte, so the Rust detector can take
//! over a running worker's state. Not yet used by the detector.
//!
//! `decode` takes what `decode_value` takes for a key's state (`ip/5`, `ext/5`, `trunk/5`, `tenant/5`)
//! and refuses what it refuses: another tag (named in the error: "schema 'ext/4'"), a wrong-typed
//! field, malformed or trailing bytes. `encode` writes what `encode_value` writes for the value
//! `decode_value` returns, so `encode(decode(b))` is msgspec's `encode(decode(b))`:
//!
//! - a map's fields in declared order, the tag first; a field left out when msgspec leaves it out
//!   (its default *object*: None, an empty list or dict of a `list`/`dict` factory, a float default
//!   never read from bytes). A default made by a lambda (`Features.s1`, `s24`) or a Struct
//!   (`OneRing.calls`, `ScanTarget.tries`, `TrunkState.done`) is always written, and a float read as
//!   `0.0` is written too: msgspec compares by identity, not by `==`;
//! - a fixmap header for a Struct of at most 15 fields with its tag, a map16 for `ExtState`'s 17;
//! - ints in their smallest encoding, floats as float64 (an int or float32 read into a float field
//!   comes back as float64), dicts in insertion order with a repeated key in its first place holding
//!   its last value, an `array_like` Struct with fewer items filled with its defaults and extra items
//!   dropped, unknown map keys dropped.
//!
//! The other records `decode_value` reads (a partition's `clock/1`, `incidents/1`) are not key states:
//! refused here.

mod codec;
mod msgpack;
mod schema;
mod value;

pub use codec::{Codec, Dict, Float0};
pub use msgpack::{Reader, StateError};
pub use schema::{
    Burst, Call, Device, Dialled, ExtState, Features, Incident, Intervals, IpState, OneRing, ScanTarget,
    SpendWindow, Takeover, TenantState, TimeSet, TrunkState, ValueWindow,
};
pub use value::Value;

use crate::seclog::py::repr;
use crate::window;

/// The schema version of the tags this codec reads and writes (`streams.state.schema.VERSION`).
pub const VERSION: u32 = 5;

/// A key's state, by scope. Not boxed: one per key, held as long as the key (the size of the largest,
/// `ExtState`, is what every key pays, as in Python each Struct has all its slots).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum KeyState {
    Ip(IpState),
    Ext(ExtState),
    Trunk(TrunkState),
    Tenant(TenantState),
}

impl KeyState {
    /// The key's scope: "ip", "ext", "trunk" or "tenant".
    pub fn scope(&self) -> &'static str {
        match self {
            KeyState::Ip(_) => "ip",
            KeyState::Ext(_) => "ext",
            KeyState::Trunk(_) => "trunk",
            KeyState::Tenant(_) => "tenant",
        }
    }

    /// msgspec's encoding of the state (the changelog's value).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_sized(256)
    }

    /// `encode` into a buffer of `capacity` bytes to start with (the size it was read from, say).
    pub fn encode_sized(&self, capacity: usize) -> Vec<u8> {
        let mut w = Vec::with_capacity(capacity);
        match self {
            KeyState::Ip(s) => s.write(&mut w),
            KeyState::Ext(s) => s.write(&mut w),
            KeyState::Trunk(s) => s.write(&mut w),
            KeyState::Tenant(s) => s.write(&mut w),
        }
        w
    }
}

/// What a refused value is, in `decode_value`'s words: "schema 'ext/4'", "an untagged map (...)" or
/// "not a tollguard state record".
fn found(raw: &[u8]) -> String {
    let mut r = Reader::new(raw);
    match Value::read(&mut r) {
        Ok(Value::Map(items)) if r.at_end() => match items.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == "type")) {
            Some((_, Value::Str(s))) => format!("schema {}", repr(s)),
            Some((_, Value::Int(i))) => format!("schema {i}"),
            Some(_) => "schema of another kind".to_string(),
            None => "an untagged map (written before state schema version 1)".to_string(),
        },
        _ => "not a tollguard state record".to_string(),
    }
}

fn refused(raw: &[u8], why: StateError) -> StateError {
    StateError(format!(
        "state value is {}; this version reads schema version {VERSION} ({why})",
        found(raw)
    ))
}

/// The tag of a tagged map: the first `type` key's str value (msgspec looks it up before the fields).
fn tag_of<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], StateError> {
    let n = r.map_len()?;
    for _ in 0..n {
        let key = r.str_bytes().map_err(|e| StateError(format!("{e} - at `key` in `$`")))?;
        if key == b"type" {
            return r.str_bytes().map_err(|e| e.at("type"));
        }
        r.skip()?;
    }
    Err(StateError::new("Object missing required field `type`"))
}

fn decode_inner(raw: &[u8]) -> Result<KeyState, StateError> {
    let tag = tag_of(&mut Reader::new(raw))?;
    let mut r = Reader::new(raw);
    let state = match tag {
        b"ip/5" => KeyState::Ip(IpState::read(&mut r)?),
        b"ext/5" => KeyState::Ext(ExtState::read(&mut r)?),
        b"trunk/5" => KeyState::Trunk(TrunkState::read(&mut r)?),
        b"tenant/5" => KeyState::Tenant(TenantState::read(&mut r)?),
        b"clock/1" | b"incidents/1" => {
            return Err(StateError(format!(
                "{} is a partition's record, not a key's state",
                repr(&String::from_utf8_lossy(tag))
            )))
        }
        other => {
            return Err(StateError(format!(
                "Invalid value {} - at `$.type`",
                repr(&String::from_utf8_lossy(other))
            )))
        }
    };
    if !r.at_end() {
        return Err(StateError(format!("MessagePack data is malformed: trailing characters (byte {})", r.pos)));
    }
    Ok(state)
}

/// A changelog value as a key's state, or why `decode_value` would refuse it.
pub fn decode(raw: &[u8]) -> Result<KeyState, StateError> {
    decode_inner(raw).map_err(|e| refused(raw, e))
}

/// `encode_value(decode_value(raw))`, through the Rust types.
pub fn roundtrip(raw: &[u8]) -> Result<Vec<u8>, StateError> {
    decode(raw).map(|s| s.encode_sized(raw.len() + 16))
}

// -- the windows as the detector's port uses them (engine/src/window/)

impl TimeSet {
    /// The window, its entries moved out (the state's slot is left empty until `from_window` puts them back).
    pub fn take_window(&mut self) -> window::TimeSet {
        window::TimeSet { t: std::mem::take(&mut self.t), ids: std::mem::take(&mut self.ids) }
    }

    pub fn from_window(w: window::TimeSet) -> Self {
        TimeSet { t: w.t, ids: w.ids }
    }
}

impl Intervals {
    pub fn to_window(&self) -> Option<window::Intervals> {
        let ids = self.ids.iter().map(|&i| u64::try_from(i).ok()).collect::<Option<Vec<u64>>>()?;
        Some(window::Intervals { ends: self.ends.clone(), starts: self.starts.clone(), ids, by_start: self.by_start.clone() })
    }

    pub fn from_window(w: &window::Intervals) -> Self {
        Intervals {
            ends: w.ends.clone(),
            starts: w.starts.clone(),
            ids: w.ids.iter().map(|&i| i128::from(i)).collect(),
            by_start: w.by_start.clone(),
        }
    }
}

impl ValueWindow {
    pub fn to_window(&self) -> Option<window::ValueWindow> {
        let ids = self.ids.iter().map(|&i| u64::try_from(i).ok()).collect::<Option<Vec<u64>>>()?;
        let vals = self.vals.iter().map(|&v| i64::try_from(v).ok()).collect::<Option<Vec<i64>>>()?;
        Some(window::ValueWindow { t: self.t.clone(), ids, vals })
    }

    pub fn from_window(w: &window::ValueWindow) -> Self {
        ValueWindow {
            t: w.t.clone(),
            ids: w.ids.iter().map(|&i| i128::from(i)).collect(),
            vals: w.vals.iter().map(|&v| i128::from(v)).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
