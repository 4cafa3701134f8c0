//! The anomaly model's per-extension features: a port of `models/features.py`'s
//! `ExtensionFeatures.update`, which folds one completed outbound call (`CallFacts`, made in Python by
//! `call_facts`: it needs the number plan and the rate tables) into an extension's `Features` state and
//! gives the feature vector after it. Not yet used by the detector (issue 29.4).
//!
//! Every float is the reference's, bit for bit: the same IEEE operations in the same order (a bool is
//! added as `0.0` or `1.0`, as `float + bool` does, so a `-0.0` sum becomes `0.0` either way); the decay
//! factors are `exp(-dt / tau)` through the platform libm, as CPython's `math.exp` (on Linux both call
//! glibc's `exp`); Python's two-argument `max(a, b)` is `b if b > a else a` (`py_max`: the first argument
//! on a tie, a NaN second argument never wins, a NaN first argument always stays), and `min(d, key=d.get)`
//! the first key of the least value in insertion order. A NaN's bits too: an IEEE operation with a NaN in
//! it, or an invalid one (`inf - inf`, `0 * inf`), gives the NaN the x86-64 hardware gives for Python's
//! operand order (`add`, `mul`, `div` below; Rust leaves NaN bits to LLVM, which may swap the operands of
//! `+` and `*`). Of two NaNs that is the first operand's, which is what CPython 3.11 computes once the
//! reference's code is warm (its specialised `BINARY_OP_ADD_FLOAT`, `MULTIPLY_FLOAT`), not in the first
//! few calls of a process (the generic `float_add`, `float_mul`, built by gcc with the operands swapped,
//! give the second's). Only a state already holding a NaN summed with a NaN talk time or cost meets it.
//!
//! A destination is `zlib.crc32` of its UTF-8 text masked to 31 bits, stable across processes. `recent` and `countries` are dicts in insertion order
//! (`Dict`): an existing key keeps its place, a new one goes last, a removed one leaves the rest in order.
//!
//! `mx` keeps msgspec's identity rule for its default (`Float0`): while no call's talk time has beaten it,
//! a state that never held one still omits it, as Python's `max(st.mx, c.billsec)` returns the default
//! object itself.
//!
//! Where the reference raises, `update` returns an error: `Index` for an `s1` shorter than 2 or an `s24`
//! shorter than 8 (IndexError), `ZeroDivision` when the decayed call count plus one is zero
//! (ZeroDivisionError: a state no call sequence leaves). The state is then partly updated, as the
//! reference's is; neither is meant to be used after.

use crate::event::fmt::crc32;
use crate::state::{Features, Float0};

/// The two time constants, seconds.
pub const H1: f64 = 3600.0;
pub const H24: f64 = 86400.0;
/// Destinations kept in `recent` (the least recent goes first).
pub const MAX_RECENT_DST: usize = 64;
/// Destinations kept in `seen` (the oldest goes first).
pub const MAX_SEEN: usize = 512;
/// The length of the feature vector (`models.features.FEATURES`).
pub const WIDTH: usize = 12;

/// `models.features.CallFacts`: what the features need to know about one completed outbound call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFacts {
    /// Call start, epoch seconds.
    pub ts: f64,
    /// E.164 when known, else as dialled.
    pub dst: String,
    pub country: Option<String>,
    pub international: bool,
    /// Premium rate, shared cost, or an unallocated international range.
    pub premium: bool,
    /// Outside the tenant's business hours.
    pub offhours: bool,
    pub billsec: f64,
    pub cost: f64,
    pub failed: bool,
}

/// Where the reference raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeaturesError {
    /// IndexError: `s1` or `s24` too short.
    Index,
    /// ZeroDivisionError: the call count after the call is zero.
    ZeroDivision,
}

/// Python's `max(a, b)` of two floats.
#[inline]
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// The NaN CPython's `a <op> b` gives when the IEEE result is a NaN. Rust (LLVM) leaves a NaN's sign and
/// payload unspecified and may swap the operands of `+` and `*`, so the hardware's rule is spelled out here.
/// x86-64 (SSE, as CPython's `a + b` compiles: `a` the first source): a NaN operand comes back quieted, the
/// first one if both are; an invalid operation on numbers (`inf - inf`, `0 * inf`, `0 / 0`) gives the
/// "indefinite" NaN, sign bit set. Elsewhere, AArch64's rule: a signalling NaN before a quiet one, then the
/// first; the default NaN positive (only x86-64 is tested against CPython).
#[cold]
fn nan_of(a: f64, b: f64) -> f64 {
    const QUIET: u64 = 0x0008_0000_0000_0000;
    let quiet = |x: f64| f64::from_bits(x.to_bits() | QUIET);
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        if a.is_nan() {
            quiet(a)
        } else if b.is_nan() {
            quiet(b)
        } else {
            f64::from_bits(0xFFF8_0000_0000_0000)
        }
    } else {
        let signalling = |x: f64| x.is_nan() && x.to_bits() & QUIET == 0;
        match () {
            _ if signalling(a) => quiet(a),
            _ if signalling(b) => quiet(b),
            _ if a.is_nan() => a,
            _ if b.is_nan() => b,
            _ => f64::from_bits(0x7FF8_0000_0000_0000),
        }
    }
}

/// Python's `a + b` of two floats, NaN bits included.
#[inline]
fn add(a: f64, b: f64) -> f64 {
    let r = a + b;
    if r.is_nan() {
        nan_of(a, b)
    } else {
        r
    }
}

/// Python's `a * b` of two floats, NaN bits included.
#[inline]
fn mul(a: f64, b: f64) -> f64 {
    let r = a * b;
    if r.is_nan() {
        nan_of(a, b)
    } else {
        r
    }
}

/// Python's `a / b` of two floats (ZeroDivisionError for a zero `b`), NaN bits included.
#[inline]
fn div(a: f64, b: f64) -> Result<f64, FeaturesError> {
    if b == 0.0 {
        return Err(FeaturesError::ZeroDivision);
    }
    let r = a / b;
    Ok(if r.is_nan() { nan_of(a, b) } else { r })
}

#[inline]
fn as_float(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// A destination's key in `seen` and `recent`: `zlib.crc32(dst.encode()) & 0x7FFFFFFF`.
pub fn dst_hash(dst: &str) -> i128 {
    i128::from(crc32(dst.as_bytes()) & 0x7FFF_FFFF)
}

/// `ExtensionFeatures.update(st, c)`: fold the call into the state; the feature vector after it.
pub fn update(st: &mut Features, c: &CallFacts) -> Result<[f64; WIDTH], FeaturesError> {
    let last = st.t;
    let dt = match last {
        None => 0.0,
        Some(l) => py_max(0.0, c.ts - l),
    };
    st.t = Some(py_max(c.ts, last.unwrap_or(c.ts)));
    if dt > 0.0 {
        let k1 = (-dt / H1).exp();
        let k24 = (-dt / H24).exp();
        st.s1.iter_mut().for_each(|v| *v = mul(*v, k1));
        st.s24.iter_mut().for_each(|v| *v = mul(*v, k24));
        st.mx = Float0(Some(py_max(mul(st.mx.get(), k24), c.billsec)));
    } else if c.billsec > st.mx.get() {
        st.mx = Float0(Some(c.billsec)); // else `max` returns st.mx itself (the default object, maybe)
    }
    let h = dst_hash(&c.dst);
    let new = !st.seen.contains(&h);
    if new {
        st.seen.push(h);
        if st.seen.len() > MAX_SEEN {
            let over = st.seen.len() - MAX_SEEN;
            st.seen.drain(..over);
        }
    }
    let recent = &mut st.recent.0;
    match recent.iter_mut().find(|(k, _)| *k == h) {
        Some(slot) => slot.1 = c.ts,
        None => recent.push((h, c.ts)),
    }
    while recent.len() > MAX_RECENT_DST {
        // min(recent, key=recent.get): the first of the least, a later one only if strictly less
        let mut at = 0;
        for i in 1..recent.len() {
            if recent[i].1 < recent[at].1 {
                at = i;
            }
        }
        recent.remove(at);
    }
    if let Some(country) = c.country.as_deref().filter(|s| !s.is_empty()) {
        let countries = &mut st.countries.0;
        match countries.iter_mut().find(|(k, _)| k == country) {
            Some(slot) => slot.1 = c.ts,
            None => countries.push((country.to_string(), c.ts)),
        }
    }
    if st.s1.len() < 2 || st.s24.len() < 8 {
        return Err(FeaturesError::Index);
    }
    let s1 = &mut st.s1;
    s1[0] = add(s1[0], 1.0);
    s1[1] = add(s1[1], c.cost);
    let s24 = &mut st.s24;
    s24[0] = add(s24[0], 1.0);
    s24[1] = add(s24[1], as_float(c.international));
    s24[2] = add(s24[2], as_float(c.premium));
    s24[3] = add(s24[3], as_float(c.offhours));
    s24[4] = add(s24[4], c.billsec);
    s24[5] = add(s24[5], as_float(new));
    s24[6] = add(s24[6], as_float(c.failed));
    s24[7] = add(s24[7], as_float(!c.failed));
    let calls24 = s24[0];
    let near1 = st.recent.0.iter().filter(|(_, t)| c.ts - t < H1).count() as f64;
    let near24 = st.countries.0.iter().filter(|(_, t)| c.ts - t < H24).count() as f64;
    Ok([
        s1[0],
        calls24,
        near1,
        near24,
        div(s24[1], calls24)?,
        div(s24[2], calls24)?,
        div(s24[3], calls24)?,
        if s24[7] > 1e-9 { div(s24[4], s24[7])? } else { 0.0 }, // max(s24[7], 1e-9) is s24[7] there
        st.mx.get(),
        s1[1],
        div(s24[5], calls24)?,
        div(s24[6], calls24)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Codec, Reader};

    /// `ExtensionFeatures.update` on a fresh `Features()` for each call of `seq()`, in Python: the vectors
    /// (`repr`) and `msgspec.msgpack.encode(st).hex()` after each call.
    const SEQ_VECS: [[f64; WIDTH]; 6] = [
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        [2.0, 2.0, 1.0, 1.0, 1.0, 0.0, 0.5, 30.5, 30.5, 0.12, 0.5, 0.5],
        [2.692845886957083, 2.9861534780004484, 2.0, 2.0, 1.0, 0.3348789696735909, 0.33256051516320456, 21.217868691157346, 30.28884053950684, 1.851570753217425, 0.6674394848367954, 0.33256051516320456],
        [3.692845886957083, 3.9861534780004484, 3.0, 2.0, 1.0, 0.2508684137525042, 0.24913158624749585, 80.94975894952779, 200.0, 4.851570753217425, 0.7508684137525041, 0.24913158624749585],
        [1.499772344060497, 4.667438243289563, 1.0, 3.0, 1.0, 0.19711978320272006, 0.41000536209917154, 82.76545587997852, 184.00888292586467, 0.6665887020291467, 0.8042449285046116, 0.41000536209917154],
        [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1e+300, 0.0, 0.0],
    ];
    const SEQ_STATES: [&str; 6] = [
        "86a174cb408f400000000000a2733192cb3ff0000000000000cb0000000000000000a373323498cb3ff0000000000000cb3ff0000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb3ff0000000000000cb3ff0000000000000cb0000000000000000a47365656e91ce38cebcf0a6726563656e7481ce38cebcf0cb408f400000000000a9636f756e747269657381a24742cb408f400000000000",
        "87a174cb408f400000000000a2733192cb4000000000000000cb3fbeb851eb851eb8a373323498cb4000000000000000cb4000000000000000cb0000000000000000cb3ff0000000000000cb403e800000000000cb3ff0000000000000cb3ff0000000000000cb3ff0000000000000a26d78cb403e800000000000a47365656e91ce38cebcf0a6726563656e7481ce38cebcf0cb408f400000000000a9636f756e747269657381a24742cb408f400000000000",
        "87a174cb4099010000000000a2733192cb40058af2c8cd30b6cb3ffda008a774c868a373323498cb4007e3a46f46c9e5cb4007e3a46f46c9e5cb3ff0000000000000cb3fefc748de8d93cacb404524f8ba0f786ecb3fffe3a46f46c9e5cb3fefc748de8d93cacb3fffe3a46f46c9e5a26d78cb403e49f1741ef0dda47365656e92ce38cebcf0ce36216ebaa6726563656e7482ce38cebcf0cb408f400000000000ce36216ebacb4099010000000000a9636f756e747269657382a24742cb408f400000000000a24445cb4099010000000000",
        "87a174cb4099010000000000a2733192cb400d8af2c8cd30b6cb4013680229dd321aa373323498cb400fe3a46f46c9e5cb400fe3a46f46c9e5cb3ff0000000000000cb3fefc748de8d93cacb406e493e2e83de1ccb4007f1d237a364f2cb3fefc748de8d93cacb4007f1d237a364f2a26d78cb4069000000000000a47365656e93ce38cebcf0ce36216ebace0dc78037a6726563656e7483ce38cebcf0cb408f400000000000ce36216ebacb4099010000000000ce0dc78037cb4097700000000000a9636f756e747269657382a24742cb408f400000000000a24445cb4099010000000000",
        "87a174cb40c1302000000000a2733192cb3ff7ff114912f626cb3fe554b1d463250fa373323498cb4012ab74ee4c1d0ccb4012ab74ee4c1d0ccb3fed7100fbf669bdcb3ffe9e695e9d053acb406c7d53ec3379d0cb400e07b52d49b77bcb3ffe9e695e9d053acb400607b52d49b77ba26d78cb40670048c4d8829ca47365656e94ce38cebcf0ce36216ebace0dc78037ce3e4282eea6726563656e7484ce38cebcf0cb408f400000000000ce36216ebacb4099010000000000ce0dc78037cb4097700000000000ce3e4282eecb40c1302000000000a9636f756e747269657383a24742cb408f400000000000a24445cb4099010000000000a25553cb40c1302000000000",
        "87a174cb41cdcd7630200000a2733192cb3ff0000000000000cb7e37e43c8800759ca373323498cb3ff0000000000000cb0000000000000000cb3ff0000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb3ff0000000000000a26d78cb0000000000000000a47365656e94ce38cebcf0ce36216ebace0dc78037ce3e4282eea6726563656e7484ce38cebcf0cb41cdcd7630200000ce36216ebacb4099010000000000ce0dc78037cb4097700000000000ce3e4282eecb40c1302000000000a9636f756e747269657383a24742cb41cdcd7630200000a24445cb4099010000000000a25553cb40c1302000000000",
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn encode(st: &Features) -> Vec<u8> {
        let mut w = Vec::new();
        st.write(&mut w);
        w
    }

    #[allow(clippy::too_many_arguments)]
    fn facts(ts: f64, dst: &str, country: &str, international: bool, premium: bool, offhours: bool, billsec: f64, cost: f64, failed: bool) -> CallFacts {
        CallFacts { ts, dst: dst.into(), country: Some(country.into()), international, premium, offhours, billsec, cost, failed }
    }

    /// A call with no talk time first (mx stays the default: omitted), the same instant again, a later call,
    /// one out of time order (no decay; an empty country), two hours later, then 1e9 s later (the factors
    /// underflow to 0.0; a cost of 1e300).
    fn seq() -> Vec<CallFacts> {
        vec![
            facts(1000.0, "+442079460000", "GB", true, false, false, 0.0, 0.0, true),
            facts(1000.0, "+442079460000", "GB", true, false, true, 30.5, 0.12, false),
            facts(1600.25, "+4930123456", "DE", true, true, false, 12.0, 1.75, false),
            facts(1500.0, "+33123456789", "", true, false, false, 200.0, 3.0, false),
            facts(1600.25 + 7200.0, "+12025550123", "US", true, false, true, 5.0, 0.01, true),
            facts(1600.25 + 7200.0 + 1e9, "+442079460000", "GB", false, true, false, 0.0, 1e300, false),
        ]
    }

    #[test]
    fn a_sequence_gives_python_s_vectors_and_state_bit_for_bit() {
        let mut st = Features::default();
        for (i, c) in seq().iter().enumerate() {
            let v = update(&mut st, c).unwrap();
            assert_eq!(v.map(f64::to_bits), SEQ_VECS[i].map(f64::to_bits), "call {i}: {v:?}");
            assert_eq!(encode(&st), unhex(SEQ_STATES[i]), "call {i}");
        }
    }

    #[test]
    fn the_state_read_back_continues_the_same() {
        let calls = seq();
        for i in 0..calls.len() - 1 {
            let raw = unhex(SEQ_STATES[i]);
            let mut r = Reader::new(&raw);
            let mut st = Features::read(&mut r).unwrap();
            assert!(r.at_end());
            assert_eq!(encode(&st), raw);
            let v = update(&mut st, &calls[i + 1]).unwrap();
            assert_eq!(v.map(f64::to_bits), SEQ_VECS[i + 1].map(f64::to_bits));
            assert_eq!(encode(&st), unhex(SEQ_STATES[i + 1]));
        }
    }

    #[test]
    fn exp_is_math_exp() {
        // (dt, math.exp(-dt / 3600.0), math.exp(-dt / 86400.0)) in CPython on glibc
        let cases = [
            (1.0, 0.9997222607988971, 0.9999884259929053),
            (600.25, 0.8464229434785415, 0.9930767390002242),
            (7200.0, 0.1353352832366127, 0.9200444146293233),
            (1e9, 0.0, 0.0),
            (1e-300, 1.0, 1.0),
            (86399.999, 3.7751355929277343e-11, 0.3678794454293063),
        ];
        for (dt, k1, k24) in cases {
            let dt: f64 = std::hint::black_box(dt); // the libm call at run time, not a constant folded
            assert_eq!((-dt / H1).exp().to_bits(), f64::to_bits(k1), "{dt}");
            assert_eq!((-dt / H24).exp().to_bits(), f64::to_bits(k24), "{dt}");
        }
    }

    #[test]
    fn destinations_hash_as_zlib_crc32_31_bits() {
        assert_eq!(dst_hash("+442079460000"), 953072880);
        assert_eq!(dst_hash(""), 0);
        assert_eq!(dst_hash("日本\u{1F600}"), 237342341);
    }

    #[test]
    fn past_the_bounds_the_oldest_go() {
        // 520 calls to distinct numbers, the first 70 at 100 + (i % 70) * 0.5, then at 100 + i: in Python,
        // seen keeps the last 512 and recent the 64 latest.
        let mut st = Features::default();
        let mut v = [0.0; WIDTH];
        for i in 0..520 {
            let ts = if i < 70 { 100.0 + f64::from(i % 70) * 0.5 } else { 100.0 + f64::from(i) };
            let c = CallFacts { ts, dst: format!("+1555{i:07}"), country: None, international: false, premium: false,
                                offhours: false, billsec: 1.0, cost: 0.0, failed: false };
            v = update(&mut st, &c).unwrap();
        }
        let want = [483.96326752591995, 518.4274224004013, 64.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
        assert_eq!(v.map(f64::to_bits), want.map(f64::to_bits));
        assert_eq!((st.seen.len(), st.seen[0], st.seen[511]), (512, 1929328024, 438892196));
        assert_eq!((st.recent.0.len(), st.recent.0[0]), (64, (1866023942, 556.0)));
        assert_eq!(encode(&st).len(), 3597);
    }

    #[test]
    fn the_least_recent_goes_first_on_a_tie() {
        let mut st = Features::default();
        st.recent.0 = (0..64).map(|k| (k, if k == 5 || k == 9 { 1.0 } else { 2.0 })).collect();
        st.recent.0[0].1 = f64::NAN; // min(...) starts from the first: a NaN there is never beaten
        let c = CallFacts { ts: 3.0, dst: "x".into(), country: None, international: false, premium: false,
                            offhours: false, billsec: 0.0, cost: 0.0, failed: false };
        update(&mut st, &c).unwrap();
        assert_eq!(st.recent.0.len(), 64);
        assert_eq!(st.recent.0[0].0, 1);
        st.recent.0[0].1 = 0.5;
        update(&mut st, &CallFacts { dst: "y".into(), ..c }).unwrap();
        assert_eq!(st.recent.0.iter().map(|e| e.0).take(5).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
        update(&mut st, &CallFacts { dst: "z".into(), ts: 3.0, country: None, international: false, premium: false,
                                     offhours: false, billsec: 0.0, cost: 0.0, failed: false }).unwrap();
        assert!(!st.recent.0.iter().any(|e| e.0 == 5) && st.recent.0.iter().any(|e| e.0 == 9));
    }

    #[test]
    fn nan_bits_are_warm_cpython_s_on_x86_64() {
        // (op, a, b, the bits of a <op> b) in CPython 3.11 on x86-64 with the code warm (specialised)
        let cases: [(&str, u64, u64, u64); 10] = [
            ("add", 0xfff8000000000000, 0x7ff8000000000000, 0xfff8000000000000),
            ("add", 0x3ff0000000000000, 0xfff8000000000000, 0xfff8000000000000),
            ("add", 0x7ff0000000000000, 0xfff0000000000000, 0xfff8000000000000),
            ("add", 0x7ff0000000000001, 0x3ff0000000000000, 0x7ff8000000000001),
            ("add", 0x7ff8000000000005, 0x7ff0000000000009, 0x7ff8000000000005),
            ("mul", 0x3ff0000000000000, 0xfff0000000000002, 0xfff8000000000002),
            ("mul", 0x0000000000000000, 0x7ff0000000000000, 0xfff8000000000000),
            ("mul", 0xfff4000000000000, 0x7ff8000000000001, 0xfffc000000000000),
            ("div", 0x7ff0000000000000, 0xfff0000000000000, 0xfff8000000000000),
            ("div", 0x7ff8000000000000, 0xfff8000000000003, 0x7ff8000000000000),
        ];
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        for (op, a, b, want) in cases {
            let (a, b) = std::hint::black_box((f64::from_bits(a), f64::from_bits(b)));
            let got = match op {
                "add" => add(a, b),
                "mul" => mul(a, b),
                _ => div(a, b).unwrap(),
            };
            assert_eq!(got.to_bits(), want, "{op} {:x} {:x}", a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn where_python_raises() {
        let c = seq()[0].clone();
        let mut st = Features { s1: vec![0.0], ..Features::default() };
        assert_eq!(update(&mut st, &c), Err(FeaturesError::Index));
        let mut st = Features { s24: vec![0.0; 7], ..Features::default() };
        assert_eq!(update(&mut st, &c), Err(FeaturesError::Index));
        let mut st = Features { s24: vec![-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], ..Features::default() };
        assert_eq!(update(&mut st, &c), Err(FeaturesError::ZeroDivision));
    }
}
