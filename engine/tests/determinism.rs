//! Determinism across processes, build profiles and time: `examples/determinism.rs` must print
//! the same digest of its block outcomes when run twice in debug and once in release, and that
//! output must equal the one pinned in `tests/determinism.digest` (also what CI checks on
//! i686, aarch64 and s390x: `scripts/cross-determinism.sh`). A deliberate change (gas
//! schedule, fixtures, example contracts) re-pins it: `KEEL_BLESS=1 cargo test -p keel-engine
//! --test determinism`.
//!
//! The nested builds use their own target dir (`target/keel-determinism`) so they never wait
//! on the lock of the `cargo test` that runs this.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn run_example(release: bool) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["run", "-q", "-p", "keel-engine", "--example", "determinism"])
        .env("CARGO_TARGET_DIR", root.join("target/keel-determinism"));
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "example failed (release={release}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn same_block_same_bytes_in_debug_release_and_across_processes() {
    let debug_a = run_example(false);
    let debug_b = run_example(false);
    let release = run_example(true);
    assert!(debug_a.starts_with("digest "), "{debug_a}");
    assert_eq!(debug_a, debug_b, "two debug processes disagree");
    assert_eq!(debug_a, release, "debug and release disagree");

    let pinned = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/determinism.digest");
    if std::env::var_os("KEEL_BLESS").is_some() {
        std::fs::write(&pinned, &debug_a).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&pinned).unwrap();
    assert_eq!(
        debug_a,
        want,
        "the determinism digest differs from {}; if deliberate, rerun with KEEL_BLESS=1",
        pinned.display()
    );
}
