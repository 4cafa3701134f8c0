//! msgspec's JSON reader (msgspec 0.23, `_core.c`), as far as `msgspec.json.Decoder(Event)` and
//! `Decoder(list[msgspec.Raw])` use it: the same steps in the same order, so the same input stops at
//! the same byte with the same message. Its quirks are kept on purpose: a key is compared after its
//! escapes are read (`"\u0074ype"` is the tag), a value of an unknown field is only checked for
//! syntax (invalid UTF-8 in it passes), the syntax messages differ between a value that is read and
//! one that is skipped ("invalid escape character in string" against "invalid escaped character"),
//! and a RecursionError stands in for Python's recursion limit (see [`Reader::enter`]).

use std::borrow::Cow;

/// Why msgspec refuses: its `DecodeError`, its `ValidationError`, or Python's `RecursionError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `msgspec.DecodeError`'s message ("JSON is malformed: ...", "Input data was truncated", ...).
    Decode(String),
    /// `msgspec.ValidationError`'s message.
    Invalid(String),
    /// `RecursionError`: nested deeper than the limit.
    Deep,
}

/// A refusal, boxed: one pointer, so the reader's results stay small enough to come back in
/// registers (refusals are rare; the cost is on them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail(pub Box<Why>);

impl Fail {
    pub fn decode(msg: impl Into<String>) -> Fail {
        Fail(Box::new(Why::Decode(msg.into())))
    }

    pub fn invalid(msg: impl Into<String>) -> Fail {
        Fail(Box::new(Why::Invalid(msg.into())))
    }

    pub fn deep() -> Fail {
        Fail(Box::new(Why::Deep))
    }
}

pub type R<T> = Result<T, Fail>;

/// A number as msgspec reads it before it looks at the type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer that fits a u64 (non-negative).
    UInt(u64),
    /// A negative integer that fits an i64 (`-0` is 0 here, as msgspec reads it).
    Int(i64),
    /// An integer beyond those: `size` bytes of text, and its value as a float (msgspec reads such
    /// an integer as a float for any type but int).
    Big { negative: bool, size: usize, value: f64 },
    /// A number with a fraction or an exponent (infinite when it overflows).
    Float(f64),
}

pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    depth: u32,
    limit: u32,
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\n' || c == b'\r' || c == b'\t'
}

/// `"`, `\` or a control character: where a string scan stops.
#[inline]
fn special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the word is zero (exact: the classic bit trick has no false answer).
#[inline]
pub(crate) fn has_zero(x: u64) -> bool {
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether any byte of the word is `b`.
#[inline]
pub(crate) fn has_byte(x: u64, b: u8) -> bool {
    has_zero(x ^ (ONES * u64::from(b)))
}

/// Whether any byte of the word is below 0x20 (`x - 0x20` borrows into the high bit of such a byte
/// and of no other that has its high bit clear).
#[inline]
fn has_control(x: u64) -> bool {
    x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0
}

/// The first position at or after `i` holding `"`, `\` or a control character (or the end):
/// eight bytes at a time until a word holds one.
#[inline]
fn find_special(buf: &[u8], mut i: usize) -> usize {
    while i + 8 <= buf.len() {
        let x = u64::from_le_bytes(buf[i..i + 8].try_into().expect("eight bytes"));
        if has_byte(x, b'"') || has_byte(x, b'\\') || has_control(x) {
            break;
        }
        i += 8;
    }
    while i < buf.len() && !special(buf[i]) {
        i += 1;
    }
    i
}

fn hex(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'f' => Some(u32::from(c - b'a' + 10)),
        b'A'..=b'F' => Some(u32::from(c - b'A' + 10)),
        _ => None,
    }
}

fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    let mut b = [0u8; 4];
    // cp is a scalar value here: surrogates were paired or refused before
    let c = char::from_u32(cp).expect("a paired or non-surrogate code point");
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// The float msgspec makes of a number's digits: the correctly rounded value of
/// `int frac × 10^(exp - len(frac))`. msgspec gets there by several roads (an exact product, Eisel-Lemire,
/// a 800-digit decimal), each correctly rounded; the exponent is the one it read, which stops growing
/// once it reaches 10000 (so "1e123456" is read as 1e12345).
pub fn float_value(negative: bool, int: &[u8], frac: &[u8], exp: i32) -> f64 {
    let e10 = i64::from(exp) - frac.len() as i64;
    let v = if int.len() + frac.len() <= 19 && (-22..=22).contains(&e10) {
        let m = int.iter().chain(frac).fold(0u64, |m, &d| m * 10 + u64::from(d - b'0'));
        if m >> 53 == 0 {
            let m = m as f64; // exact, and so is the power: one rounding
            if e10 >= 0 {
                m * POW10[e10 as usize]
            } else {
                m / POW10[(-e10) as usize]
            }
        } else {
            slow_float(int, frac, e10)
        }
    } else {
        slow_float(int, frac, e10)
    };
    if negative {
        -v
    } else {
        v
    }
}

fn slow_float(int: &[u8], frac: &[u8], e10: i64) -> f64 {
    let mut s = String::with_capacity(int.len() + frac.len() + 24);
    s.extend(int.iter().map(|&b| b as char));
    s.extend(frac.iter().map(|&b| b as char));
    s.push('e');
    s.push_str(&e10.to_string());
    s.parse::<f64>().expect("digits and an exponent parse as a float")
}

impl<'a> Reader<'a> {
    /// A reader of `buf` that refuses (as a RecursionError) a container nested `limit` deep.
    pub fn new(buf: &'a [u8], limit: u32) -> Self {
        Reader { buf, pos: 0, depth: 0, limit }
    }

    #[inline]
    fn end(&self) -> usize {
        self.buf.len()
    }

    pub fn truncated() -> Fail {
        Fail::decode("Input data was truncated")
    }

    /// msgspec's `json_err_invalid`: the message and the byte it stopped at.
    pub fn malformed(&self, msg: &str) -> Fail {
        Fail::decode(format!("JSON is malformed: {msg} (byte {})", self.pos))
    }

    /// `Py_EnterRecursiveCall`: every object or array msgspec reads or skips goes one level deeper;
    /// the level past `limit` raises RecursionError.
    pub fn enter(&mut self) -> R<()> {
        if self.depth >= self.limit {
            return Err(Fail::deep());
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `json_peek_skip_ws`.
    #[inline]
    pub fn peek_ws(&mut self) -> R<u8> {
        while self.pos < self.end() {
            let c = self.buf[self.pos];
            if !is_ws(c) {
                return Ok(c);
            }
            self.pos += 1;
        }
        Err(Self::truncated())
    }

    #[inline]
    fn peek_or_null(&self) -> u8 {
        self.buf.get(self.pos).copied().unwrap_or(0)
    }

    /// `json_has_trailing_characters` (the byte reported is the one after the offending character).
    pub fn trailing(&mut self) -> R<()> {
        while self.pos < self.end() {
            let c = self.buf[self.pos];
            self.pos += 1;
            if !is_ws(c) {
                return Err(self.malformed("trailing characters"));
            }
        }
        Ok(())
    }

    /// `null`, `true` or `false` as a value is read (`json_decode_none` and friends): the first
    /// character was seen; all of the rest is read before it is compared.
    pub fn literal(&mut self, rest: &[u8]) -> R<()> {
        self.pos += 1;
        if self.end() - self.pos < rest.len() {
            return Err(Self::truncated());
        }
        let got = &self.buf[self.pos..self.pos + rest.len()];
        self.pos += rest.len();
        if got != rest {
            return Err(self.malformed("invalid character"));
        }
        Ok(())
    }

    /// `json_read_codepoint`.
    fn codepoint(&mut self) -> R<u32> {
        if self.end() - self.pos < 4 {
            return Err(Self::truncated());
        }
        let mut cp = 0;
        for _ in 0..4 {
            let c = self.buf[self.pos];
            self.pos += 1;
            match hex(c) {
                Some(v) => cp = (cp << 4) | v,
                None => return Err(self.malformed("invalid character in unicode escape")),
            }
        }
        Ok(cp)
    }

    /// `json_handle_unicode_escape` (after `\u`).
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> R<()> {
        let mut cp = self.codepoint()?;
        if (0xDC00..=0xDFFF).contains(&cp) {
            return Err(self.malformed("invalid utf-16 surrogate pair"));
        }
        if (0xD800..=0xDBFF).contains(&cp) {
            if self.end() - self.pos < 6 {
                return Err(Self::truncated());
            }
            if self.buf[self.pos] != b'\\' || self.buf[self.pos + 1] != b'u' {
                return Err(self.malformed("unexpected end of escaped utf-16 surrogate pair"));
            }
            self.pos += 2;
            let cp2 = self.codepoint()?;
            if !(0xDC00..=0xDFFF).contains(&cp2) {
                return Err(self.malformed("invalid utf-16 surrogate pair"));
            }
            cp = 0x10000 + (((cp - 0xD800) << 10) | (cp2 - 0xDC00));
        }
        push_utf8(out, cp);
        Ok(())
    }

    /// `json_decode_string_view`: a string's bytes with its escapes read (borrowed when it has
    /// none). Not checked as UTF-8: msgspec does that only where it makes a str.
    pub fn string(&mut self) -> R<Cow<'a, [u8]>> {
        self.pos += 1;
        let start = self.pos;
        let buf = self.buf;
        self.pos = find_special(buf, self.pos);
        if self.pos == buf.len() {
            return Err(Self::truncated());
        }
        if buf[self.pos] == b'"' {
            self.pos += 1;
            return Ok(Cow::Borrowed(&buf[start..self.pos - 1]));
        }
        let mut out = buf[start..self.pos].to_vec();
        loop {
            let c = buf[self.pos];
            if c == b'\\' {
                self.pos += 1;
                if self.pos == buf.len() {
                    return Err(Self::truncated());
                }
                let e = buf[self.pos];
                self.pos += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'"' => out.push(b'"'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'u' => self.unicode_escape(&mut out)?,
                    _ => return Err(self.malformed("invalid escape character in string")),
                }
            } else if c == b'"' {
                self.pos += 1;
                return Ok(Cow::Owned(out));
            } else {
                return Err(self.malformed("invalid character"));
            }
            let s = self.pos;
            self.pos = find_special(buf, self.pos);
            if self.pos == buf.len() {
                return Err(Self::truncated());
            }
            out.extend_from_slice(&buf[s..self.pos]);
        }
    }

    /// `json_skip_string`.
    fn skip_string(&mut self) -> R<()> {
        self.pos += 1;
        loop {
            self.pos = find_special(self.buf, self.pos);
            if self.pos == self.end() {
                return Err(Self::truncated());
            }
            match self.buf[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos == self.end() {
                        return Err(Self::truncated());
                    }
                    match self.buf[self.pos] {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            self.pos += 1;
                            let cp = self.codepoint()?;
                            if (0xDC00..=0xDFFF).contains(&cp) {
                                return Err(self.malformed("invalid utf-16 surrogate pair"));
                            }
                            if (0xD800..=0xDBFF).contains(&cp) {
                                if self.end() - self.pos < 6 {
                                    return Err(Self::truncated());
                                }
                                if self.buf[self.pos] != b'\\' || self.buf[self.pos + 1] != b'u' {
                                    return Err(self.malformed("unexpected end of hex escape"));
                                }
                                self.pos += 2;
                                let cp2 = self.codepoint()?;
                                if !(0xDC00..=0xDFFF).contains(&cp2) {
                                    return Err(self.malformed("invalid utf-16 surrogate pair"));
                                }
                            }
                        }
                        _ => return Err(self.malformed("invalid escaped character")),
                    }
                }
                _ => return Err(self.malformed("invalid character")),
            }
        }
    }

    /// `json_skip_ident`: only the first character was seen; compared without reading on.
    fn skip_ident(&mut self, rest: &[u8]) -> R<()> {
        self.pos += 1;
        if self.end() - self.pos < rest.len() {
            return Err(Self::truncated());
        }
        if &self.buf[self.pos..self.pos + rest.len()] != rest {
            return Err(self.malformed("invalid character"));
        }
        self.pos += rest.len();
        Ok(())
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.pos;
        while self.pos < self.end() && self.buf[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `json_maybe_skip_number`.
    fn skip_number(&mut self) -> R<()> {
        let mut c = self.buf[self.pos];
        if c == b'-' {
            self.pos += 1;
            c = self.peek_or_null();
        }
        if c == b'0' {
            self.pos += 1;
            if self.peek_or_null().is_ascii_digit() {
                return Err(self.malformed("invalid number"));
            }
        } else if self.skip_digits() == 0 {
            return Err(self.malformed("invalid character"));
        }
        c = self.peek_or_null();
        if c == b'.' {
            self.pos += 1;
            if self.skip_digits() == 0 {
                return Err(self.malformed("invalid number"));
            }
            c = self.peek_or_null();
        }
        if c == b'e' || c == b'E' {
            self.pos += 1;
            let s = self.peek_or_null();
            if s == b'+' || s == b'-' {
                self.pos += 1;
            }
            if self.skip_digits() == 0 {
                return Err(self.malformed("invalid number"));
            }
        }
        Ok(())
    }

    /// `json_skip`: one value checked for syntax only, objects and arrays counted against the
    /// recursion limit as msgspec's recursive skip counts them (done here with a stack of our own).
    pub fn skip(&mut self) -> R<()> {
        // per open container: (is an array, no item read yet)
        let mut stack: Vec<(bool, bool)> = Vec::new();
        'value: loop {
            match self.peek_ws()? {
                b'n' => self.skip_ident(b"ull")?,
                b't' => self.skip_ident(b"rue")?,
                b'f' => self.skip_ident(b"alse")?,
                b'"' => self.skip_string()?,
                b'[' => {
                    self.pos += 1;
                    self.enter()?;
                    stack.push((true, true));
                }
                b'{' => {
                    self.pos += 1;
                    self.enter()?;
                    stack.push((false, true));
                }
                _ => self.skip_number()?,
            }
            // after a value (or an opening bracket): close what ends here, find the next value
            loop {
                let Some(top) = stack.last_mut() else { return Ok(()) };
                let (array, first) = *top;
                let mut c = self.peek_ws()?;
                let close = if array { b']' } else { b'}' };
                if c == close {
                    self.pos += 1;
                    self.leave();
                    stack.pop();
                    continue;
                } else if c == b',' && !first {
                    self.pos += 1;
                    c = self.peek_ws()?;
                } else if first {
                    top.1 = false;
                } else if array {
                    return Err(self.malformed("expected ',' or ']'"));
                } else {
                    return Err(self.malformed("expected ',' or '}'"));
                }
                if array {
                    if c == b']' {
                        return Err(self.malformed("trailing comma in array"));
                    }
                    continue 'value;
                }
                match c {
                    b'"' => self.skip_string()?,
                    b'}' => return Err(self.malformed("trailing comma in object")),
                    _ => return Err(self.malformed("expected '\"'")),
                }
                if self.peek_ws()? != b':' {
                    return Err(self.malformed("expected ':'"));
                }
                self.pos += 1;
                continue 'value;
            }
        }
    }

    /// `parse_number_inline` (not from a string): the number's syntax, and its value as msgspec
    /// reads it before looking at the type. Stops at the first character that is not part of it.
    pub fn number(&mut self) -> R<Num> {
        let buf = self.buf;
        let end = buf.len();
        let start = self.pos;
        let mut p = self.pos;
        let mut negative = false;
        if buf[p] == b'-' {
            p += 1;
            if p == end {
                self.pos = p;
                return Err(self.malformed("invalid number"));
            }
            negative = true;
        }
        let int_start = p;
        if buf[p] == b'0' {
            p += 1;
            if p != end && buf[p].is_ascii_digit() {
                self.pos = p;
                return Err(self.malformed("invalid number"));
            }
        } else {
            while p < end && buf[p].is_ascii_digit() {
                p += 1;
            }
            if p == int_start {
                self.pos = p;
                return Err(self.malformed("invalid character"));
            }
        }
        let int_end = p;
        let mut frac = (p, p);
        let mut exp: i32 = 0;
        let mut is_float = false;
        if p < end && buf[p] == b'.' {
            is_float = true;
            p += 1;
            let fs = p;
            while p < end && buf[p].is_ascii_digit() {
                p += 1;
            }
            if p == fs {
                self.pos = p;
                return Err(self.malformed("invalid number"));
            }
            frac = (fs, p);
        }
        if p < end && (buf[p] == b'e' || buf[p] == b'E') {
            is_float = true;
            p += 1;
            if p == end {
                self.pos = p;
                return Err(self.malformed("invalid number"));
            }
            let mut sign = 1;
            if buf[p] == b'+' {
                p += 1;
            } else if buf[p] == b'-' {
                p += 1;
                sign = -1;
            }
            let es = p;
            while p < end && buf[p].is_ascii_digit() {
                if exp < 10000 {
                    exp = exp * 10 + i32::from(buf[p] - b'0');
                }
                p += 1;
            }
            if p == es {
                self.pos = p;
                return Err(self.malformed("invalid number"));
            }
            exp *= sign;
        }
        self.pos = p;
        let int = &buf[int_start..int_end];
        let frac = &buf[frac.0..frac.1];
        if !is_float {
            let mut m: u64 = 0;
            let mut fits = true;
            for &d in int {
                match m.checked_mul(10).and_then(|m| m.checked_add(u64::from(d - b'0'))) {
                    Some(v) => m = v,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            if fits && !negative {
                return Ok(Num::UInt(m));
            }
            if fits && m <= 1 << 63 {
                return Ok(Num::Int((m as i64).wrapping_neg()));
            }
            let value = float_value(negative, int, &[], 0);
            return Ok(Num::Big { negative, size: p - start, value });
        }
        Ok(Num::Float(float_value(negative, int, frac, exp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(s: &str) -> R<usize> {
        let mut r = Reader::new(s.as_bytes(), 4);
        r.skip().map(|()| r.pos)
    }

    #[test]
    fn skips_as_msgspec_does() {
        assert_eq!(skip(r#"[1, {"a": [true, null]}, "x\u00e9"] tail"#), Ok(35));
        assert_eq!(skip("[1,]"), Err(Fail::decode("JSON is malformed: trailing comma in array (byte 3)")));
        assert_eq!(skip("[[[[[]]]]]"), Err(Fail::deep()));
        assert_eq!(skip("[[[[]]]]"), Ok(8));
        assert_eq!(skip("nul"), Err(Fail::decode("Input data was truncated")));
        assert_eq!(skip("nulL"), Err(Fail::decode("JSON is malformed: invalid character (byte 1)")));
        assert_eq!(skip(r#""\x""#), Err(Fail::decode("JSON is malformed: invalid escaped character (byte 2)")));
        assert_eq!(skip("-"), Err(Fail::decode("JSON is malformed: invalid character (byte 1)")));
        assert_eq!(skip("01"), Err(Fail::decode("JSON is malformed: invalid number (byte 1)")));
    }

    #[test]
    fn numbers_as_msgspec_reads_them() {
        let num = |s: &str| Reader::new(s.as_bytes(), 4).number();
        assert_eq!(num("-0"), Ok(Num::Int(0)));
        assert_eq!(num("18446744073709551615"), Ok(Num::UInt(u64::MAX)));
        assert_eq!(num("-9223372036854775808"), Ok(Num::Int(i64::MIN)));
        assert!(matches!(num("-9223372036854775809"), Ok(Num::Big { negative: true, size: 20, .. })));
        assert_eq!(num("1e3"), Ok(Num::Float(1000.0)));
        assert_eq!(num("-0.0").map(|n| matches!(n, Num::Float(x) if x == 0.0 && x.is_sign_negative())), Ok(true));
        assert_eq!(num("1e400"), Ok(Num::Float(f64::INFINITY)));
        assert_eq!(num("0.1e1"), Ok(Num::Float(1.0)));
        assert_eq!(num("123456789012345678901234567890"), Ok(Num::Big { negative: false, size: 30, value: 1.2345678901234568e29 }));
        // the exponent stops growing at 10000: 1e123456 is read as 1e12345 (still inf), and
        // 0.(20000 zeros)1e1000000 as 1e-10000 (0.0, where a correct reading would overflow)
        let tiny = format!("0.{}1e1000000", "0".repeat(20000));
        assert_eq!(num(&tiny), Ok(Num::Float(0.0)));
        assert_eq!(num("-"), Err(Fail::decode("JSON is malformed: invalid number (byte 1)")));
        assert_eq!(num("-x"), Err(Fail::decode("JSON is malformed: invalid character (byte 1)")));
        assert_eq!(num("1.e3"), Err(Fail::decode("JSON is malformed: invalid number (byte 2)")));
        assert_eq!(num("1e+"), Err(Fail::decode("JSON is malformed: invalid number (byte 3)")));
    }

    #[test]
    fn floats_are_correctly_rounded() {
        for s in ["0.1", "2.2250738585072011e-308", "9007199254740993", "1.7976931348623157e308", "4.9e-324",
                  "2.4703282292062328e-324", "123456789.123456789e-5", "0.30000000000000004"] {
            let (int, frac, exp) = {
                let (m, e) = s.split_once('e').unwrap_or((s, "0"));
                let (i, f) = m.split_once('.').unwrap_or((m, ""));
                (i, f, e.parse::<i32>().unwrap())
            };
            assert_eq!(float_value(false, int.as_bytes(), frac.as_bytes(), exp), s.parse::<f64>().unwrap(), "{s}");
        }
    }

    #[test]
    fn word_tests_are_exact() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b'a', b'b', b, b'c', 0xff, 0x80, b'~', b' ']);
            assert_eq!(has_byte(word, b'"'), b == b'"', "{b}");
            assert_eq!(has_control(word), b < 0x20, "{b}");
            let s = [b'x', b'y', b'z', b'a', b'b', b'c', b'd', b'e', b'f', b, b'g'];
            assert_eq!(find_special(&s, 0), if special(b) { 9 } else { 11 }, "{b}");
        }
    }

    #[test]
    fn strings_read_their_escapes() {
        let st = |s: &str| Reader::new(s.as_bytes(), 4).string().map(|c| c.into_owned());
        assert_eq!(st(r#""a\u00e9\ud83d\ude00\n""#), Ok("a\u{e9}\u{1f600}\n".as_bytes().to_vec()));
        assert_eq!(st(r#""\ud83d""#), Err(Fail::decode("Input data was truncated")));
        assert_eq!(st(r#""\ud83dxxxxxx""#),
                   Err(Fail::decode("JSON is malformed: unexpected end of escaped utf-16 surrogate pair (byte 7)")));
        assert_eq!(st("\"a\u{1}\""), Err(Fail::decode("JSON is malformed: invalid character (byte 2)")));
        assert_eq!(st(r#""\q""#), Err(Fail::decode("JSON is malformed: invalid escape character in string (byte 3)")));
    }
}
