//! Keel's fuzz-target logic, as ordinary library functions.
//!
//! Each target is a function `fn(&[u8])` that turns fuzzer bytes into a scenario, runs it and
//! **panics when an invariant breaks**: in this crate a panic is the oracle's verdict, not a
//! bug in the harness. The same functions are driven two ways:
//!
//! - by libFuzzer, through the nightly-only cargo-fuzz project in `fuzz/cargo-fuzz/` (outside
//!   the workspace; see `fuzz/README.md`);
//! - by `cargo test` on stable (`fuzz/tests/replay.rs`), which replays the committed corpus in
//!   `fuzz/corpus/<target>/` and a few thousand inputs from fixed-seed random generators, so
//!   every target runs on every change.
//!
//! Targets:
//! - [`state_model`]: batches of puts, deletes and overlay checkpoints against a `BTreeMap`
//!   model; contents, iteration, roots, proofs (and tampered proofs), reopening.
//! - [`decode`]: arbitrary bytes into every SCALE type that crosses a trust boundary.
//! - [`module`]: wasm-smith modules and raw bytes through validation, deploy and calls.
//! - [`tx_sequence`]: transaction sequences against the example token and counter, with a
//!   model, replays and block regrouping.
//! - [`differential`]: generated modules through Keel and through bare wasmi with identical
//!   fuel costs: results, traps and wasm fuel must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // panicking is how an oracle reports.

pub mod alloc_guard;
pub mod decode;
pub mod differential;
pub mod module;
pub mod state_model;
pub mod tx_sequence;

/// The names of all targets, as used for corpus directories and cargo-fuzz binaries.
pub const TARGETS: &[&str] = &[
    "state_model",
    "decode",
    "module",
    "tx_sequence",
    "differential",
];

/// Runs the target called `name` on `data`. Panics on an unknown name.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "state_model" => state_model::run(data),
        "decode" => decode::run(data),
        "module" => module::run(data),
        "tx_sequence" => tx_sequence::run(data),
        "differential" => differential::run(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// The body of a libFuzzer target: runs `target` on `data` and aborts (which libFuzzer reports
/// as a crash) if it panics.
///
/// libfuzzer-sys installs a panic hook that aborts on *every* panic, even one the code under
/// test catches on purpose (the engine turns a wasmi compiler panic into a validation error
/// with `catch_unwind`). This replaces that hook, once, with the default one, and aborts only
/// for panics that escape the target.
pub fn libfuzzer_entry(target: fn(&[u8]), data: &[u8]) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    if std::panic::catch_unwind(|| target(data)).is_err() {
        std::process::abort();
    }
}
