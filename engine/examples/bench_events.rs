//! ns per event of the Rust event decoder, pure Rust (no Python): `decode_event_bytes`, then
//! `event_time` and `event_ident`, as the detector will call them. Not a test:
//! `cargo run --release --example bench_events -- /tmp/sim2/events.jsonl` (one event per line).

use std::hint::black_box;
use std::time::Instant;

use _engine::event::decode_event_bytes;

fn main() {
    let path = std::env::args().nth(1).expect("usage: bench_events EVENTS.jsonl");
    let data = std::fs::read(&path).expect("readable file");
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut best = f64::INFINITY;
    let (mut accepted, mut altered) = (0, 0);
    for _ in 0..7 {
        let (mut ok, mut changed) = (0, 0);
        let t0 = Instant::now();
        for line in &lines {
            if let Ok((ev, out)) = decode_event_bytes(line) {
                ok += 1;
                changed += usize::from(matches!(out, std::borrow::Cow::Owned(_)));
                black_box((ev.time(), ev.ident(), out));
            }
        }
        best = best.min(t0.elapsed().as_nanos() as f64 / lines.len() as f64);
        (accepted, altered) = (ok, changed);
    }
    println!("{} events ({accepted} accepted, {altered} re-encoded): {best:.0} ns per event", lines.len());
}
