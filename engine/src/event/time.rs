//! The contract's aware datetimes: read as msgspec reads an RFC 3339 string (`ms_decode_datetime_from_str`,
//! msgspec 0.23), compared and printed as Python's `datetime` does, written back as msgspec writes them.

use crate::seclog::time::days_from_civil;

/// A datetime as msgspec gives it: the wall clock as written and its UTC offset in minutes (0 is
/// `timezone.utc`, which `Z`, `+00:00` and `-00:00` all give). Fractions beyond microseconds are
/// rounded half up on the 7th digit, as msgspec does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micro: u32,
    pub offset: i16,
}

/// Why a string is not an aware datetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// "Invalid RFC3339 encoded datetime"
    Invalid,
    /// "Expected `datetime` with a timezone component"
    Naive,
}

fn is_leap(y: u32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    const N: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if m == 2 && is_leap(y) {
        29
    } else {
        N[(m - 1) as usize]
    }
}

/// `ms_read_fixint`: `width` ASCII digits at `at`.
fn fixint(s: &[u8], at: usize, width: usize) -> Option<u32> {
    let mut x = 0;
    for &c in &s[at..at + width] {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x * 10 + u32::from(c - b'0');
    }
    Some(x)
}

/// Epoch microseconds of 1971-01-01 and 2200-01-01 (`MIN_TIME`, `MAX_TIME` of the contract).
pub const MIN_MICROS: i64 = 31_536_000 * 1_000_000;
pub const MAX_MICROS: i64 = 7_258_118_400 * 1_000_000;

impl DateTime {
    /// `ms_decode_datetime_from_str` on a string's bytes (escapes already read).
    pub fn parse(s: &[u8]) -> Result<DateTime, TimeError> {
        use TimeError::Invalid;
        let len = s.len();
        if len < 19 {
            return Err(Invalid);
        }
        let year = fixint(s, 0, 4).ok_or(Invalid)?;
        if s[4] != b'-' {
            return Err(Invalid);
        }
        let month = fixint(s, 5, 2).ok_or(Invalid)?;
        if s[7] != b'-' {
            return Err(Invalid);
        }
        let day = fixint(s, 8, 2).ok_or(Invalid)?;
        if !matches!(s[10], b'T' | b't' | b' ') {
            return Err(Invalid);
        }
        let hour = fixint(s, 11, 2).ok_or(Invalid)?;
        if s[13] != b':' {
            return Err(Invalid);
        }
        let minute = fixint(s, 14, 2).ok_or(Invalid)?;
        if s[16] != b':' {
            return Err(Invalid);
        }
        let second = fixint(s, 17, 2).ok_or(Invalid)?;
        let mut pos = 19;
        // msgspec's next_or_null: 0 at the end (without moving), else the next byte
        let next = |pos: &mut usize| -> u8 {
            if *pos == len {
                0
            } else {
                *pos += 1;
                s[*pos - 1]
            }
        };
        let mut c = next(&mut pos);
        let mut micro = 0u32;
        let mut round_up = false;
        if c == b'.' {
            let mut ndigits = 0;
            let mut all_six = true;
            while ndigits < 6 {
                c = next(&mut pos);
                if !c.is_ascii_digit() {
                    all_six = false;
                    break;
                }
                ndigits += 1;
                micro = micro * 10 + u32::from(c - b'0');
            }
            if all_six {
                c = next(&mut pos);
                if c.is_ascii_digit() {
                    round_up = c >= b'5';
                    loop {
                        c = next(&mut pos);
                        if !c.is_ascii_digit() {
                            break;
                        }
                    }
                }
            }
            if ndigits == 0 {
                return Err(Invalid);
            }
            const SCALE: [u32; 6] = [100_000, 10_000, 1_000, 100, 10, 1];
            micro *= SCALE[ndigits - 1];
        }
        let mut offset: i32 = 0;
        let aware;
        if c != 0 {
            if c == b'Z' || c == b'z' {
                if pos != len {
                    return Err(Invalid);
                }
            } else {
                let sign = match c {
                    b'-' => -1,
                    b'+' => 1,
                    _ => return Err(Invalid),
                };
                if len - pos < 3 {
                    return Err(Invalid);
                }
                let oh = fixint(s, pos, 2).ok_or(Invalid)?;
                pos += 2;
                if s[pos] == b':' {
                    pos += 1;
                }
                if len - pos != 2 {
                    return Err(Invalid);
                }
                let om = fixint(s, pos, 2).ok_or(Invalid)?;
                if oh > 23 || om > 59 {
                    return Err(Invalid);
                }
                offset = sign * (oh * 60 + om) as i32;
            }
            aware = true;
        } else if s[pos - 1] == 0 {
            return Err(Invalid); // a NUL read from the input, not the end of it
        } else {
            aware = false;
        }
        if year == 0 || month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
            return Err(Invalid);
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(Invalid);
        }
        let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (year, month, day, hour, minute, second);
        if round_up {
            micro += 1;
            if micro == 1_000_000 {
                micro = 0;
                second += 1;
                if second == 60 {
                    second = 0;
                    minute += 1;
                    if minute == 60 {
                        minute = 0;
                        hour += 1;
                        if hour == 24 {
                            hour = 0;
                            day += 1;
                            if day == days_in_month(year, month) + 1 {
                                month += 1;
                                day = 1;
                                if month > 12 {
                                    month = 1;
                                    year += 1;
                                    if year > 9999 {
                                        return Err(Invalid);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if !aware {
            return Err(TimeError::Naive);
        }
        Ok(DateTime {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            micro,
            offset: offset as i16,
        })
    }

    /// The instant, in microseconds since the epoch (exact: what Python compares aware datetimes by).
    pub fn micros(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day));
        let secs = days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(self.offset) * 60;
        secs * 1_000_000 + i64::from(self.micro)
    }

    /// `datetime.timestamp()`: Python divides the exact microseconds by 10**6, correctly rounded,
    /// which is one IEEE division of two exact floats (|micros| < 2**53 for any year up to 9999).
    pub fn timestamp(&self) -> f64 {
        self.micros() as f64 / 1e6
    }

    fn wall(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", self.year, self.month, self.day, self.hour,
                       self.minute, self.second);
        if self.micro != 0 {
            let _ = write!(out, ".{:06}", self.micro);
        }
    }

    fn offset_text(&self, out: &mut String) {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let m = self.offset.unsigned_abs();
        out.push(sign);
        out.push_str(&format!("{:02}:{:02}", m / 60, m % 60));
    }

    /// `datetime.isoformat()` (the offset always written, `+00:00` for UTC).
    pub fn isoformat(&self) -> String {
        let mut out = String::with_capacity(32);
        self.wall(&mut out);
        self.offset_text(&mut out);
        out
    }

    /// As msgspec writes it (without the quotes): `Z` for UTC.
    pub fn msgspec(&self) -> String {
        let mut out = String::with_capacity(32);
        self.wall(&mut out);
        if self.offset == 0 {
            out.push('Z');
        } else {
            self.offset_text(&mut out);
        }
        out
    }
}

/// Appends `repr(micros / 10**6)` (the float [`DateTime::timestamp`] makes) when `0 <= micros <
/// 2**33 seconds` (any time up to 2242), else returns false. It is the decimal `micros / 10**6`
/// itself, trailing zeros cut: the float is the one nearest to that decimal, and a float below
/// 2**33 is less than 10**-6 wide (2**-20), so no other multiple of 10**-6, as every shorter
/// decimal is, reads back as the same float.
pub fn push_timestamp_repr(out: &mut String, micros: i64) -> bool {
    if !(0..(1i64 << 33) * 1_000_000).contains(&micros) {
        return false;
    }
    let (s, mut us) = (micros / 1_000_000, micros % 1_000_000);
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    let mut n = s;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
    out.push('.');
    if us == 0 {
        out.push('0');
        return true;
    }
    let mut width = 6;
    while us % 10 == 0 {
        us /= 10;
        width -= 1;
    }
    let mut digits = [b'0'; 6];
    for k in (0..width).rev() {
        digits[k] = b'0' + (us % 10) as u8;
        us /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).expect("ASCII digits"));
    true
}

/// [`push_timestamp_repr`] as a new String.
pub fn timestamp_repr(micros: i64) -> Option<String> {
    let mut out = String::new();
    push_timestamp_repr(&mut out, micros).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<DateTime, TimeError> {
        DateTime::parse(s.as_bytes())
    }

    #[test]
    fn reads_as_msgspec_does() {
        let t = p("2024-02-29T23:59:59.9999995Z").unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.micro), (2024, 3, 1, 0, 0));
        assert_eq!(p("2024-01-01t10:00:00.5+05:30").unwrap().offset, 330);
        assert_eq!(p("2024-01-01 10:00:00-0130").unwrap().offset, -90);
        assert_eq!(p("2024-01-01T10:00:00-00:00").unwrap().offset, 0);
        assert_eq!(p("2024-01-01T10:00:00.123z").unwrap().micro, 123_000);
        assert_eq!(p("2024-01-01T10:00:00.1234564Z").unwrap().micro, 123_456);
        assert_eq!(p("2024-01-01T10:00:00"), Err(TimeError::Naive));
        assert_eq!(p("2024-01-01T10:00:60Z"), Err(TimeError::Invalid)); // no leap second
        assert_eq!(p("2023-02-29T10:00:00Z"), Err(TimeError::Invalid));
        assert_eq!(p("2024-01-01T10:00:00.Z"), Err(TimeError::Invalid));
        assert_eq!(p("2024-01-01T10:00:00Z "), Err(TimeError::Invalid));
        assert_eq!(p("2024-01-01T10:00:00+24:00"), Err(TimeError::Invalid));
        assert_eq!(p("2024-01-01T10:00:00\u{0}"), Err(TimeError::Invalid));
        assert_eq!(p("9999-12-31T23:59:59.9999999Z"), Err(TimeError::Invalid));
        assert_eq!(p("0000-01-01T00:00:00Z"), Err(TimeError::Invalid));
    }

    #[test]
    fn python_s_instants_and_text() {
        let t = p("1971-01-01T01:00:00+01:00").unwrap();
        assert_eq!(t.micros(), MIN_MICROS);
        assert_eq!(p("2200-01-01T00:00:00Z").unwrap().micros(), MAX_MICROS);
        assert_eq!(t.isoformat(), "1971-01-01T01:00:00+01:00");
        assert_eq!(p("2024-01-01T10:00:00.5-00:30").unwrap().isoformat(), "2024-01-01T10:00:00.500000-00:30");
        assert_eq!(p("2024-01-01T10:00:00+00:00").unwrap().msgspec(), "2024-01-01T10:00:00Z");
        assert_eq!(p("2024-01-01T10:00:00.000001Z").unwrap().timestamp(), 1704103200.000001);
    }

    #[test]
    fn timestamps_print_as_python_s_repr() {
        assert_eq!(timestamp_repr(1_704_103_200_000_000).as_deref(), Some("1704103200.0"));
        assert_eq!(timestamp_repr(1_704_103_200_000_001).as_deref(), Some("1704103200.000001"));
        assert_eq!(timestamp_repr(31_536_000_120_000).as_deref(), Some("31536000.12"));
        let mut micros: i64 = MIN_MICROS;
        while micros < MAX_MICROS {
            let x = micros as f64 / 1e6;
            assert_eq!(timestamp_repr(micros), Some(super::super::fmt::py_float_repr(x)), "{micros}");
            micros += 987_654_321_237;
        }
    }
}
