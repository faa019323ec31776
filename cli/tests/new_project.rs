//! The README's "Your own contract project" path, end to end, from the README's own command
//! block: `keel new` in a temporary directory, then the new project's own `cargo test`
//! (offline: its Keel dependencies are path dependencies into this checkout, its registry
//! crates those Keel's `Cargo.lock` already fetched), then the README's `keel build`,
//! `keel deploy` and `keel call` (and `keel check`) of its wasm.
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

/// The shell block of the README's "Your own contract project" section, one command a line
/// (comments and blank lines dropped).
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(checkout().join("README.md")).unwrap();
    let section = readme
        .split("\n## Your own contract project\n")
        .nth(1)
        .expect("the README has a section \"Your own contract project\"");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("that section starts with a ```sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The README's commands, checked against what this test runs: it must be told about any
/// command it does not know, so the README cannot drift from the test.
#[test]
fn the_readme_commands_are_the_ones_the_project_test_runs() {
    let cmds = readme_commands();
    assert_eq!(
        cmds,
        [
            "cargo build --release -p keel-cli && KEEL=$PWD/target/release/keel",
            "cd /tmp && $KEEL new escrow && cd escrow",
            "cargo test",
            "$KEEL build contract",
            "$KEEL deploy target/keel/contract.wasm --name escrow",
            "$KEEL call escrow increment u64:5 --decode u64",
        ],
        "the README's \"Your own contract project\" commands changed: update \
         a_new_project_tests_builds_and_deploys (which runs each of them) and this list"
    );
}

#[test]
#[ignore = "builds a whole project (minutes); run by .ci/run"]
fn a_new_project_tests_builds_and_deploys() {
    // The README's commands, run as written (checked above), except that `keel` is the binary
    // cargo built for this test (not a release build), the project goes into a temporary
    // directory instead of /tmp, and `cargo test` runs offline into a shared target dir.
    let cmds = readme_commands();
    let keel_args = |line: &str| -> Vec<String> {
        line.strip_prefix("$KEEL ")
            .unwrap_or_else(|| panic!("not a keel command: {line}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let name = cmds[1]
        .split("$KEEL new ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(name, "escrow");

    let tmp = tempfile::tempdir().unwrap();
    let o = keel(tmp.path(), &["new", &name]);
    assert!(o.status.success(), "{}", text(&o));
    let project = tmp.path().join(&name);
    for f in [
        "Cargo.toml".to_string(),
        "Cargo.lock".to_string(),
        "contract/src/lib.rs".to_string(),
        format!("tests/tests/{name}.rs"),
    ] {
        assert!(project.join(&f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::canonicalize(project.join("keel")).unwrap(),
        std::fs::canonicalize(checkout()).unwrap()
    );

    let target = std::env::var_os("KEEL_NEW_PROJECT_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| checkout().join("target/new-project"));
    assert_eq!(cmds[2], "cargo test");
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
    // The template's tests ran and passed (the wasm was built from the project's source).
    for t in [
        "increments_and_emits",
        "errors_arrive_as_the_contract_error_type",
        "the_wasm_describes_itself",
    ] {
        assert!(out.contains(&format!("test {t} ... ok")), "{out}");
    }

    // The README's keel commands, in the project directory (its default data dir ./.keel).
    // `keel build` shares the test's target dir, as it shares the project's own for a user.
    let run = |line: &str| {
        let args = keel_args(line);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = Command::new(env!("CARGO_BIN_EXE_keel"))
            .current_dir(&project)
            .args(&args)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run keel");
        assert!(o.status.success(), "{line}: {}", text(&o));
        o
    };
    run(&cmds[3]); // keel build contract
    let wasm = project.join("target/keel/contract.wasm");
    let bytes = std::fs::read(&wasm).unwrap();
    assert!(bytes.starts_with(b"\0asm"));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.join("target/keel/contract.json")).unwrap())
            .unwrap();
    assert_eq!(meta["contract"], "Escrow", "{meta}");
    let o = keel(&project, &["check", wasm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&cmds[4]); // keel deploy target/keel/contract.wasm --name escrow
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("address:"),
        "{}",
        text(&o)
    );
    // The call names the contract by the name the deploy gave it.
    let o = run(&cmds[5]); // keel call escrow increment u64:5 --decode u64
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("decoded:") && l.trim_end().ends_with(" 5")),
        "{}",
        text(&o)
    );
}
