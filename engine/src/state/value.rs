//! An untyped value (`list`'s items, msgspec's `Any`), read and written back as msgspec does.
//!
//! msgspec decodes a map into a dict, so equal keys fold into one: the first key kept in its place, the
//! last value (equality is Python's: `1`, `1.0` and `True` are one key, NaNs never equal, `-0.0 == 0`).
//! A key that is an array is a tuple (arrays in it too); a map or ext as a key is refused (unhashable).
//! Ext type -1 is a timestamp, decoded into a `datetime` (nanoseconds rounded half up to microseconds,
//! years 1 to 9999) and written back in the smallest of the three timestamp layouts; any other ext is
//! kept as it is and written in the smallest ext layout.

use super::msgpack::{
    write_array_len, write_bin, write_bool, write_ext, write_f64, write_int, write_map_len, write_nil, write_str,
    Reader, Result, StateError,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
    /// A UTC `datetime`: seconds since the epoch and microseconds (0..1_000_000).
    Time(i64, u32),
}

/// `datetime(1, 1, 1)` and `datetime(9999, 12, 31, 23, 59, 59)` in seconds since the epoch.
const MIN_SECS: i64 = -62_135_596_800;
const MAX_SECS: i64 = 253_402_300_799;

fn timestamp(data: &[u8]) -> Result<Value> {
    let (secs, nanos): (i64, u64) = match data.len() {
        4 => (i64::from(u32::from_be_bytes(data.try_into().expect("4 bytes"))), 0),
        8 => {
            let v = u64::from_be_bytes(data.try_into().expect("8 bytes"));
            ((v & ((1 << 34) - 1)) as i64, v >> 34)
        }
        12 => (
            i64::from_be_bytes(data[4..].try_into().expect("8 bytes")),
            u64::from(u32::from_be_bytes(data[..4].try_into().expect("4 bytes"))),
        ),
        _ => return Err(StateError::new("Invalid MessagePack timestamp")),
    };
    if nanos >= 1_000_000_000 {
        return Err(StateError::new("Invalid MessagePack timestamp: nanoseconds out of range"));
    }
    let mut micros = (nanos + 500) / 1000;
    let mut secs = i128::from(secs);
    if micros == 1_000_000 {
        secs += 1;
        micros = 0;
    }
    if secs < i128::from(MIN_SECS) || secs > i128::from(MAX_SECS) {
        return Err(StateError::new("Timestamp is out of range"));
    }
    Ok(Value::Time(secs as i64, micros as u32))
}

fn write_time(w: &mut Vec<u8>, secs: i64, micros: u32) {
    let nanos = u64::from(micros) * 1000;
    if secs >= 0 && nanos == 0 && secs < (1 << 32) {
        write_ext(w, -1, &(secs as u32).to_be_bytes());
    } else if (0..1 << 34).contains(&secs) {
        write_ext(w, -1, &((nanos << 34) | secs as u64).to_be_bytes());
    } else {
        let mut d = (nanos as u32).to_be_bytes().to_vec();
        d.extend_from_slice(&secs.to_be_bytes());
        write_ext(w, -1, &d);
    }
}

/// Python's `==` between two decoded values (as dict keys compare).
pub fn py_eq(a: &Value, b: &Value) -> bool {
    use Value::*;
    fn num(v: &Value) -> Option<std::result::Result<i128, f64>> {
        match v {
            Bool(b) => Some(Ok(i128::from(*b))),
            Int(i) => Some(Ok(*i)),
            Float(f) => Some(Err(*f)),
            _ => None,
        }
    }
    fn int_float(i: i128, f: f64) -> bool {
        f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38 && f as i128 == i
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return match (x, y) {
            (Ok(i), Ok(j)) => i == j,
            (Err(f), Err(g)) => f == g,
            (Ok(i), Err(f)) | (Err(f), Ok(i)) => int_float(i, f),
        };
    }
    match (a, b) {
        (Nil, Nil) => true,
        (Str(x), Str(y)) => x == y,
        (Bin(x), Bin(y)) => x == y,
        (Time(s, m), Time(t, n)) => s == t && m == n,
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q)),
        _ => false,
    }
}

impl Value {
    pub fn read(r: &mut Reader<'_>) -> Result<Value> {
        Self::read_at(r, false)
    }

    fn read_at(r: &mut Reader<'_>, key: bool) -> Result<Value> {
        if let Some(i) = r.try_int()? {
            return Ok(Value::Int(i));
        }
        let unhashable = |r: &Reader<'_>| StateError(format!("MessagePack data is malformed: map keys must be hashable (byte {})", r.pos));
        let m = r.peek()?;
        Ok(match m {
            0xc0 => {
                r.pos += 1;
                Value::Nil
            }
            0xc2 | 0xc3 => Value::Bool(r.boolean()?),
            0xca | 0xcb => Value::Float(r.float()?),
            0xa0..=0xbf | 0xd9..=0xdb => Value::Str(r.string()?),
            0xc4..=0xc6 => {
                r.pos += 1;
                let n = r.be(1 << (m - 0xc4))? as usize;
                Value::Bin(r.take(n)?.to_vec())
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                r.pos += 1;
                let n = if m >= 0xd4 { 1usize << (m - 0xd4) } else { r.be(1 << (m - 0xc7))? as usize };
                let code = r.byte()? as i8;
                let data = r.take(n)?;
                if code == -1 {
                    timestamp(data)?
                } else if key {
                    return Err(unhashable(r));
                } else {
                    Value::Ext(code, data.to_vec())
                }
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = r.array_len()?;
                let mut items = Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n {
                    items.push(Self::read_at(r, key)?);
                }
                r.leave();
                Value::Array(items)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                if key {
                    return Err(unhashable(r));
                }
                let n = r.map_len()?;
                let mut items: Vec<(Value, Value)> = Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n {
                    let k = Self::read_at(r, true)?;
                    let v = Self::read_at(r, false)?;
                    match items.iter_mut().find(|(held, _)| py_eq(held, &k)) {
                        Some(slot) => slot.1 = v,
                        None => items.push((k, v)),
                    }
                }
                r.leave();
                Value::Map(items)
            }
            _ => {
                return Err(StateError(format!("MessagePack data is malformed: invalid opcode '\\x{m:02x}' (byte {})", r.pos)))
            }
        })
    }

    pub fn write(&self, w: &mut Vec<u8>) {
        match self {
            Value::Nil => write_nil(w),
            Value::Bool(b) => write_bool(w, *b),
            Value::Int(i) => write_int(w, *i),
            Value::Float(f) => write_f64(w, *f),
            Value::Str(s) => write_str(w, s),
            Value::Bin(b) => write_bin(w, b),
            Value::Array(items) => {
                write_array_len(w, items.len());
                items.iter().for_each(|v| v.write(w));
            }
            Value::Map(items) => {
                write_map_len(w, items.len());
                for (k, v) in items {
                    k.write(w);
                    v.write(w);
                }
            }
            Value::Ext(code, data) => write_ext(w, *code, data),
            Value::Time(secs, micros) => write_time(w, *secs, *micros),
        }
    }
}
