//! Byte vectors written by Python's `streams.shells.worker.statecodec.encode_value` (msgspec 0.23),
//! pasted as hex: each must come back byte for byte; the refusals are values `decode_value` refuses.

use super::msgpack::{self, write_int};
use super::*;

const IP: &str = "86a474797065a469702f35a9696e636964656e747381a3727c7894cb3ff800000000000002a26131cb7ff0000000000000a46c617374cb8000000000000000b5726567697374726174696f6e5f6163636f756e747382cfffffffffffffffffa2c3a9d38000000000000000a4f09d849eb3726567697374726174696f6e5f6c6f636b656481a13793ffcc80d0dfa6637573746f6d81a1639391cb3ff000000000000091cf7fffffffffffffff91d38000000000000000";
const EXT: &str = "de0008a474797065a56578742f35a46c617374cb0000000000000001a563616c6c7381a2633196cb3ff0000000000000c07fa430303434c3c2ab6461696c795f63616c6c7381e09292cb3ff0000000000000cb40000000000000009200ce80000000a7616e6f6d616c7984a2733192cb0000000000000000cb0000000000000000a373323498cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000a26d78cb0000000000000000a5757375616c91cb7ff8000000000000aa6e6578745f74696d6572cb7fe1ccf385ebc8a0b06163636f756e745f74616b656f76657282a672656d6f746595cb3ff0000000000000a7312e322e332e34c0c3c40178a56672657368919181a16101ab7370656e645f6c696d697481a17383a473697a65cb404e000000000000a76275636b657473810392cb3ff0000000000000cb4000000000000000a563616c6c7381ff9401cb400400000000000003a178";
const TRUNK: &str = "84a474797065a77472756e6b2f35a46c69766581a161cb3ff0000000000000a770656e64696e6781a17092cb3ff0000000000000cfffffffffffffffffa4646f6e659491cb400000000000000091cb3ff0000000000000910591cb3ff0000000000000";
const TENANT: &str = "85a474797065a874656e616e742f35a86661696c75726573929090af77616e676972695f696e626f756e6481a2343482a563616c6c73929090a66275727374739194cb3ff0000000000000cb400000000000000091a22b31a22b31af77616e676972695f6469616c6c656481a22b319194cb3ff0000000000000a3313030a163c3aa726f7574655f7363616e81a22b3282a57472696573929090a5666f726d7381a166cb3ff0000000000000";
const LOOSE_IN: &str = "85a46c61737403a474797065a56578742f35a37a7a7a920181a171c0a563616c6c7382a16191cb4008000000000000a16297cb4000000000000000cb3ff000000000000000a0c2c2a56578747261a7616e6f6d616c7982a26d78cb0000000000000000a17402";
const LOOSE_OUT: &str = "de0004a474797065a56578742f35a46c617374cb4008000000000000a563616c6c7382a16196cb4008000000000000c000a0c2c2a16296cb4000000000000000cb3ff000000000000000a0c2c2a7616e6f6d616c7984a174cb4000000000000000a2733192cb0000000000000000cb0000000000000000a373323498cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000a26d78cb0000000000000000";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn python_values_round_trip_byte_for_byte() {
    for (name, scope, hex) in [("IP", "ip", IP), ("EXT", "ext", EXT), ("TRUNK", "trunk", TRUNK), ("TENANT", "tenant", TENANT)] {
        let raw = unhex(hex);
        let st = decode(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(st.scope(), scope);
        assert_eq!(st.encode(), raw, "{name}");
    }
}

#[test]
fn fields_decode_to_their_values() {
    let KeyState::Ip(ip) = decode(&unhex(IP)).unwrap() else { panic!("not ip") };
    assert_eq!(ip.registration_accounts.0[0].0, (1i128 << 64) - 1);
    assert_eq!(ip.registration_accounts.0[1], (-(1i128 << 63), "𝄞".to_string()));
    assert_eq!(ip.registration_locked.0[0].1, vec![-1, 128, -33]);
    assert!(ip.last.unwrap().is_sign_negative());
    assert_eq!(ip.incidents.0[0].1.until, f64::INFINITY);
    let KeyState::Ext(ext) = decode(&unhex(EXT)).unwrap() else { panic!("not ext") };
    assert_eq!(ext.last, Some(5e-324));
    assert_eq!(ext.anomaly.as_ref().unwrap().mx, Float0(Some(0.0)));
    assert_eq!(ext.spend_limit.0[0].1.calls.0[0].1[3], Value::Str("x".into()));
}

#[test]
fn a_loose_value_comes_back_as_msgspec_rewrites_it() {
    // ints and float32 in float fields, a repeated dict key (first place, last value), a short and a
    // long `Call`, an unknown field, the tag after a field
    assert_eq!(roundtrip(&unhex(LOOSE_IN)).unwrap(), unhex(LOOSE_OUT));
}

#[test]
fn ints_take_their_smallest_encoding() {
    for (v, hex) in [
        (0i128, "00"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"), (65536, "ce00010000"),
        (1 << 32, "cf0000000100000000"), ((1 << 64) - 1, "cfffffffffffffffff"), (-1, "ff"), (-32, "e0"),
        (-33, "d0df"), (-129, "d1ff7f"), (-32769, "d2ffff7fff"), (-(1 << 31) - 1, "d3ffffffff7fffffff"),
        (-(1 << 63), "d38000000000000000"),
    ] {
        let mut w = Vec::new();
        write_int(&mut w, v);
        assert_eq!(w, unhex(hex), "{v}");
        assert_eq!(Reader::new(&w).int().unwrap(), v);
    }
}

#[test]
fn refusals() {
    let ip = unhex(IP);
    let mut trailing = ip.clone();
    trailing.push(0);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (unhex("81a474797065a56578742f34"), "schema 'ext/4'"),         // {"type": "ext/4"}
        (unhex("81a474797065a469702f36"), "schema 'ip/6'"),            // {"type": "ip/6"}
        (unhex("81a46c61737401"), "an untagged map"),                  // {"last": 1}
        (unhex("90"), "not a tollguard state record"),
        (unhex("c1"), "not a tollguard state record"),
        (unhex("81a474797065a7636c6f636b2f31"), "a partition's record"), // clock/1
        (ip[..ip.len() - 3].to_vec(), "not a tollguard state record"),
        (trailing, "trailing"),
        (unhex("82a474797065a469702f35a46c617374a178"), "Expected `float`"), // "last": "x"
        (unhex("82a474797065a469702f35a46c617374c3"), "Expected `float`"),   // "last": true
        (unhex("82a474797065a469702f35a474797065a469702f34"), "Invalid value 'ip/4'"),
        (unhex("82a474797065a469702f35b5726567697374726174696f6e5f6163636f756e747381a131a161"), "Expected `int`"),
    ];
    for (raw, want) in cases {
        let err = roundtrip(&raw).expect_err(want);
        assert!(err.0.contains(want), "{want}: {err}");
    }
}

#[test]
fn an_untyped_map_folds_equal_keys_as_python() {
    // pending {"a": [{1: 2, 1.0: 3, True: 4}, {-0.0: 1, 0: 2}, {nan: 1, nan: 2}]}
    let raw = unhex(concat!(
        "82a474797065a77472756e6b2f35a770656e64696e6781a16193",
        "830102cb3ff000000000000003c304",
        "82cb8000000000000000010002",
        "82cb7ff800000000000001cb7ff800000000000002"
    ));
    let KeyState::Trunk(t) = decode(&raw).unwrap() else { panic!() };
    let items = &t.pending.0[0].1;
    assert_eq!(items[0], Value::Map(vec![(Value::Int(1), Value::Int(4))]));
    assert_eq!(items[1], Value::Map(vec![(Value::Float(-0.0), Value::Int(2))]));
    let Value::Map(nans) = &items[2] else { panic!() };
    assert_eq!(nans.len(), 2);
    let want = "83a474797065a77472756e6b2f35a770656e64696e6781a1619381010481cb80000000000000000282cb7ff800000000000001cb7ff800000000000002a4646f6e659490909090";
    assert_eq!(roundtrip(&raw).unwrap(), unhex(want));
}

#[test]
fn timestamps_round_to_microseconds_and_take_the_smallest_layout() {
    // ts96 of 1 s + 500 ns: 1.000001 s, written back as ts64; 1 s + 499 ns: ts32
    for (ext, want) in [
        ("c70cff000001f40000000000000001", "d7ff00000fa000000001"),
        ("c70cff000001f30000000000000001", "d6ff00000001"),
        ("c70cff000001f4ffffffffffffffff", "c70cff000003e8ffffffffffffffff"),
    ] {
        let raw = unhex(&format!("82a474797065a77472756e6b2f35a770656e64696e6781a16191{ext}"));
        let out = roundtrip(&raw).unwrap();
        let want = format!("83a474797065a77472756e6b2f35a770656e64696e6781a16191{want}a4646f6e659490909090");
        assert_eq!(out, unhex(&want), "{ext}");
    }
    let bad = unhex("82a474797065a77472756e6b2f35a770656e64696e6781a16191c70cff3b9aca000000000000000001");
    assert!(roundtrip(&bad).is_err());
}

#[test]
fn windows_convert_to_the_ports_types() {
    let KeyState::Trunk(t) = decode(&unhex(TRUNK)).unwrap() else { panic!() };
    let w = t.done.to_window().unwrap();
    assert_eq!(Intervals::from_window(&w), t.done);
    let mut held = TimeSet { t: vec![1.0, 2.0], ids: vec![7, u64::MAX] };
    let w = held.take_window();
    assert!(held.t.is_empty() && held.ids.is_empty());
    assert_eq!(TimeSet::from_window(w), TimeSet { t: vec![1.0, 2.0], ids: vec![7, u64::MAX] });
}

#[test]
fn repeated_dict_keys_keep_their_first_place_and_last_value() {
    // {"type": "tenant/5", "accounts": {...}} with 40 keys, k0..k19 then k5, k7, k5 again, then more
    let mut keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    keys.extend(["k5", "k7", "k5"].map(String::from));
    keys.extend((20..37).map(|i| format!("k{i}")));
    for n in [keys.len(), 8] {
        let ks: Vec<&String> = if n == 8 { keys[3..6].iter().chain(keys[20..23].iter()).chain(keys[4..6].iter()).collect() } else { keys.iter().collect() };
        let mut raw = unhex("82a474797065a874656e616e742f35a86163636f756e7473");
        raw.push(0xde);
        raw.extend_from_slice(&(ks.len() as u16).to_be_bytes());
        let mut want: Vec<(String, f64)> = Vec::new();
        for (i, k) in ks.iter().enumerate() {
            msgpack::write_str(&mut raw, k);
            msgpack::write_f64(&mut raw, i as f64);
            match want.iter_mut().find(|(held, _)| held == *k) {
                Some(slot) => slot.1 = i as f64,
                None => want.push(((*k).clone(), i as f64)),
            }
        }
        let KeyState::Tenant(t) = decode(&raw).unwrap() else { panic!() };
        assert_eq!(t.accounts.0, want, "{n}");
    }
}
