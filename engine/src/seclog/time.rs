//! Python's aware `datetime` as the reference uses it: a wall time with either the file's zone
//! (a `zoneinfo.ZoneInfo`, PEP 495's `fold`) or a fixed offset, compared and printed as Python does.
//!
//! Zones come from jiff reading the system's TZif files (the ones Python's zoneinfo reads first),
//! with their POSIX footer rule past the last transition, as zoneinfo does (chrono-tz keeps the last
//! offset after its table ends, so DST would vanish in 2100-2199, years a stamp may have).

use std::cmp::Ordering;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

pub const DAY: i64 = 86_400;

/// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A naive wall time: seconds since 1970-01-01 00:00 as if it were UTC, and microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Naive {
    pub secs: i64,
    pub us: u32,
}

impl Naive {
    /// `datetime(y, m, d, H, M, S, us)`, or None where Python raises ValueError.
    pub fn new(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64, us: i64) -> Option<Naive> {
        if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..60).contains(&ss) || !(0..1_000_000).contains(&us) {
            return None;
        }
        Some(Naive { secs: days_from_civil(y, m, d) * DAY + hh * 3600 + mm * 60 + ss, us: us as u32 })
    }

    pub fn ymd(self) -> (i64, i64, i64) {
        civil_from_days(self.secs.div_euclid(DAY))
    }

    fn civil(self) -> Option<DateTime> {
        let (y, m, d) = self.ymd();
        let s = self.secs.rem_euclid(DAY);
        DateTime::new(
            i16::try_from(y).ok()?,
            m as i8,
            d as i8,
            (s / 3600) as i8,
            (s / 60 % 60) as i8,
            (s % 60) as i8,
            (self.us * 1000) as i32,
        )
        .ok()
    }

    pub fn isoformat(self) -> String {
        let (y, m, d) = self.ymd();
        let s = self.secs.rem_euclid(DAY);
        let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        if self.us != 0 {
            out.push_str(&format!(".{:06}", self.us));
        }
        out
    }
}

/// Which tzinfo a datetime has: the file's zone (one object in Python, so compared by wall time)
/// or a fixed offset in seconds (`datetime.timezone`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tz {
    Zone,
    Fixed(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aware {
    pub wall: Naive,
    pub fold: bool,
    pub tz: Tz,
}

/// The file's zone.
#[derive(Clone, Debug)]
pub struct Zone {
    tz: TimeZone,
}

impl Zone {
    pub fn get(name: &str) -> Result<Zone, String> {
        TimeZone::get(name).map(|tz| Zone { tz }).map_err(|e| format!("no such time zone {name:?}: {e}"))
    }

    /// The offset (seconds) at an instant, or None past jiff's range (before -9999-01-02 or after
    /// 9999-12-30T22:00Z), where `offset_at` answers 0.
    pub fn try_offset_at(&self, instant: i64) -> Option<i32> {
        Timestamp::from_second(instant).ok().map(|ts| self.tz.to_offset(ts).seconds())
    }

    /// The offset (seconds) at an instant (`tz.fromutc`); 0 past jiff's range.
    pub fn offset_at(&self, instant: i64) -> i32 {
        self.try_offset_at(instant).unwrap_or(0)
    }

    /// `utcoffset()` of a wall time with `fold` (PEP 495: in a gap or a fold, 0 takes the offset
    /// before the transition, 1 the one after).
    pub fn utcoffset(&self, wall: Naive, fold: bool) -> i32 {
        let Some(civil) = wall.civil() else { return 0 };
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
            AmbiguousOffset::Gap { before, after } | AmbiguousOffset::Fold { before, after } => {
                if fold { after.seconds() } else { before.seconds() }
            }
        }
    }

    pub fn offset(&self, dt: &Aware) -> i32 {
        match dt.tz {
            Tz::Fixed(off) => off,
            Tz::Zone => self.utcoffset(dt.wall, dt.fold),
        }
    }

    /// The instant (UTC seconds, microseconds) of an aware datetime.
    pub fn instant(&self, dt: &Aware) -> Naive {
        Naive { secs: dt.wall.secs - i64::from(self.offset(dt)), us: dt.wall.us }
    }

    /// `dt.astimezone(zone)`: the same object when it is already in the zone.
    pub fn astimezone(&self, dt: &Aware) -> Aware {
        if dt.tz == Tz::Zone {
            return *dt;
        }
        self.from_utc(self.instant(dt))
    }

    /// `datetime.fromtimestamp(t, zone)` / `zone.fromutc`: a wall time, fold 1 on the second pass.
    pub fn from_utc(&self, utc: Naive) -> Aware {
        let off = self.offset_at(utc.secs);
        let wall = Naive { secs: utc.secs + i64::from(off), us: utc.us };
        let fold = self.utcoffset(wall, false) != off;
        Aware { wall, fold, tz: Tz::Zone }
    }

    /// Python's `<`/`>=` of two aware datetimes: by wall time when both have the same tzinfo object
    /// (the file's zone), else by instant.
    pub fn cmp(&self, a: &Aware, b: &Aware) -> Ordering {
        if a.tz == Tz::Zone && b.tz == Tz::Zone {
            return a.wall.cmp(&b.wall);
        }
        self.instant(a).cmp(&self.instant(b))
    }

    /// `streams.intake.common.local_time`: a wall time read in the zone; a time in a spring gap is
    /// read as the instant an hour later.
    pub fn local_time(&self, naive: Naive, fold: bool) -> Aware {
        let d = Aware { wall: naive, fold, tz: Tz::Zone };
        let back = self.from_utc(self.instant(&d));
        if back.wall != naive {
            return Aware { wall: Naive { secs: naive.secs + 3600, us: naive.us }, fold: false, tz: Tz::Zone };
        }
        d
    }

    /// `dt.isoformat()`.
    pub fn isoformat(&self, dt: &Aware) -> String {
        let mut out = dt.wall.isoformat();
        out.push_str(&offset_text(self.offset(dt)));
        out
    }

    /// `datetime.now(zone).year`.
    pub fn now_year(&self) -> i64 {
        self.from_utc(now()).wall.ymd().0
    }
}

pub fn now() -> Naive {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Naive { secs: d.as_secs() as i64, us: d.subsec_micros() }
}

pub fn offset_text(off: i32) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let mut out = format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    if a % 60 != 0 {
        out.push_str(&format!(":{:02}", a % 60));
    }
    out
}

// ------------------------------------------------------------------------ datetime.fromisoformat

/// Python 3.11's `datetime.fromisoformat(text)` (CPython's C parser, on the UTF-8 bytes, a NUL past
/// the end): (wall, offset in microseconds if any), or None where it raises ValueError.
pub fn fromisoformat(text: &str) -> Option<(Naive, Option<i64>)> {
    if text.chars().count() < 7 {
        return None;
    }
    let b = text.as_bytes();
    let len = b.len();
    let sep = separator(b)?;
    let (y, m, d) = iso_date(b, sep)?;
    let (mut hh, mut mm, mut ss, mut us, mut tz) = (0, 0, 0, 0, None);
    if len > sep {
        // the separator is any one character: CPython skips it by its UTF-8 lead byte
        let lead = b[sep];
        let width = if lead & 0x80 == 0 {
            1
        } else {
            match lead & 0xf0 {
                0xe0 => 3,
                0xf0 => 4,
                _ => 2,
            }
        };
        (hh, mm, ss, us, tz) = iso_time(b.get(sep + width..)?)?;
    }
    if let Some(off) = tz {
        if off.abs() >= DAY * 1_000_000 {
            return None;
        }
    }
    Some((Naive::new(y, m, d, hh, mm, ss, us)?, tz))
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// CPython's parse_digits: `n` ASCII digits at `p` (reading on past the end as NUL).
fn digits_at(b: &[u8], p: usize, n: usize) -> Option<i64> {
    (p..p + n).try_fold(0i64, |v, i| {
        let c = at(b, i);
        c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
    })
}

fn separator(b: &[u8]) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if at(b, 4) == b'-' {
        if at(b, 5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(b, 8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && at(b, 10).is_ascii_digit() {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(b, 4) == b'W' {
        let mut idx = 7;
        while idx < len && b[idx].is_ascii_digit() {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// CPython 3.11's parse_isoformat_date (it reads what it needs, not checking it ends at `len`).
fn iso_date(b: &[u8], len: usize) -> Option<(i64, i64, i64)> {
    let y = digits_at(b, 0, 4)?;
    let mut p = 4;
    let dashes = at(b, p) == b'-';
    if dashes {
        p += 1;
    }
    if at(b, p) == b'W' {
        p += 1;
        let week = digits_at(b, p, 2)?;
        p += 2;
        let mut dow = 1;
        if p < len {
            if dashes {
                if at(b, p) != b'-' {
                    return None;
                }
                p += 1;
            }
            dow = digits_at(b, p, 1)?;
        }
        return iso_week(y, week, dow);
    }
    let m = digits_at(b, p, 2)?;
    p += 2;
    if dashes {
        if at(b, p) != b'-' {
            return None;
        }
        p += 1;
    }
    let d = digits_at(b, p, 2)?;
    Some((y, m, d))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn iso_week(y: i64, week: i64, dow: i64) -> Option<(i64, i64, i64)> {
    if week <= 0 || week >= 53 {
        let jan1 = (days_from_civil(y, 1, 1) + 3).rem_euclid(7); // 0 = Monday
        if !(week == 53 && (jan1 == 3 || (jan1 == 2 && is_leap(y)))) {
            return None;
        }
    }
    if !(1..=7).contains(&dow) {
        return None;
    }
    let jan4 = days_from_civil(y, 1, 4);
    let monday1 = jan4 - (jan4 + 3).rem_euclid(7);
    Some(civil_from_days(monday1 + (week - 1) * 7 + dow - 1))
}

type Clock = (i64, i64, i64, i64, Option<i64>);

/// CPython 3.11's parse_isoformat_time.
fn iso_time(b: &[u8]) -> Option<Clock> {
    let len = b.len();
    let mut tz_at = 0;
    loop {
        let c = at(b, tz_at);
        if c == b'Z' || c == b'+' || c == b'-' {
            break;
        }
        tz_at += 1;
        if tz_at >= len {
            break;
        }
    }
    let (hh, mm, ss, us, rv) = hh_mm_ss_ff(b, 0, tz_at)?;
    if tz_at == len {
        return if rv { None } else { Some((hh, mm, ss, us, None)) };
    }
    if at(b, tz_at) == b'Z' {
        return if at(b, tz_at + 1) != 0 { None } else { Some((hh, mm, ss, us, Some(0))) };
    }
    let sign = if at(b, tz_at) == b'-' { -1 } else { 1 };
    let (th, tm, ts, tu, rv) = hh_mm_ss_ff(b, tz_at + 1, len)?;
    if rv {
        return None;
    }
    Some((hh, mm, ss, us, Some(sign * ((th * 3600 + tm * 60 + ts) * 1_000_000 + tu))))
}

/// CPython 3.11's parse_hh_mm_ss_ff over `b[start..end]`: the values, and whether it stopped
/// short of a NUL (its return 1).
fn hh_mm_ss_ff(b: &[u8], start: usize, end: usize) -> Option<(i64, i64, i64, i64, bool)> {
    let mut vals = [0i64; 3];
    let mut p = start;
    let mut has_sep = true;
    for (i, slot) in vals.iter_mut().enumerate() {
        *slot = digits_at(b, p, 2)?;
        p += 2;
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_sep = c == b':';
        }
        if p >= end {
            return Some((vals[0], vals[1], vals[2], 0, c != 0));
        } else if has_sep && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_sep {
            p -= 1;
        } else {
            return None;
        }
    }
    let remains = end.saturating_sub(p);
    let n = remains.min(6);
    let mut us = digits_at(b, p, n)?;
    p += n;
    if (1..6).contains(&n) {
        us *= 10i64.pow(6 - n as u32);
    }
    while at(b, p).is_ascii_digit() {
        p += 1;
    }
    Some((vals[0], vals[1], vals[2], us, at(b, p) != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        for z in [-1, 0, 59, 365 * 300, 11_016] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn autumn_fold_and_spring_gap() {
        let z = Zone::get("Europe/Berlin").unwrap();
        let n = Naive::new(2023, 10, 29, 2, 30, 0, 0).unwrap();
        assert_eq!(z.isoformat(&z.local_time(n, false)), "2023-10-29T02:30:00+02:00");
        assert_eq!(z.isoformat(&z.local_time(n, true)), "2023-10-29T02:30:00+01:00");
        let g = Naive::new(2023, 3, 26, 2, 30, 0, 0).unwrap();
        assert_eq!(z.isoformat(&z.local_time(g, false)), "2023-03-26T03:30:00+02:00");
        let far = Naive::new(2150, 7, 1, 12, 0, 0, 0).unwrap();
        assert_eq!(z.isoformat(&z.local_time(far, false)), "2150-07-01T12:00:00+02:00");
    }

    #[test]
    fn iso_formats() {
        assert!(fromisoformat("2013-05-13T12:10:53.500+02:00").is_some());
        assert!(fromisoformat("2013-05-13").is_some());
        assert!(fromisoformat("2013-05-1").is_none());
        assert_eq!(fromisoformat("2013-05-13 12:10Z").map(|x| x.1), Some(Some(0)));
    }
}
