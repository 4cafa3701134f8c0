//! ns per call, in Rust alone, of the pieces the detector's core will call per detection or event:
//! `cargo run --release --example bench_pieces` (docs/engine.md quotes what it printed).

use std::hint::black_box;
use std::time::Instant;

use _engine::country::country_of;
use _engine::record::{Alert, Ev};

fn best<F: FnMut()>(n: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn tollguard_iso(t: f64) -> String {
    _engine::ids::iso_text(t).unwrap()
}

fn main() {
    let mut x: u32 = 2_463_534_242;
    let ips: Vec<String> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            std::net::Ipv4Addr::from(x).to_string()
        })
        .collect();
    let ns = best(ips.len(), || {
        for ip in &ips {
            black_box(country_of(black_box(ip)));
        }
    });
    println!("country_of (text in): {ns:.0} ns");

    let alert = Alert {
        alert_id: "90d454181a0da2ef9f9e".into(), ts: 1.7e9, tenant: "default".into(), rule: "registration_lockout".into(),
        severity: "alert".into(), subject_type: "ip".into(), subject: "203.0.113.9".into(),
        summary: "Extension Registration Blocked Out: 12 failed registrations from 203.0.113.9 in 600 s".into(),
        evidence: vec![
            ("failures".into(), Ev::Int(12)),
            ("seconds".into(), Ev::Int(600)),
            ("accounts".into(), Ev::List(vec![Ev::Str("1001".into()), Ev::Str("1002".into()), Ev::Str("1003".into())])),
            ("user_agent".into(), Ev::Str("friendly-scanner".into())),
        ],
        mode: "enforce".into(),
    };
    let mut buf = Vec::with_capacity(512);
    let n = 200_000;
    let ns = best(n, || {
        for k in 0..n {
            buf.clear();
            let mut a = alert.clone();
            a.ts += k as f64 * 0.37;
            a.write(&mut buf).unwrap();
            black_box(&buf);
        }
    });
    println!("Alert written (a clone of the record included): {ns:.0} ns");
    let ns = best(n, || {
        for _ in 0..n {
            buf.clear();
            alert.write(&mut buf).unwrap();
            black_box(&buf);
        }
    });
    println!("Alert written (the same record): {ns:.0} ns");
    let ns = best(n, || {
        for k in 0..n {
            black_box(tollguard_iso(1.7e9 + k as f64 * 0.37));
        }
    });
    println!("iso_text: {ns:.0} ns");
}
