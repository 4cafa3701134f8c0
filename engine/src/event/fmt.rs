//! The small pieces of Python the contract leans on: `repr` of a float, `zlib.crc32`,
//! `streams.reference.text.escape` with its `HOSTILE_JSON` pre-test, and msgspec's JSON strings.

use super::json::has_byte;
use crate::window::shortest_digits;

/// `repr(x)` of a float: the shortest digits that read back, fixed notation for a decimal point
/// position in -3..=16 (`0.0001`, `1e-05`, `1234567890123456.0`, `1e+16`), with at least two
/// exponent digits and a sign (`1.5e-07`).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let (digits, exp) = shortest_digits(x);
    let n = digits.len() as i32;
    let decpt = exp + 1; // digits are 0.d1d2... × 10**decpt
    let mut out = String::with_capacity(24);
    if x.is_sign_negative() {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        for _ in 0..decpt - n {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// CRC-32 tables for eight bytes at a time: `T[0]` is the byte-wise table, `T[k][b]` the CRC of
/// byte `b` followed by `k` zero bytes.
const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            k += 1;
        }
        i += 1;
    }
    t
}

static CRC: [[u32; 256]; 8] = crc_tables();

/// `zlib.crc32(data)` (CRC-32/ISO-HDLC, as zlib computes it), eight bytes at a time.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    let mut chunks = data.chunks_exact(8);
    for w in &mut chunks {
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = CRC[7][(lo & 0xff) as usize]
            ^ CRC[6][((lo >> 8) & 0xff) as usize]
            ^ CRC[5][((lo >> 16) & 0xff) as usize]
            ^ CRC[4][(lo >> 24) as usize]
            ^ CRC[3][(hi & 0xff) as usize]
            ^ CRC[2][((hi >> 8) & 0xff) as usize]
            ^ CRC[1][((hi >> 16) & 0xff) as usize]
            ^ CRC[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = CRC[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// `UNSAFE` of `streams/reference/text.py`: C0 and C1 controls, DEL, and the invisible format
/// characters that reorder or hide text.
pub fn is_unsafe(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x1f | 0x7f..=0x9f | 0xad | 0x61c | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f
        | 0xfeff | 0xfff9..=0xfffb | 0xe0000..=0xe007f)
}

/// `escape(text)`: None when nothing is unsafe (the reference returns the very same str), else
/// the text with each unsafe character written out (`\n`, `\x1b`, `\u202e`, `\ue0001`).
pub fn escape(text: &str) -> Option<String> {
    if !text.chars().any(is_unsafe) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    Some(out)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Whether `HOSTILE_JSON` (the reference's regex over the raw bytes) matches: the cheap test that
/// lets a clean record skip escaping its fields. Each alternative of the regex, in its order:
/// `\u` escapes of the unsafe characters, `\n`-style escapes, and their raw UTF-8.
pub fn hostile(raw: &[u8]) -> bool {
    let n = raw.len();
    let at = |i: usize| raw.get(i).copied().unwrap_or(0);
    let ci = |c: u8, lower: u8| c | 0x20 == lower; // ASCII letter, either case
    let mut i = 0;
    while i < n {
        // every alternative starts with `\` or a byte >= 0x7f: skip words without one
        if i + 8 <= n {
            let x = u64::from_le_bytes(raw[i..i + 8].try_into().expect("eight bytes"));
            if !has_byte(x, b'\\') && (x.wrapping_add(0x0101_0101_0101_0101) | x) & 0x8080_8080_8080_8080 == 0 {
                i += 8;
                continue;
            }
        }
        let c = raw[i];
        match c {
            b'\\' => {
                let e = at(i + 1);
                if matches!(e, b'n' | b'r' | b't' | b'b' | b'f') {
                    return true;
                }
                if e == b'u' && i + 5 < n {
                    let (a, b, c3, d) = (raw[i + 2], raw[i + 3], raw[i + 4], raw[i + 5]);
                    let hit = (a == b'0' && b == b'0' && matches!(c3, b'0' | b'1') && is_hex(d))
                        || (a == b'0' && b == b'0' && c3 == b'7' && ci(d, b'f'))
                        || (a == b'0' && b == b'0' && matches!(c3, b'8' | b'9') && is_hex(d))
                        || (a == b'0' && b == b'0' && ci(c3, b'a') && ci(d, b'd'))
                        || (a == b'0' && b == b'6' && c3 == b'1' && ci(d, b'c'))
                        || (a == b'1' && b == b'8' && c3 == b'0' && ci(d, b'e'))
                        || (a == b'2' && b == b'0' && (b'0'..=b'6').contains(&c3) && is_hex(d))
                        || (ci(a, b'f') && ci(b, b'e') && ci(c3, b'f') && ci(d, b'f'))
                        || (ci(a, b'f') && ci(b, b'f') && ci(c3, b'f') && matches!(d, b'9' | b'a' | b'b' | b'A' | b'B'))
                        || (ci(a, b'd') && ci(b, b'b') && c3 == b'4' && d == b'0');
                    if hit {
                        return true;
                    }
                }
            }
            0x7f => return true,
            0xc2 if matches!(at(i + 1), 0x80..=0x9f | 0xad) => return true,
            0xd8 if at(i + 1) == 0x9c => return true,
            0xe1 if at(i + 1) == 0xa0 && at(i + 2) == 0x8e => return true,
            0xe2 if at(i + 1) == 0x80 && matches!(at(i + 2), 0x8b..=0x8f | 0xa8..=0xae) => return true,
            0xe2 if at(i + 1) == 0x81 && matches!(at(i + 2), 0xa0..=0xaf) => return true,
            0xef if at(i + 1) == 0xbf && matches!(at(i + 2), 0xb9..=0xbb) => return true,
            0xef if at(i + 1) == 0xbb && at(i + 2) == 0xbf => return true,
            0xf3 if at(i + 1) == 0xa0 && matches!(at(i + 2), 0x80 | 0x81) => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// A str as msgspec's JSON encoder writes it: `"` and `\` escaped, controls as `\n`-style or
/// `\u00XX` escapes, everything else (DEL and non-ASCII included) as it is.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_is_python_s() {
        // repr() of each, from Python 3.11
        let cases = [
            (1e16, "1e+16"), (1.5e-7, "1.5e-07"), (1e15, "1000000000000000.0"), (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"), (0.00001, "1e-05"), (0.1, "0.1"), (-0.0, "-0.0"), (0.0, "0.0"), (1.0, "1.0"),
            (1704067200.123456, "1704067200.123456"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e100, "1e+100"), (123.456, "123.456"), (-2.5e-5, "-2.5e-05"), (9999999999999998.0, "9999999999999998.0"),
            (2f64.powi(46) + 0.625, "70368744177664.62"), (0.3, "0.3"), (2.0f64.powi(-20), "9.5367431640625e-07"),
            (f64::INFINITY, "inf"), (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn crc32_is_zlib_s() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // zlib.crc32(bytes(range(256)) * 3)
        let all: Vec<u8> = (0..768).map(|i| i as u8).collect();
        assert_eq!(crc32(&all), 0xb0c0_df2a);
        assert_eq!(crc32("c-1001-0-02079460000".as_bytes()), 0x0054_4982); // zlib.crc32(b"c-1001-0-02079460000")
    }

    #[test]
    fn escape_is_the_reference_s() {
        assert_eq!(escape("clean"), None);
        assert_eq!(escape("a\nb\x1b[2K\u{202e}\u{e0001}\u{ad}\u{7f}").as_deref(),
                   Some("a\\nb\\x1b[2K\\u202e\\ue0001\\xad\\x7f"));
    }

    #[test]
    fn hostile_is_the_reference_s_regex() {
        let long = |s: &[u8]| [b"ghijklmnopqrstuv".as_slice(), s, b"ghijklmnopqrstuv"].concat();
        for s in [&b"\\u001b"[..], b"\\u007F", b"\\u00aD", b"\\u061C", b"\\u180e", b"\\u206f", b"\\uFEFF",
                  b"\\uFFFb", b"\\udb40", b"\\n", b"\\f", b"\x7f", b"\xc2\x85", b"\xc2\xad", b"\xd8\x9c",
                  b"\xe1\xa0\x8e", b"\xe2\x80\x8b", b"\xe2\x80\xae", b"\xe2\x81\xa0", b"\xef\xbb\xbf",
                  b"\xef\xbf\xb9", b"\xf3\xa0\x81"] {
            assert!(hostile(s) && hostile(&long(s)), "{s:?}");
        }
        for s in [&b"\\u0041"[..], b"\\u2070", b"\\uFFFc", b"\\a", b"\xc2\xa0", b"\xe2\x80\xaf", b"\\u00", b"\xf3\xa0\x82"] {
            assert!(!hostile(s) && !hostile(&long(s)), "{s:?}");
        }
    }

    #[test]
    fn json_strings_are_msgspec_s() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"\\\u{1}\u{8}\u{7f}\u{e9}");
        assert_eq!(out, "\"a\\\"\\\\\\u0001\\b\u{7f}\u{e9}\"".as_bytes());
    }
}
