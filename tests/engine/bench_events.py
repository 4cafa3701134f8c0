"""ns per event of the event contract's decoding, the reference (msgspec) vs the Rust port (not a test:
`.venv/bin/python -m tests.engine.bench_events [EVENTS.jsonl]`, the bench's /tmp/sim2/events.jsonl by
default). Both sides decode, check and clean each line and compute event_time and event_ident (what
intake and the detector ask of every event); the port's figure is one call per batch of lines, as the
worker would make it. The pure-Rust figure: `cargo run --release --example bench_events -- FILE`."""

from __future__ import annotations

import sys
import time

from streams import _engine
from streams.domain.events import decode_event, decode_event_bytes, event_ident, event_time


def per_event(fn, lines: list[bytes], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        fn(lines)
        best = min(best, (time.perf_counter_ns() - t0) / len(lines))
    return best


def reference(lines):
    for raw in lines:
        ev, out = decode_event_bytes(raw)
        event_time(ev), event_ident(ev)


def decode_only(lines):
    for raw in lines:
        decode_event(raw)


def port(lines):
    for k in range(0, len(lines), 1024):
        _engine.decode_events(lines[k:k + 1024], fields=False)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sim2/events.jsonl"
    lines = [line for line in open(path, "rb").read().split(b"\n") if line.strip()]
    print(f"{len(lines)} events from {path}")
    print(f"msgspec decode_event alone              {per_event(decode_only, lines):7.0f} ns per event")
    print(f"reference: decode_event_bytes+time+ident {per_event(reference, lines):7.0f} ns per event")
    print(f"port: decode_events(fields=False)       {per_event(port, lines):7.0f} ns per event")


if __name__ == "__main__":
    main()
