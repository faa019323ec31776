# A Keel contract project, made by `keel new {{name}}`.
#
# - `contract/` is the contract: a `cdylib` for wasm32-unknown-unknown (and an `rlib`, so the
#   tests can use its types). `#![cfg_attr(target_arch = "wasm32", no_std)]` keeps host
#   `cargo check`, clippy and rust-analyzer working.
# - `tests/` runs the contract's real wasm in keel-testkit: `cargo test`. The tests build the wasm
#   from the current source first (`keel_testkit::build_wasm`), so they never test a stale file.
#
# `keel` is a symlink to your Keel checkout. The dependencies go through it, inside this
# workspace, so cargo's metadata hashes, and with them the wasm bytes and code hashes, do not
# depend on where either is checked out.
[workspace]
resolver = "3"
members = ["contract", "tests"]
# Keel's crates belong to Keel's workspace (their versions, lints and editions come from it).
exclude = ["keel"]

[workspace.package]
version = "0.1.0"
edition = "2024"
publish = false

[workspace.dependencies]
# The SDK by the path Keel's own workspace names it (keel-testkit depends on that one).
keel-sdk = { path = "keel/contracts/examples/sdk" }
keel-testkit = { path = "keel/contracts/testkit" }
parity-scale-codec = { version = "3.7", default-features = false, features = ["derive"] }
{{name}} = { path = "contract" }

# The wasm: small code (contracts are uploaded, validated and cached per byte; deploy gas is
# per byte). `keel_testkit::build_wasm` and `keel build` build with this profile.
[profile.release]
opt-level = "z"
lto = true
panic = "abort"
strip = true
codegen-units = 1
debug = false
incremental = false

# Host tests: the interpreter and the other dependencies optimised, your own code not.
[profile.dev.package."*"]
opt-level = 2
debug = false
