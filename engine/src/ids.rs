//! The detector's ids and epochs, bit for bit as the Python reference computes them: a port of
//! `streams.core.detector._hash` (alert, action and unblock ids), `streams.core.epochs.epoch_of` and
//! `iso` (an alert's or action's `ts`, as msgspec writes it), and the digests of
//! `streams.domain.incidents` (incident ids, long call ids, detection idents) and
//! `streams.domain.campaigns._hash`. The Python stays the reference;
//! `tests/engine/test_ids_engine.py` compares both on random parts and on every id of a replay.
//!
//! Every id is BLAKE2b with the digest size in its parameter block (Python's `hashlib.blake2b(...,
//! digest_size=n)`, RustCrypto's `Blake2b<Un>`) of UTF-8 text. Not wired in yet: the detector's
//! port (docs/engine.md, "What comes next") will call these.

use std::borrow::Cow;

use blake2::digest::consts::{U10, U12, U7, U8};
use blake2::{Blake2b, Digest};

use crate::event::fmt::py_float_repr;
use crate::event::DateTime;
use crate::seclog::time::civil_from_days;

/// `streams.core.epochs.FOREVER`: the span of a detection whose incident never ends, the "until" of a
/// permanent block or incident (the one definition; the windows, the lifecycle and emit use it).
pub const FOREVER: f64 = 1e18;
/// `streams.core.epochs.HORIZON`: how far back a late event can still change what a key remembers.
pub const HORIZON: f64 = 6.0 * 3600.0;

/// `streams.domain.incidents.MAX_CALL_ID`: longer call ids (in code points) are kept as a digest.
pub const MAX_CALL_ID: usize = 64;

/// One part of a `_hash`, written as Python's `str()` writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Part<'a> {
    /// A `str`: itself.
    Str(&'a str),
    /// An `int` (an epoch, a count): its decimal digits.
    Int(i128),
    /// A `float` (a timestamp): its `repr`, `nan`, `inf` and `-0.0` included.
    Float(f64),
    /// `True` or `False`.
    Bool(bool),
    /// `None` (an unblock's `by` when no one is named).
    None,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes.hex()`, lower case as `hexdigest()` writes it.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// `int.from_bytes(digest, "big")` of a digest of at most 8 bytes.
fn big_endian(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Feeds `str(n)` to `h` without allocating.
fn update_int<D: Digest>(h: &mut D, n: i128) {
    let mut buf = [0u8; 40]; // i128::MIN has 39 digits and a sign
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    h.update(&buf[i..]);
}

/// `_hash(*parts)` built part by part: `blake2b("|".join(map(str, parts)).encode(), digest_size=10)`.
pub struct Joined {
    h: Blake2b<U10>,
    first: bool,
}

impl Default for Joined {
    fn default() -> Self {
        Self::new()
    }
}

impl Joined {
    pub fn new() -> Self {
        Joined { h: Blake2b::new(), first: true }
    }

    /// Appends one part (after a `|` unless it is the first).
    pub fn push(&mut self, part: Part<'_>) {
        if !self.first {
            self.h.update(b"|");
        }
        self.first = false;
        match part {
            Part::Str(s) => self.h.update(s.as_bytes()),
            Part::Int(n) => update_int(&mut self.h, n),
            Part::Float(x) => self.h.update(py_float_repr(x).as_bytes()),
            Part::Bool(b) => self.h.update(if b { "True" } else { "False" }),
            Part::None => self.h.update(b"None"),
        }
    }

    /// The 10-byte digest.
    pub fn digest(self) -> [u8; 10] {
        self.h.finalize().into()
    }

    /// `hexdigest()`: 20 lower-case hex digits.
    pub fn hex(self) -> String {
        hex(&self.digest())
    }
}

/// `streams.core.detector._hash(*parts)`.
pub fn hash_parts(parts: &[Part<'_>]) -> String {
    let mut j = Joined::new();
    for &p in parts {
        j.push(p);
    }
    j.hex()
}

/// An alert's id (`Ctx.emit`): `_hash(tenant, rule, subject_type, subject, variant, epoch)`.
pub fn alert_id(tenant: &str, rule: &str, subject_type: &str, subject: &str, variant: &str, epoch: i64) -> String {
    hash_parts(&[Part::Str(tenant), Part::Str(rule), Part::Str(subject_type), Part::Str(subject),
                 Part::Str(variant), Part::Int(i128::from(epoch))])
}

/// An action's id (`Ctx._actions`, and `Ctx._join`'s hang-ups): `_hash(alert_id, kind, target)`, with
/// `from_ip` last when the order names one.
pub fn action_id(alert_id: &str, kind: &str, target: &str, from_ip: Option<&str>) -> String {
    let mut j = Joined::new();
    for p in [alert_id, kind, target] {
        j.push(Part::Str(p));
    }
    if let Some(ip) = from_ip {
        j.push(Part::Str(ip));
    }
    j.hex()
}

/// An unblock's action id (`Detector._unblock`): `_hash("unblock", tenant, target, ts, by)`, `ts` the
/// event time as a float and `by` `None` when no one is named.
pub fn unblock_id(tenant: &str, target: &str, ts: f64, by: Option<&str>) -> String {
    hash_parts(&[Part::Str("unblock"), Part::Str(tenant), Part::Str(target), Part::Float(ts),
                 by.map_or(Part::None, Part::Str)])
}

/// Why `epoch_of` has no `int` (what Python raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochError {
    /// ZeroDivisionError "float division by zero": a span of 0.
    ZeroSpan,
    /// ValueError "cannot convert float NaN to integer".
    NaN,
    /// OverflowError "cannot convert float infinity to integer".
    Infinite,
    /// The floor is an integer beyond i64 (Python's is a big int; the bindings build it from
    /// [`epoch_floor`]). Never for the contract's times over a span of a second or more.
    Big,
}

/// `at / span` floored, as a float: what `math.floor` turns into an `int` (0.0 for ever).
pub fn epoch_floor(at: f64, span: f64) -> Result<f64, EpochError> {
    if span >= FOREVER {
        return Ok(0.0);
    }
    if span == 0.0 {
        return Err(EpochError::ZeroSpan);
    }
    let q = (at / span).floor();
    if q.is_nan() {
        Err(EpochError::NaN)
    } else if q.is_infinite() {
        Err(EpochError::Infinite)
    } else {
        Ok(q)
    }
}

/// `streams.core.epochs.epoch_of(at, span)`: 0 when `span >= FOREVER`, else `math.floor(at / span)`
/// (one IEEE division, then the floor, exact).
pub fn epoch_of(at: f64, span: f64) -> Result<i64, EpochError> {
    let q = epoch_floor(at, span)?;
    // -2**63 is a float; 2**63 is the first float above i64::MAX
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&q) {
        Ok(q as i64)
    } else {
        Err(EpochError::Big)
    }
}

/// Why `iso(ts)` has no datetime (what `datetime.fromtimestamp(ts, timezone.utc)` raises on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoError {
    /// ValueError "Invalid value NaN (not a number)".
    NaN,
    /// OverflowError "timestamp out of range for platform time_t".
    TimeT,
    /// OSError(EOVERFLOW): glibc's `gmtime_r` cannot put the year in an `int`.
    Gmtime,
    /// ValueError "year {0} is out of range": outside 1..=9999.
    Year(i64),
}

/// `streams.core.epochs.iso(ts)`: `datetime.fromtimestamp(ts, timezone.utc)`, as CPython computes it.
/// The whole seconds are the float's integral part and the microseconds its fraction times 10**6 (one
/// IEEE multiplication), rounded half to even (`_PyTime_ROUND_HALF_EVEN`), carried into the seconds
/// when they round to 10**6 or fall below 0; then the UTC calendar (glibc's `gmtime_r`) and
/// `datetime`'s year range.
pub fn iso(ts: f64) -> Result<DateTime, IsoError> {
    if ts.is_nan() {
        return Err(IsoError::NaN);
    }
    if ts.is_infinite() {
        return Err(IsoError::TimeT);
    }
    let mut int = ts.trunc();
    let mut frac = ((ts - int) * 1e6).round_ties_even(); // modf's fraction is exact; the product is not
    if frac >= 1e6 {
        frac -= 1e6;
        int += 1.0;
    } else if frac < 0.0 {
        frac += 1e6;
        int -= 1.0;
    }
    // CPython's guard before the cast to time_t: -2**63 <= int < 2**63, as floats
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&int) {
        return Err(IsoError::TimeT);
    }
    let secs = int as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let Ok(tm_year) = i32::try_from(y - 1900) else {
        return Err(IsoError::Gmtime);
    };
    let year = i64::from(tm_year.wrapping_add(1900)); // `tm.tm_year + 1900` in C's int
    if !(1..=9999).contains(&year) {
        return Err(IsoError::Year(year));
    }
    Ok(DateTime {
        year: year as u16,
        month: m as u8,
        day: d as u8,
        hour: (rem / 3600) as u8,
        minute: (rem / 60 % 60) as u8,
        second: (rem % 60) as u8,
        micro: frac as u32,
        offset: 0,
    })
}

/// `msgspec.json.encode(iso(ts))` without its quotes: the `ts` of an alert or action record
/// (`2024-12-07T08:47:14.123456Z`, the fraction only when there are microseconds).
pub fn iso_text(ts: f64) -> Result<String, IsoError> {
    iso(ts).map(|t| t.msgspec())
}

/// `streams.domain.incidents.incident_id`: `"i-"` and the blake2b-80 of
/// `f"{tenant}|{subject_type}|{subject}|{first_alert}"`.
pub fn incident_id(tenant: &str, subject_type: &str, subject: &str, first_alert: &str) -> String {
    let mut h = Blake2b::<U10>::new();
    for (i, p) in [tenant, subject_type, subject, first_alert].into_iter().enumerate() {
        if i > 0 {
            h.update(b"|");
        }
        h.update(p.as_bytes());
    }
    let mut out = String::with_capacity(22);
    out.push_str("i-");
    out.push_str(&hex(&h.finalize()));
    out
}

/// `streams.domain.incidents._call_key`: a call id of at most [`MAX_CALL_ID`] code points is itself,
/// a longer one `"#"` and the blake2b-96 hex of its text.
pub fn call_key(call_id: &str) -> Cow<'_, str> {
    if call_id.chars().count() <= MAX_CALL_ID {
        return Cow::Borrowed(call_id);
    }
    let mut out = String::with_capacity(25);
    out.push('#');
    out.push_str(&hex(&Blake2b::<U12>::digest(call_id.as_bytes())));
    Cow::Owned(out)
}

/// `streams.domain.incidents._ident_of`: a detection with no event behind it, named by its alert
/// and instant, `int.from_bytes(blake2b(f"{alert_id}|{ts!r}", digest_size=7), "big")`.
pub fn seen_ident(alert_id: &str, ts: f64) -> u64 {
    let mut h = Blake2b::<U7>::new();
    h.update(alert_id.as_bytes());
    h.update(b"|");
    h.update(py_float_repr(ts).as_bytes());
    big_endian(&h.finalize())
}

/// The detection a campaign counts once (`IncidentFold._count_in`):
/// `int.from_bytes(blake2b(f"{alert_id}|{ident}", digest_size=7), "big")`.
pub fn detection_ident(alert_id: &str, ident: i128) -> u64 {
    let mut h = Blake2b::<U7>::new();
    h.update(alert_id.as_bytes());
    h.update(b"|");
    update_int(&mut h, ident);
    big_endian(&h.finalize())
}

/// `streams.domain.campaigns._hash`: a value's 64-bit hash, `int.from_bytes(blake2b(value,
/// digest_size=8), "big")`.
pub fn campaign_hash(value: &str) -> u64 {
    big_endian(&Blake2b::<U8>::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    //! Every expected value was computed once with CPython 3.11's hashlib, datetime and msgspec 0.23
    //! (the reference functions themselves) and pasted here.
    use super::*;

    #[test]
    fn hashes_parts_as_str_joined_by_bars() {
        assert_eq!(alert_id("default", "sip_flood", "ip", "203.0.113.9", "", 470_000), "a76404ec9c259a09ac39");
        assert_eq!(
            hash_parts(&[Part::Str("a|b"), Part::Str(""), Part::Int(-12), Part::Float(0.1), Part::Float(-0.0),
                         Part::Float(1e16), Part::Float(1e-7), Part::Float(f64::NAN), Part::Float(f64::NEG_INFINITY),
                         Part::None, Part::Bool(true), Part::Bool(false), Part::Int(1 << 100)]),
            "84f42a8c150c02f5e026"
        );
        assert_eq!(action_id("acme-7f3a9c2b41d0", "block_ip", "203.0.113.9", None), "6a6632b8692351ad2581");
        assert_eq!(action_id("acme-7f3a9c2b41d0", "lock_account", "1001", Some("203.0.113.9")),
                   "e9b3c8f52a4081c89223");
        assert_eq!(unblock_id("default", "203.0.113.9", 1_733_561_234.5, None), "4f78b347336cbe44c9e2");
        assert_eq!(unblock_id("default", "203.0.113.9", 1_733_561_234.123456, Some("soc")), "1318c4ff1b66d186cd1c");
        assert_eq!(hash_parts(&[Part::Str("é\u{0}\u{1F600}|")]), "d58b8da6e974289c4594");
        assert_eq!(hash_parts(&[]), "6fa1d8fcfd719046d762");
    }

    #[test]
    fn writes_ints_as_python_does() {
        let mut a = Joined::new();
        a.push(Part::Int(i128::MIN));
        let mut b = Joined::new();
        b.push(Part::Str("-170141183460469231731687303715884105728"));
        assert_eq!(a.digest(), b.digest());
        let mut a = Joined::new();
        a.push(Part::Int(0));
        let mut b = Joined::new();
        b.push(Part::Str("0"));
        assert_eq!(a.digest(), b.digest());
    }

    #[test]
    fn incident_digests() {
        assert_eq!(incident_id("default", "ip", "203.0.113.9", "7f3a9c2b41d0e5a6b7c8"), "i-86dac98da83b73c9d0de");
        let x64 = "x".repeat(64);
        assert_eq!(call_key(&x64), x64.as_str());
        assert_eq!(call_key(&"x".repeat(65)), "#91becc8bb1a9a128aab2f3b4");
        let e64 = "é".repeat(64); // 128 bytes, 64 code points: kept
        assert_eq!(call_key(&e64), e64.as_str());
        assert_eq!(call_key(&"é".repeat(65)), "#eac815cbdfba2ea65d08a5de");
        assert_eq!(seen_ident("7f3a9c2b41d0e5a6b7c8", 1_733_561_234.5), 578_401_636_298_119);
        assert_eq!(seen_ident("7f3a9c2b41d0e5a6b7c8", 1e16), 69_430_914_482_764_846);
        assert_eq!(detection_ident("7f3a9c2b41d0e5a6b7c8", 12345), 54_701_280_955_991_569);
        assert_eq!(detection_ident("7f3a9c2b41d0e5a6b7c8", -3), 14_415_771_224_944_232);
        assert_eq!(campaign_hash("203.0.113.9"), 6_818_049_255_702_802_242);
        assert_eq!(campaign_hash(""), 16_476_032_584_258_269_876);
        assert_eq!(campaign_hash("12345"), 8_383_533_804_853_196_449);
    }

    #[test]
    fn epochs_as_math_floor() {
        assert_eq!(epoch_of(1_733_561_234.5, 3600.0), Ok(481_544));
        assert_eq!(epoch_of(-1.5, 3600.0), Ok(-1));
        assert_eq!(epoch_of(5.0, 1e18), Ok(0));
        assert_eq!(epoch_of(5.0, 2e18), Ok(0));
        assert_eq!(epoch_of(1e300, 1.0), Err(EpochError::Big));
        assert_eq!(epoch_floor(1e300, 1.0), Ok(1e300));
        assert_eq!(epoch_of(f64::NAN, 1.0), Err(EpochError::NaN));
        assert_eq!(epoch_of(1.0, f64::NAN), Err(EpochError::NaN));
        assert_eq!(epoch_of(f64::INFINITY, 1.0), Err(EpochError::Infinite));
        assert_eq!(epoch_of(1.0, 0.0), Err(EpochError::ZeroSpan));
        assert_eq!(epoch_of(1.0, -0.0), Err(EpochError::ZeroSpan));
    }

    #[test]
    fn iso_rounds_as_fromtimestamp() {
        for (ts, want) in [
            (0.0, "1970-01-01T00:00:00Z"),
            (-0.0, "1970-01-01T00:00:00Z"),
            (1.5, "1970-01-01T00:00:01.500000Z"),
            (1.0000005, "1970-01-01T00:00:01.000001Z"),
            (1.0000015, "1970-01-01T00:00:01.000001Z"),
            (-0.5, "1969-12-31T23:59:59.500000Z"),
            (-1e-7, "1970-01-01T00:00:00Z"),
            (1_733_561_234.123456, "2024-12-07T08:47:14.123456Z"),
            (1_733_561_234.1234565, "2024-12-07T08:47:14.123456Z"),
            (7_258_118_399.999999, "2199-12-31T23:59:59.999999Z"),
            (31_536_000.0, "1971-01-01T00:00:00Z"),
            (-62_135_596_800.0, "0001-01-01T00:00:00Z"),
        ] {
            assert_eq!(iso_text(ts).as_deref(), Ok(want), "{ts:e}");
        }
        assert_eq!(iso(253_402_300_799.999_999_5), Err(IsoError::Year(10000)));
        assert_eq!(iso(-62_135_596_800.5), Err(IsoError::Year(0)));
        assert_eq!(iso(f64::NAN), Err(IsoError::NaN));
        for ts in [f64::INFINITY, f64::NEG_INFINITY, 1e19, 9.3e18, -9.3e18, 9_223_372_036_854_775_808.0] {
            assert_eq!(iso(ts), Err(IsoError::TimeT), "{ts:e}");
        }
        for ts in [9.2e18, 6.8e16, -9_223_372_036_854_775_808.0] {
            assert_eq!(iso(ts), Err(IsoError::Gmtime), "{ts:e}");
        }
        assert_eq!(iso(6.7e16), Err(IsoError::Year(2_123_147_449)));
        assert_eq!(iso(1e15), Err(IsoError::Year(31_690_708)));
        assert_eq!(iso(-1e15), Err(IsoError::Year(-31_686_769)));
    }
}
