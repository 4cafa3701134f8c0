//! The msgpack reader and writer of the state codec: msgspec 0.23's encoding and its decoder's rules.
//!
//! Written by hand (no crate): the rules that matter are msgspec's, not msgpack's. The writer picks the
//! smallest int encoding (fixint, uint8..uint64 for `>= 0`; negative fixint, int8..int64 below), always
//! float64 for a float, and the length classes fix/8/16/32 of str, bin, ext, array and map. The reader
//! takes every encoding a typed msgspec decoder takes: any int width for an int, float32, float64 and any
//! int for a float (as a C cast), str for a str (UTF-8 checked), nil only where the schema allows None.
//! `skip` passes over an unknown field's value as msgspec does: the structure is checked (a `0xc1`, a
//! truncated value), the contents are not (an invalid UTF-8 string, a malformed timestamp pass).

use std::fmt;

/// A value the codec refuses (Python's `decode_value` raises `StateVersionError`, a ValueError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl StateError {
    pub fn new(msg: impl Into<String>) -> Self {
        StateError(msg.into())
    }

    /// The same error one level further out: `seg` is a field's name or `[...]` (msgspec's paths:
    /// `$.calls[...].deadline`, `key` in `$.devices`).
    pub fn at(self, seg: &str) -> Self {
        let seg = if seg.starts_with('[') { seg.to_string() } else { format!(".{seg}") };
        match self.0.rfind("`$") {
            Some(i) => StateError(format!("{}{seg}{}", &self.0[..i + 2], &self.0[i + 2..])),
            None => StateError(format!("{} - at `${seg}`", self.0)),
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

pub type Result<T> = std::result::Result<T, StateError>;

/// How many arrays and maps may be open at once, the value's own map included. msgspec recurses once per
/// container and stops at Python's recursion limit less its caller's frames: 997 when `decode_value` is
/// called from a module's top level (from deeper in a stack it refuses a few levels earlier, and with a
/// RecursionError rather than a StateVersionError).
pub const MAX_DEPTH: usize = 997;

/// What a msgpack marker byte starts, for error messages (msgspec's words).
pub fn kind(m: u8) -> &'static str {
    match m {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => "int",
        0x80..=0x8f | 0xde | 0xdf => "object",
        0x90..=0x9f | 0xdc | 0xdd => "array",
        0xa0..=0xbf | 0xd9..=0xdb => "str",
        0xc0 => "None",
        0xc2 | 0xc3 => "bool",
        0xc4..=0xc6 => "bytes",
        0xca | 0xcb => "float",
        0xc7..=0xc9 | 0xd4..=0xd8 => "ext",
        _ => "invalid",
    }
}

/// A cursor over one encoded value.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0, depth: 0 }
    }

    /// Opens a container (`array_len` and `map_len` do): refused past `MAX_DEPTH`.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(StateError::new("maximum recursion depth exceeded"));
        }
        Ok(())
    }

    /// Closes the container the last `array_len` or `map_len` opened.
    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn truncated() -> StateError {
        StateError::new("Input data was truncated")
    }

    pub fn peek(&self) -> Result<u8> {
        self.buf.get(self.pos).copied().ok_or_else(Self::truncated)
    }

    pub fn byte(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Self::truncated());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A big-endian unsigned of `n` bytes (1, 2, 4 or 8).
    pub fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn expected(&self, what: &str) -> StateError {
        let got = self.buf.get(self.pos).map_or("nothing", |&m| kind(m));
        StateError(format!("Expected `{what}`, got `{got}`"))
    }

    /// Consumes a nil if one is next.
    pub fn nil(&mut self) -> Result<bool> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// An int of any width, or None when the next value is not an int (nothing consumed then).
    pub fn try_int(&mut self) -> Result<Option<i128>> {
        let m = self.peek()?;
        let v = match m {
            0x00..=0x7f => {
                self.pos += 1;
                i128::from(m)
            }
            0xe0..=0xff => {
                self.pos += 1;
                i128::from(m as i8)
            }
            0xcc..=0xcf => {
                self.pos += 1;
                i128::from(self.be(1 << (m - 0xcc))?)
            }
            0xd0..=0xd3 => {
                self.pos += 1;
                let n = 1usize << (m - 0xd0);
                let raw = self.be(n)?;
                let shift = 64 - 8 * n as u32;
                i128::from(((raw << shift) as i64) >> shift)
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    pub fn int(&mut self) -> Result<i128> {
        self.try_int()?.ok_or_else(|| self.expected("int"))
    }

    /// A float: float64, float32 (widened exactly) or any int (converted as C converts it).
    pub fn float(&mut self) -> Result<f64> {
        match self.peek()? {
            0xcb => {
                self.pos += 1;
                Ok(f64::from_bits(self.be(8)?))
            }
            0xca => {
                self.pos += 1;
                Ok(f64::from(f32::from_bits(self.be(4)? as u32)))
            }
            _ => match self.try_int()? {
                Some(v) if v >= 0 => Ok(v as u64 as f64),
                Some(v) => Ok(v as i64 as f64),
                None => Err(self.expected("float")),
            },
        }
    }

    pub fn boolean(&mut self) -> Result<bool> {
        match self.peek()? {
            0xc2 => {
                self.pos += 1;
                Ok(false)
            }
            0xc3 => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.expected("bool")),
        }
    }

    /// A str's bytes, not checked (a struct's field name is compared byte for byte).
    pub fn str_bytes(&mut self) -> Result<&'a [u8]> {
        let m = self.peek()?;
        let n = match m {
            0xa0..=0xbf => {
                self.pos += 1;
                usize::from(m & 0x1f)
            }
            0xd9..=0xdb => {
                self.pos += 1;
                self.be(1 << (m - 0xd9))? as usize
            }
            _ => return Err(self.expected("str")),
        };
        self.take(n)
    }

    pub fn string(&mut self) -> Result<String> {
        let b = self.str_bytes()?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| StateError::new("Invalid UTF-8 encoded string"))
    }

    /// An array's length; the caller reads its items, then calls `leave`.
    pub fn array_len(&mut self) -> Result<usize> {
        let n = self.array_header()?;
        self.enter()?;
        Ok(n)
    }

    /// A map's length (pairs); the caller reads them, then calls `leave`.
    pub fn map_len(&mut self) -> Result<usize> {
        let n = self.map_header()?;
        self.enter()?;
        Ok(n)
    }

    fn array_header(&mut self) -> Result<usize> {
        let m = self.peek()?;
        match m {
            0x90..=0x9f => {
                self.pos += 1;
                Ok(usize::from(m & 0x0f))
            }
            0xdc | 0xdd => {
                self.pos += 1;
                Ok(self.be(2 << (m - 0xdc))? as usize)
            }
            _ => Err(self.expected("array")),
        }
    }

    fn map_header(&mut self) -> Result<usize> {
        let m = self.peek()?;
        match m {
            0x80..=0x8f => {
                self.pos += 1;
                Ok(usize::from(m & 0x0f))
            }
            0xde | 0xdf => {
                self.pos += 1;
                Ok(self.be(2 << (m - 0xde))? as usize)
            }
            _ => Err(self.expected("object")),
        }
    }

    /// Passes over one value of any kind, checking only its structure.
    pub fn skip(&mut self) -> Result<()> {
        let m = self.byte()?;
        let (data, items) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(m & 0x0f)),
            0x90..=0x9f => (0, usize::from(m & 0x0f)),
            0xa0..=0xbf => (usize::from(m & 0x1f), 0),
            0xc1 => return Err(StateError(format!("MessagePack data is malformed: invalid opcode '\\xc1' (byte {})", self.pos - 1))),
            0xc4..=0xc6 => (self.be(1 << (m - 0xc4))? as usize, 0),
            0xc7..=0xc9 => (self.be(1 << (m - 0xc7))? as usize + 1, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc..=0xcf => (1 << (m - 0xcc), 0),
            0xd0..=0xd3 => (1 << (m - 0xd0), 0),
            0xd4..=0xd8 => ((1 << (m - 0xd4)) + 1, 0),
            0xd9..=0xdb => (self.be(1 << (m - 0xd9))? as usize, 0),
            0xdc | 0xdd => (0, self.be(2 << (m - 0xdc))? as usize),
            0xde | 0xdf => (0, 2 * self.be(2 << (m - 0xde))? as usize),
        };
        self.take(data)?;
        if matches!(m, 0x80..=0x9f | 0xdc..=0xdf) {
            self.enter()?;
            for _ in 0..items {
                self.skip()?;
            }
            self.leave();
        }
        Ok(())
    }
}

// -- the writer: msgspec's choices of encoding

pub fn write_nil(w: &mut Vec<u8>) {
    w.push(0xc0);
}

pub fn write_bool(w: &mut Vec<u8>, v: bool) {
    w.push(if v { 0xc3 } else { 0xc2 });
}

/// The smallest encoding of an int (msgpack's ints reach from -2**63 to 2**64-1).
pub fn write_int(w: &mut Vec<u8>, v: i128) {
    if v >= 0 {
        if v < 128 {
            w.push(v as u8);
        } else if v <= 0xff {
            w.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            w.push(0xcd);
            w.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            w.push(0xce);
            w.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            w.push(0xcf);
            w.extend_from_slice(&(v as u64).to_be_bytes());
        }
    } else if v >= -32 {
        w.push(v as i8 as u8);
    } else if v >= -128 {
        w.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= -32768 {
        w.push(0xd1);
        w.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= -(1 << 31) {
        w.push(0xd2);
        w.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        w.push(0xd3);
        w.extend_from_slice(&(v as i64).to_be_bytes());
    }
}

pub fn write_f64(w: &mut Vec<u8>, v: f64) {
    w.push(0xcb);
    w.extend_from_slice(&v.to_bits().to_be_bytes());
}

fn write_len(w: &mut Vec<u8>, n: usize, fix: Option<(u8, usize)>, wide: [u8; 3]) {
    match fix {
        Some((base, max)) if n <= max => w.push(base | n as u8),
        _ if n <= 0xff && wide[0] != 0 => w.extend_from_slice(&[wide[0], n as u8]),
        _ if n <= 0xffff => {
            w.push(wide[1]);
            w.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            w.push(wide[2]);
            w.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

pub fn write_str(w: &mut Vec<u8>, s: &str) {
    write_len(w, s.len(), Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
    w.extend_from_slice(s.as_bytes());
}

pub fn write_bin(w: &mut Vec<u8>, b: &[u8]) {
    write_len(w, b.len(), None, [0xc4, 0xc5, 0xc6]);
    w.extend_from_slice(b);
}

pub fn write_array_len(w: &mut Vec<u8>, n: usize) {
    write_len(w, n, Some((0x90, 15)), [0, 0xdc, 0xdd]);
}

pub fn write_map_len(w: &mut Vec<u8>, n: usize) {
    write_len(w, n, Some((0x80, 15)), [0, 0xde, 0xdf]);
}

/// An ext value: fixext for 1, 2, 4, 8 and 16 bytes, else ext8/16/32.
pub fn write_ext(w: &mut Vec<u8>, code: i8, data: &[u8]) {
    match data.len() {
        1 => w.push(0xd4),
        2 => w.push(0xd5),
        4 => w.push(0xd6),
        8 => w.push(0xd7),
        16 => w.push(0xd8),
        n if n <= 0xff => w.extend_from_slice(&[0xc7, n as u8]),
        n if n <= 0xffff => {
            w.push(0xc8);
            w.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            w.push(0xc9);
            w.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    w.push(code as u8);
    w.extend_from_slice(data);
}
