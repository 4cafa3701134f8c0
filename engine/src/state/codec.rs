//! How each kind of field reads and writes, and the two kinds of Struct msgspec writes (`array_like`,
//! and maps with `omit_defaults`), as macros the schema's types are declared with.

use super::msgpack::{write_array_len, write_bool, write_f64, write_int, write_map_len, write_nil, write_str, Reader, Result};
use super::value::Value;

/// A field's type: read from msgspec's msgpack, written back as msgspec writes it.
pub trait Codec: Sized {
    fn read(r: &mut Reader<'_>) -> Result<Self>;
    fn write(&self, w: &mut Vec<u8>);
    /// `omit_defaults`: whether msgspec leaves the field out, which it does when the value *is* the
    /// default object (None), or is an empty list or dict where the default is `list`/`dict` itself.
    /// Never for a default made by another factory (a Struct, a lambda) or an equal but new float.
    fn omitted(&self) -> bool {
        false
    }
}

impl Codec for f64 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.float()
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_f64(w, *self)
    }
}

/// A Python int as msgpack carries it: -2**63 to 2**64-1.
impl Codec for i128 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.int()
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_int(w, *self)
    }
}

/// A window's id (`TimeSet.ids`: `Annotated[int, Meta(ge=0)]`): 0 to 2**64-1.
impl Codec for u64 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let v = r.int()?;
        u64::try_from(v).map_err(|_| super::StateError::new("Expected `int` >= 0"))
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_int(w, i128::from(*self))
    }
}

impl Codec for String {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.string()
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_str(w, self)
    }
}

impl Codec for bool {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.boolean()
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_bool(w, *self)
    }
}

impl Codec for Value {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Value::read(r)
    }
    fn write(&self, w: &mut Vec<u8>) {
        Value::write(self, w)
    }
}

/// `Union[T, None]` whose default is None.
impl<T: Codec> Codec for Option<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.nil()? {
            Ok(None)
        } else {
            T::read(r).map(Some)
        }
    }
    fn write(&self, w: &mut Vec<u8>) {
        match self {
            Some(v) => v.write(w),
            None => write_nil(w),
        }
    }
    fn omitted(&self) -> bool {
        self.is_none()
    }
}

/// `list[T]` (defaulting to `list`: omitted when empty).
impl<T: Codec> Codec for Vec<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.array_len()?;
        let mut v = Vec::with_capacity(n.min(r.remaining()));
        for _ in 0..n {
            v.push(T::read(r).map_err(|e| e.at("[...]"))?);
        }
        r.leave();
        Ok(v)
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_array_len(w, self.len());
        self.iter().for_each(|v| v.write(w));
    }
    fn omitted(&self) -> bool {
        self.is_empty()
    }
}

/// A float field whose default is `0.0`: None while it is the default object itself (a value decoded
/// from bytes never is, so it is written even when it equals 0.0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Float0(pub Option<f64>);

impl Float0 {
    pub fn get(self) -> f64 {
        self.0.unwrap_or(0.0)
    }
}

impl Codec for Float0 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.float().map(|f| Float0(Some(f)))
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_f64(w, self.get())
    }
    fn omitted(&self) -> bool {
        self.0.is_none()
    }
}

/// A dict key: a str or an int.
pub trait Key: Codec + Ord {}
impl Key for String {}
impl Key for i128 {}

/// `dict[K, V]` in insertion order; a key given twice keeps its first place and its last value.
#[derive(Debug, Clone, PartialEq)]
pub struct Dict<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Dict<K, V> {
    fn default() -> Self {
        Dict(Vec::new())
    }
}

impl<K: PartialEq, V> Dict<K, V> {
    /// `d.setdefault(key, new())`, as the item's index (a new key goes at the end, as a Python dict's).
    pub fn slot(&mut self, key: K, new: impl FnOnce() -> V) -> usize {
        match self.0.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.0.push((key, new()));
                self.0.len() - 1
            }
        }
    }

    /// `d[key] = value`: in place where the key is, else at the end.
    pub fn set(&mut self, key: K, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(item) => item.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// Folds repeated keys as a Python dict does: the first place, the last value. A scan while the dict is
/// small; past that, one sort of the positions by key (no key is copied, and values with no repeat,
/// the usual case, are not moved).
fn fold_repeats<K: Ord, V>(items: &mut Vec<(K, V)>) {
    let n = items.len();
    if n <= 16 {
        let mut i = 1;
        while i < items.len() {
            match items[..i].iter().position(|(k, _)| *k == items[i].0) {
                Some(j) => {
                    let (_, v) = items.remove(i);
                    items[j].1 = v;
                }
                None => i += 1,
            }
        }
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| items[a].0.cmp(&items[b].0).then(a.cmp(&b)));
    let mut dropped = vec![false; n];
    let mut any = false;
    let mut s = 0;
    while s < n {
        let mut e = s + 1;
        while e < n && items[order[e]].0 == items[order[s]].0 {
            e += 1;
        }
        if e - s > 1 {
            any = true;
            items.swap(order[s], order[e - 1]); // equal keys: the first place takes the last value
            order[s + 1..e].iter().for_each(|&i| dropped[i] = true);
        }
        s = e;
    }
    if any {
        let mut i = 0;
        items.retain(|_| {
            i += 1;
            !dropped[i - 1]
        });
    }
}

impl<K: Key, V: Codec> Codec for Dict<K, V> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.map_len()?;
        let mut items: Vec<(K, V)> = Vec::with_capacity(n.min(r.remaining()));
        for _ in 0..n {
            let k = K::read(r).map_err(|e| super::msgpack::StateError(format!("{e} - at `key` in `$`")))?;
            let v = V::read(r).map_err(|e| e.at("[...]"))?;
            items.push((k, v));
        }
        r.leave();
        fold_repeats(&mut items);
        Ok(Dict(items))
    }
    fn write(&self, w: &mut Vec<u8>) {
        write_map_len(w, self.0.len());
        for (k, v) in &self.0 {
            k.write(w);
            v.write(w);
        }
    }
    fn omitted(&self) -> bool {
        self.0.is_empty()
    }
}

/// A Struct with `array_like=True`: an array of every field in order. Reading takes `$min` fields or
/// more (the rest default) and passes over items past the last field, as msgspec does.
macro_rules! array_struct {
    ($(#[$doc:meta])* $name:ident, $min:expr, { $($(#[$fdoc:meta])* $f:ident : $t:ty = $def:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $($(#[$fdoc])* pub $f: $t),+ }

        impl Default for $name {
            fn default() -> Self {
                $name { $($f: $def),+ }
            }
        }

        impl $crate::state::codec::Codec for $name {
            #[allow(unused_comparisons)]
            fn read(r: &mut $crate::state::msgpack::Reader<'_>) -> $crate::state::msgpack::Result<Self> {
                const FIELDS: usize = [$(stringify!($f)),+].len();
                let n = r.array_len()?;
                if n < $min {
                    return Err($crate::state::msgpack::StateError(format!(
                        "Expected `array` of at least length {}, got {n}", $min)));
                }
                let mut s = Self::default();
                let mut i = 0usize;
                $(
                    if i < n {
                        s.$f = <$t as $crate::state::codec::Codec>::read(r).map_err(|e| e.at(&format!("[{i}]")))?;
                    }
                    i += 1;
                )+
                let _ = i;
                for _ in FIELDS..n.max(FIELDS) {
                    r.skip()?;
                }
                r.leave();
                Ok(s)
            }
            fn write(&self, w: &mut Vec<u8>) {
                const FIELDS: usize = [$(stringify!($f)),+].len();
                $crate::state::msgpack::write_array_len(w, FIELDS);
                $( <$t as $crate::state::codec::Codec>::write(&self.$f, w); )+
            }
        }
    };
}

/// A Struct written as a map with `omit_defaults=True` (each field `omit`: left out when it is its
/// default, or `keep`: always written), and tagged when `$tag` is Some: the `type` key first. Reading
/// takes the fields in any order, the last of a field given twice, passes over unknown keys, and
/// checks every `type` key of a tagged Struct. The header is a fixmap when the Struct has at most 15
/// fields with its tag, else a map16 (msgspec sizes it before it knows how many it will leave out).
macro_rules! map_struct {
    (@omitted omit, $e:expr) => { $crate::state::codec::Codec::omitted($e) };
    (@omitted keep, $e:expr) => { false };
    ($(#[$doc:meta])* $name:ident, $tag:expr, { $($(#[$fdoc:meta])* $f:ident : $t:ty = $def:expr, $mode:ident);+ $(;)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $($(#[$fdoc])* pub $f: $t),+ }

        impl Default for $name {
            fn default() -> Self {
                $name { $($f: $def),+ }
            }
        }

        impl $name {
            pub const TAG: Option<&'static str> = $tag;
        }

        impl $crate::state::codec::Codec for $name {
            fn read(r: &mut $crate::state::msgpack::Reader<'_>) -> $crate::state::msgpack::Result<Self> {
                let n = r.map_len()?;
                let mut s = Self::default();
                for _ in 0..n {
                    let key = r.str_bytes().map_err(|e| $crate::state::msgpack::StateError(format!("{e} - at `key` in `$`")))?;
                    $(
                        if key == stringify!($f).as_bytes() {
                            s.$f = <$t as $crate::state::codec::Codec>::read(r).map_err(|e| e.at(stringify!($f)))?;
                            continue;
                        }
                    )+
                    match Self::TAG {
                        Some(tag) if key == b"type" => {
                            let found = r.string().map_err(|e| e.at("type"))?;
                            if found != tag {
                                return Err($crate::state::msgpack::StateError(format!(
                                    "Invalid value {} - at `$.type`", $crate::seclog::py::repr(&found))));
                            }
                        }
                        _ => r.skip()?,
                    }
                }
                r.leave();
                Ok(s)
            }
            fn write(&self, w: &mut Vec<u8>) {
                const MAX: usize = [$(stringify!($f)),+].len() + if $name::TAG.is_some() { 1 } else { 0 };
                let mut count = if Self::TAG.is_some() { 1 } else { 0 };
                $( if !map_struct!(@omitted $mode, &self.$f) { count += 1; } )+
                if MAX <= 15 {
                    $crate::state::msgpack::write_map_len(w, count);
                } else {
                    w.push(0xde);
                    w.extend_from_slice(&(count as u16).to_be_bytes());
                }
                if let Some(tag) = Self::TAG {
                    $crate::state::msgpack::write_str(w, "type");
                    $crate::state::msgpack::write_str(w, tag);
                }
                $(
                    if !map_struct!(@omitted $mode, &self.$f) {
                        $crate::state::msgpack::write_str(w, stringify!($f));
                        <$t as $crate::state::codec::Codec>::write(&self.$f, w);
                    }
                )+
            }
        }
    };
}

pub(crate) use {array_struct, map_struct};
