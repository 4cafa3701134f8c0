//! Python's own readings of text, which the reference (`streams/intake/seclog.py`) relies on: `re`'s
//! `\w`, `\d` and `\s` (Unicode, as Python defines them, not as the `regex` crate does), `str.strip`,
//! `repr`, `int` of Unicode digits, `str.upper`/`lower`, `ipaddress` and `urllib.parse.unquote`.

use std::sync::LazyLock;

use regex::{Captures, Regex, RegexBuilder};

use super::pyuni;

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `str.isspace` (also `re`'s `\s`).
pub fn is_space(c: char) -> bool {
    in_ranges(pyuni::SPACE, c)
}

fn is_printable(c: char) -> bool {
    in_ranges(pyuni::PRINTABLE, c)
}

fn is_cased(c: char) -> bool {
    in_ranges(pyuni::CASED, c)
}

fn is_case_ignorable(c: char) -> bool {
    in_ranges(pyuni::CASE_IGNORABLE, c)
}

/// The value of a character `re`'s `\d` matches (a Unicode decimal digit).
pub fn digit_value(c: char) -> Option<u32> {
    let c = c as u32;
    pyuni::DIGIT.iter().find(|&&(lo, hi, _)| lo <= c && c <= hi).map(|&(lo, _, base)| (base + c - lo) % 10)
}

/// `int(text)` of a run `\d` matched (any Unicode decimal digits); saturates instead of growing.
pub fn int(text: &str) -> i64 {
    text.chars().fold(0i64, |n, c| n.saturating_mul(10).saturating_add(i64::from(digit_value(c).unwrap_or(0))))
}

pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// `s[:n]` (characters).
pub fn head(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `s[-n:]` (characters; all of `s` when it is shorter).
pub fn tail(s: &str, n: usize) -> &str {
    if n == 0 {
        return s; // s[-0:] is all of s
    }
    match s.char_indices().rev().nth(n - 1) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// `repr(s)`, as CPython writes a str.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ if (c as u32) < 0x7f || is_printable(c) => out.push(c),
            _ if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            _ => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

fn map_case(s: &str, table: &[(u32, &'static str)], c: char, out: &mut String) {
    let _ = s;
    match table.binary_search_by_key(&(c as u32), |&(k, _)| k) {
        Ok(i) => out.push_str(table[i].1),
        Err(_) => out.push(c),
    }
}

/// `str.upper()`.
pub fn upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        map_case(s, pyuni::UPPER, c, &mut out);
    }
    out
}

/// `str.lower()`, with CPython's final sigma.
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\u{3a3}' {
            out.push(if final_sigma(&chars, i) { '\u{3c2}' } else { '\u{3c3}' });
        } else {
            map_case(s, pyuni::LOWER, c, &mut out);
        }
    }
    out
}

fn final_sigma(chars: &[char], i: usize) -> bool {
    let before = chars[..i].iter().rev().find(|&&c| !is_case_ignorable(c));
    if !before.is_some_and(|&c| is_cased(c)) {
        return false;
    }
    match chars[i + 1..].iter().find(|&&c| !is_case_ignorable(c)) {
        None => true,
        Some(&c) => !is_cased(c),
    }
}

// ------------------------------------------------------------------------------------- ipaddress

pub(crate) fn ipv4(text: &str) -> Option<u32> {
    let mut n = 0u32;
    let mut parts = 0;
    for octet in text.split('.') {
        parts += 1;
        if parts > 4 || octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if octet != "0" && octet.starts_with('0') {
            return None;
        }
        let v: u32 = octet.parse().ok()?;
        if v > 255 {
            return None;
        }
        n = (n << 8) | v;
    }
    (parts == 4).then_some(n)
}

fn hextet(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

pub(crate) fn ipv6(text: &str) -> Option<u128> {
    if text.is_empty() || text.contains('/') || text.contains('%') {
        return None;
    }
    let mut parts: Vec<String> = text.split(':').map(str::to_string).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = ipv4(&parts.pop()?)?;
        parts.push(format!("{:x}", (v4 >> 16) & 0xffff));
        parts.push(format!("{:x}", v4 & 0xffff));
    }
    if parts.len() > 9 {
        return None;
    }
    let n = parts.len();
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(n - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let (hi, lo, skipped) = match skip {
        Some(i) => {
            let mut hi = i;
            let mut lo = n - i - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi != 0 {
                    return None;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo != 0 {
                    return None;
                }
            }
            let skipped = 8i64 - (hi + lo) as i64;
            if skipped < 1 {
                return None;
            }
            (hi, lo, skipped as u32)
        }
        None => {
            if n != 8 || parts[0].is_empty() || parts[n - 1].is_empty() {
                return None;
            }
            (n, 0, 0)
        }
    };
    let mut v: u128 = 0;
    for part in &parts[..hi] {
        v = (v << 16) | hextet(part)?;
    }
    v = v.checked_shl(16 * skipped).unwrap_or(0);
    for part in &parts[n - lo..] {
        v = (v << 16) | hextet(part)?;
    }
    Some(v)
}

fn v4_text(n: u32) -> String {
    format!("{}.{}.{}.{}", n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

fn v6_text(v: u128) -> String {
    let hextets: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let (mut best_start, mut best_len, mut start, mut len) = (None, 0, None, 0);
    for (i, &h) in hextets.iter().enumerate() {
        if h == 0 {
            len += 1;
            if start.is_none() {
                start = Some(i);
            }
            if len > best_len {
                best_len = len;
                best_start = start;
            }
        } else {
            len = 0;
            start = None;
        }
    }
    let words: Vec<String> = hextets.iter().map(|h| format!("{h:x}")).collect();
    match best_start {
        Some(s) if best_len > 1 => {
            let left = words[..s].join(":");
            let right = words[s + best_len..].join(":");
            format!("{left}::{right}")
        }
        _ => words.join(":"),
    }
}

/// `streams.domain.events.canonical_ip`: `str(ipaddress.ip_address(text))`, an IPv4-mapped IPv6
/// address as its IPv4 one; None where Python raises ValueError.
pub fn canonical_ip(text: &str) -> Option<String> {
    if let Some(n) = ipv4(text) {
        return Some(v4_text(n));
    }
    let v = ipv6(text)?;
    if v >> 32 == 0xffff {
        return Some(v4_text(v as u32));
    }
    Some(v6_text(v))
}

// ------------------------------------------------------------------------------------- unquote

/// `urllib.parse.unquote(text, errors="replace")` of an ASCII text.
pub fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut parts = text.as_bytes().split(|&b| b == b'%');
    bytes.extend_from_slice(parts.next().unwrap_or_default());
    for part in parts {
        if part.len() >= 2 && part[0].is_ascii_hexdigit() && part[1].is_ascii_hexdigit() {
            let hex = std::str::from_utf8(&part[..2]).unwrap_or("00");
            bytes.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            bytes.extend_from_slice(&part[2..]);
        } else {
            bytes.push(b'%');
            bytes.extend_from_slice(part);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ------------------------------------------------------------------------------------- regexes

fn ranges(table: &[(u32, u32)], ascii: bool) -> String {
    table
        .iter()
        .filter(|&&(lo, _)| !ascii || lo < 0x80)
        .map(|&(lo, hi)| {
            let hi = if ascii { hi.min(0x7f) } else { hi };
            format!("\\x{{{lo:x}}}-\\x{{{hi:x}}}")
        })
        .collect()
}

fn classes(ascii: bool) -> [String; 3] {
    let digits: Vec<(u32, u32)> = pyuni::DIGIT.iter().map(|&(lo, hi, _)| (lo, hi)).collect();
    [ranges(pyuni::WORD, ascii), ranges(&digits, ascii), ranges(pyuni::SPACE, ascii)]
}

static UNICODE: LazyLock<[String; 3]> = LazyLock::new(|| classes(false));
static ASCII: LazyLock<[String; 3]> = LazyLock::new(|| classes(true));

/// A pattern in Python's `re` syntax compiled twice: with Python's `\w`, `\d`, `\s` for any text,
/// and with their ASCII part for an ASCII text (the same matches there, from a far smaller automaton).
pub struct Re {
    uni: Regex,
    ascii: Regex,
}

impl Re {
    /// The compiled pattern for this text (a loop over one text picks it once: the check reads it all).
    pub fn pick(&self, text: &str) -> &Regex {
        if text.is_ascii() {
            &self.ascii
        } else {
            &self.uni
        }
    }

    pub fn captures<'h>(&self, text: &'h str) -> Option<Captures<'h>> {
        self.pick(text).captures(text)
    }

    pub fn captures_at<'h>(&self, text: &'h str, start: usize) -> Option<Captures<'h>> {
        self.pick(text).captures_at(text, start)
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.pick(text).is_match(text)
    }

    pub fn find<'h>(&self, text: &'h str) -> Option<regex::Match<'h>> {
        self.pick(text).find(text)
    }

    pub fn find_last<'h>(&self, text: &'h str) -> Option<regex::Match<'h>> {
        self.pick(text).find_iter(text).last()
    }
}

/// A pattern written in Python's `re` syntax (the reference's own text, less lookaround and
/// backreferences) compiled with Python's `\w`, `\d`, `\s`, `\S` and `\Z`.
pub fn compile(pattern: &str) -> Re {
    Re { uni: translate(pattern, &UNICODE), ascii: translate(pattern, &ASCII) }
}

fn translate(pattern: &str, cls: &[String; 3]) -> Regex {
    let mut out = String::with_capacity(pattern.len() * 4);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(e) = chars.next() else { break };
            let class = match e {
                'w' => Some((&cls[0], false)),
                'd' => Some((&cls[1], false)),
                's' => Some((&cls[2], false)),
                'S' => Some((&cls[2], true)),
                _ => None,
            };
            match class {
                Some((body, negated)) => {
                    assert!(!(in_class && negated), "\\S inside a class is not supported");
                    if in_class {
                        out.push_str(body);
                    } else {
                        out.push_str(if negated { "[^" } else { "[" });
                        out.push_str(body);
                        out.push(']');
                    }
                }
                None if e == 'Z' => out.push_str("\\z"),
                None => {
                    out.push('\\');
                    out.push(e);
                }
            }
            continue;
        }
        if c == '[' && !in_class {
            in_class = true;
            out.push(c);
            if chars.peek() == Some(&'^') {
                out.push(chars.next().unwrap_or('^'));
            }
            if chars.peek() == Some(&']') {
                out.push_str("\\]");
                chars.next();
            }
            continue;
        }
        if c == '[' && in_class {
            out.push_str("\\[");
            continue;
        }
        if c == ']' && in_class {
            in_class = false;
        }
        out.push(c);
    }
    RegexBuilder::new(&out)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 24)
        .build()
        .unwrap_or_else(|e| panic!("pattern {pattern:?}: {e}"))
}

/// Python's `pattern.match(text)`: anchored at the start.
pub fn matcher(pattern: &str) -> Re {
    compile(&format!("^(?:{pattern})"))
}

/// Python's `pattern.fullmatch(text)`.
pub fn full(pattern: &str) -> Re {
    compile(&format!("^(?:{pattern})$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_spellings_are_python_s() {
        assert_eq!(canonical_ip("1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(canonical_ip("01.2.3.4"), None);
        assert_eq!(canonical_ip("::FFFF:10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(canonical_ip("2001:DB8:0::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(canonical_ip("1:2:3:4:5:6:7::").as_deref(), Some("1:2:3:4:5:6:7:0"));
        assert_eq!(canonical_ip("::").as_deref(), Some("::"));
        assert_eq!(canonical_ip("1::2::3"), None);
        assert_eq!(canonical_ip("fe80::1%eth0"), None);
        assert_eq!(canonical_ip("2001:0:0:1:0:0:0:1").as_deref(), Some("2001:0:0:1::1"));
        assert_eq!(canonical_ip("::1.2.3.4").as_deref(), Some("::102:304"));
    }

    #[test]
    fn text_as_python_reads_it() {
        assert_eq!(repr("a'b"), "\"a'b\"");
        assert_eq!(repr("a'b\""), "'a\\'b\"'");
        assert_eq!(repr("\u{85}\u{e9}\u{200b}"), "'\\x85\u{e9}\\u200b'");
        assert_eq!(strip("\u{1c} x \u{3000}"), "x");
        assert_eq!(int("\u{663}\u{664}"), 34);
        assert_eq!(tail("abcdef", 2), "ef");
        assert_eq!(head("abcdef", 2), "ab");
        assert_eq!(upper("stra\u{df}e"), "STRASSE");
        assert_eq!(lower("\u{3a3}A\u{3a3}"), "\u{3c3}a\u{3c2}");
        assert_eq!(unquote("a%41%zz%e2%82"), "aA%zz\u{fffd}");
        assert!(compile(r"^\w+$").is_match("a\u{b2}_"));
        assert!(!compile(r"^\w$").is_match("\u{300}"));
    }
}
