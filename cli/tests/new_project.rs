//! The README's "Your own contract project" path, end to end: `keel new` in a temporary
//! directory, then the new project's own `cargo test` (offline: its Keel dependencies are path
//! dependencies into this checkout, its registry crates those Keel's `Cargo.lock` already
//! fetched), then `keel build`, `keel check` and `keel deploy` of its wasm.
//!
//! It compiles a whole project (minutes on a fresh target dir), so it is `#[ignore]`d in the
//! ordinary suite; `.ci/run` runs it explicitly under a time bound. The project's target dir is
//! `target/new-project` in this checkout (override: `KEEL_NEW_PROJECT_TARGET`), so later runs
//! are incremental.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn keel(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .current_dir(cwd)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run keel")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the checkout")
        .to_path_buf()
}

#[test]
fn new_rejects_bad_names_and_existing_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let o = keel(tmp.path(), &["new", "Bad Name"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not a usable project name"),
        "{}",
        text(&o)
    );
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let o = keel(tmp.path(), &["new", "taken"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    let o = keel(tmp.path(), &["new", "x", "--keel", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
#[ignore = "builds a whole project (minutes); run by .ci/run"]
fn a_new_project_tests_builds_and_deploys() {
    let tmp = tempfile::tempdir().unwrap();
    let o = keel(tmp.path(), &["new", "my-escrow"]);
    assert!(o.status.success(), "{}", text(&o));
    let project = tmp.path().join("my-escrow");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "contract/src/lib.rs",
        "tests/tests/my-escrow.rs",
    ] {
        assert!(project.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::canonicalize(project.join("keel")).unwrap(),
        std::fs::canonicalize(checkout()).unwrap()
    );

    let target = std::env::var_os("KEEL_NEW_PROJECT_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| checkout().join("target/new-project"));
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(&project)
        .args(["test", "--offline"])
        .env("CARGO_TARGET_DIR", &target);
    // The outer build's settings must not leak into the project's own build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            cargo.env_remove(&*k);
        }
    }
    cargo.env_remove("RUSTFLAGS");
    let o = cargo.output().expect("run cargo test in the new project");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Both template tests ran and passed (the wasm was built from the project's source).
    assert!(out.contains("test increments_and_emits ... ok"), "{out}");
    assert!(
        out.contains("test errors_arrive_as_the_contract_error_type ... ok"),
        "{out}"
    );
    assert!(
        out.contains("test the_wasm_describes_itself ... ok"),
        "{out}"
    );

    // `keel build` gives the same bytes the tests ran; `keel check` accepts them; `keel deploy`
    // deploys them into a data dir.
    let o = keel(&project, &["build", "contract", "--out", "wasm"]);
    assert!(o.status.success(), "{}", text(&o));
    let wasm = project.join("wasm/contract.wasm");
    let bytes = std::fs::read(&wasm).unwrap();
    assert!(bytes.starts_with(b"\0asm"));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.join("wasm/contract.json")).unwrap())
            .unwrap();
    assert_eq!(meta["contract"], "MyEscrow", "{meta}");
    let o = keel(&project, &["check", wasm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let data = project.join(".keel");
    let o = keel(
        &project,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--sync",
            "off",
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "counter",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = keel(
        &project,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--sync",
            "off",
            "call",
            "counter",
            "increment",
            "u64:7",
            "--decode",
            "u64",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains('7'),
        "{}",
        text(&o)
    );
}
