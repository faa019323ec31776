// The compiler flags and environment rules of every Keel contract build: included (not a
// module) by keel-testkit's `build` module and by keel-contracts' build script, so the example
// contracts and a contract author's own contract are built the same way. One source of truth.

/// Link and codegen flags for every contract:
/// - a 32 KiB stack instead of Rust's 1 MiB default, so a fresh instance needs one page of
///   memory instead of 17;
/// - an explicit wasm feature set for our own code (MVP + mutable globals + sign extension + bulk
///   memory), so that a compiler upgrade cannot switch on multi-value or other proposals silently.
///   (The precompiled `core`/`alloc` can still carry reference-types encodings, e.g. an over-long
///   `call_indirect` table index; the engine accepts reference types.)
pub const WASM_FLAGS: &[&str] = &[
    "-Clink-arg=-zstack-size=32768",
    "-Ctarget-cpu=mvp",
    "-Ctarget-feature=+mutable-globals,+sign-ext,+bulk-memory",
];

/// Whether an environment variable of the outer build must not reach the inner wasm build:
/// the outer build's flags, wrappers (clippy, coverage), target dir and profile overrides.
pub fn strip_env_for_wasm_build(key: &str) -> bool {
    matches!(
        key,
        "RUSTFLAGS"
            | "CARGO_ENCODED_RUSTFLAGS"
            | "RUSTDOCFLAGS"
            | "CARGO_ENCODED_RUSTDOCFLAGS"
            | "RUSTC_WRAPPER"
            | "RUSTC_WORKSPACE_WRAPPER"
            | "CARGO_TARGET_DIR"
            | "CARGO_MAKEFLAGS"
            | "MAKEFLAGS"
            | "MFLAGS"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
    ) || key.starts_with("CARGO_BUILD_")
        || key.starts_with("CARGO_PROFILE_")
        || key.starts_with("CARGO_TARGET_")
        || key.starts_with("CARGO_CFG_")
        || key.starts_with("CARGO_FEATURE_")
        || key.starts_with("CARGO_LLVM_COV")
}
