//! Per-key window state, ported from `streams/state/timeset.py` and `streams/state/valuewindow.py`.
//!
//! Bit-for-bit the reference: the same f64 comparisons (`<`, `>`, `==` as Python's floats), the
//! binary searches written as Python's `bisect` writes them (so equal times, -0.0 and even a NaN
//! land where the reference puts them), and the same JSON as msgspec writes for the `array_like`
//! Structs (`to_json`), so a changelog can be read by either side. Not yet used by the detector.

mod intervals;
mod timeset;
mod valuewindow;

pub use intervals::Intervals;
pub use timeset::{cut, slot, TimeSet};
pub use valuewindow::{Kind, ValueWindow};

use std::fmt;
use std::io;

/// Python's `bisect.bisect_left(a, x, lo)`: the first index whose item is not `< x`.
pub fn bisect_left(a: &[f64], x: f64, mut lo: usize) -> usize {
    let mut hi = a.len();
    while lo < hi {
        let mid = (lo + hi) / 2;
        if a[mid] < x {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Python's `bisect.bisect_right(a, x, lo, hi)`: the first index whose item is `> x`.
pub fn bisect_right(a: &[f64], x: f64, mut lo: usize, mut hi: usize) -> usize {
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// An operation the reference refuses with an exception (Python's ZeroDivisionError, ValueError or
/// OverflowError of `math.floor`, IndexError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowError(pub String);

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WindowError {}

/// A float as msgspec's JSON encoder writes it: the shortest digits that read back as the same
/// float; fixed notation (with `.0` when integral) for decimal exponents -5..=15, otherwise
/// `d.ddde±x` without a `+`; `null` for inf and NaN (which msgspec will not read back as a float).
pub fn msgspec_float(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_string();
    }
    let neg = x.is_sign_negative();
    let (digits, exp) = shortest_digits(x);
    let mant = match digits.len() {
        1 => digits.clone(),
        _ => format!("{}.{}", &digits[..1], &digits[1..]),
    };
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if (-5..=15).contains(&exp) {
        let n = digits.len() as i32;
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else if exp + 1 >= n {
            out.push_str(&digits);
            for _ in 0..(exp + 1 - n) {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
    } else {
        out.push_str(&mant);
        out.push('e');
        out.push_str(&exp.to_string());
    }
    out
}

/// The shortest decimal digits of a finite `|x|` that read back as `x`, and the decimal exponent of
/// the first digit (`1.5e-7` is `("15", -7)`), picking the even digit when two are as short and as
/// near, as msgspec and Python's repr do.
pub fn shortest_digits(x: f64) -> (String, i32) {
    let sci = format!("{:e}", x.abs()); // shortest round-trip digits: "1.2345e-7"
    let (mant, exp) = sci.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    (halfway_to_even(x.abs(), mant.chars().filter(|c| *c != '.').collect(), exp), exp)
}

/// When the value lies exactly halfway between Rust's shortest digits and the ones a unit below or
/// above in the last place (both read back as the same float), take the even last digit, as
/// msgspec and Python's repr do (2**46 + 0.625 is 70368744177664.62, where Rust writes .63).
fn halfway_to_even(x: f64, digits: String, exp: i32) -> String {
    let n = digits.len();
    let last = digits.as_bytes()[n - 1] - b'0';
    if last % 2 == 0 {
        return digits;
    }
    let exact = || {
        let full = format!("{x:.800e}"); // every digit of the binary value, then zeros
        let (m, _) = full.split_once('e').expect("LowerExp writes an exponent");
        m.replace('.', "").trim_end_matches('0').to_string()
    };
    for other in [last - 1, last + 1] {
        if other > 9 || (other == 0 && n > 1) {
            continue;
        }
        let cand = format!("{}{}", &digits[..n - 1], other);
        let as_float: f64 = format!("{}.{}e{}", &cand[..1], &cand[1..], exp).parse().unwrap_or(f64::NAN);
        if as_float != x {
            continue;
        }
        let low = if other < last { &cand } else { &digits };
        if exact() == format!("{low}5") {
            return cand; // halfway, and cand's last digit is the even one
        }
    }
    digits
}

/// serde_json's compact formatter with floats written as msgspec writes them.
struct MsgspecFormatter;

impl serde_json::ser::Formatter for MsgspecFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(msgspec_float(value).as_bytes())
    }
}

/// `msgspec.json.encode(window)`, byte for byte.
pub fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, MsgspecFormatter);
    value.serialize(&mut ser).expect("windows always serialize");
    out
}

/// `msgspec.json.decode(data, type=Window)`.
pub fn from_json<'a, T: serde::Deserialize<'a>>(data: &'a [u8]) -> Result<T, WindowError> {
    serde_json::from_slice(data).map_err(|e| WindowError(e.to_string()))
}

/// The columns of an `array_like` Struct read from a JSON array: as msgspec does, trailing
/// columns may be missing (their default, an empty list) and extra ones are ignored.
macro_rules! array_like {
    ($ty:ident, $n:literal, $($field:ident: $fty:ty),+) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let mut t = s.serialize_tuple($n)?;
                $(t.serialize_element(&self.$field)?;)+
                t.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "an array of up to {} lists ({})", $n, stringify!($ty))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
                        let mut out = $ty::default();
                        let mut done = false;
                        $(
                            if !done {
                                match seq.next_element::<$fty>()? {
                                    Some(v) => out.$field = v,
                                    None => done = true,
                                }
                            }
                        )+
                        if !done {
                            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                        }
                        Ok(out)
                    }
                }
                d.deserialize_seq(V)
            }
        }
    };
}
pub(crate) use array_like;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_msgspec_writes_them() {
        let cases = [
            (1e18, "1e18"), (5.0, "5.0"), (1e-7, "1e-7"), (1.5e300, "1.5e300"), (0.1, "0.1"),
            (123456789.123, "123456789.123"), (-0.0, "-0.0"), (1e16, "1e16"), (1e15, "1000000000000000.0"),
            (1e-5, "0.00001"), (1.234567e-5, "0.00001234567"), (1e-6, "1e-6"), (1234567e6, "1234567000000.0"),
            (9999999999999998.0, "9999999999999998.0"), (5e-324, "5e-324"), (-2.5, "-2.5"),
            (f64::INFINITY, "null"), (f64::NAN, "null"), (0.0, "0.0"), (1.7976931348623157e308, "1.7976931348623157e308"),
            (2f64.powi(46) + 0.625, "70368744177664.62"), (-(2f64.powi(46) + 0.625), "-70368744177664.62"), (2.5, "2.5"),
        ];
        for (x, want) in cases {
            assert_eq!(msgspec_float(x), want, "{x:?}");
        }
    }

    #[test]
    fn floats_read_exactly() {
        // serde_json's default parser is off by an ulp here; float_roundtrip reads it as Python does
        let s: crate::window::TimeSet = from_json(b"[[2.9721613898651967e-288],[1]]").unwrap();
        assert_eq!(s.t[0].to_bits(), 2.9721613898651967e-288f64.to_bits());
        assert_eq!(to_json(&s), b"[[2.9721613898651967e-288],[1]]");
    }

    #[test]
    fn bisect_is_pythons() {
        let a = [1.0, 2.0, 2.0, 2.0, 3.0];
        assert_eq!(bisect_left(&a, 2.0, 0), 1);
        assert_eq!(bisect_right(&a, 2.0, 0, a.len()), 4);
        assert_eq!(bisect_left(&a, 2.0, 3), 3);
        assert_eq!(bisect_right(&a, 2.0, 0, 2), 2);
        assert_eq!(bisect_left(&a, f64::NAN, 0), 0); // nothing is < NaN
        assert_eq!(bisect_right(&a, f64::NAN, 0, a.len()), 5); // NaN is < nothing
    }
}
