//! tollguard's compiled engine, built by maturin into the private module `streams._engine`.
//!
//! The pure-Rust parts are plain modules tested with `cargo test`; `python.rs` is the only
//! place that knows about Python (the `python` feature, which maturin turns on).

pub mod country;
pub mod emit;
pub mod event;
pub mod features;
pub mod forest;
pub mod ids;
pub mod lifecycle;
pub mod order;
pub mod policy;
pub mod pyheap;
pub mod record;
pub mod rules;
pub mod seclog;
pub mod state;
pub mod window;

#[cfg(feature = "python")]
mod python;
