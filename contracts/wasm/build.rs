//! Compiles the example contracts (the separate cargo workspace in `contracts/examples`) to
//! `wasm32-unknown-unknown` and copies each `.wasm` into `OUT_DIR`, where `src/lib.rs` includes
//! it. The inner build has its own target dir (`<repo>/target/contracts-wasm`), so it never
//! waits on the outer build's lock, and a clean environment, so the outer build's flags,
//! wrappers (clippy, coverage) and profile overrides do not leak into the contracts.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Every contract the library exposes: its crate (and `.wasm`) name. Each is built by its own
/// cargo invocation, so that one contract's SDK features (e.g. `alloc`) do not leak into
/// another through feature unification.
const CONTRACTS: &[&str] = &[
    "counter",
    "token",
    "compute",
    "nft",
    "multisig",
    "swap",
    "adversary",
];

// `WASM_FLAGS` and `strip_env_for_wasm_build`: shared with keel-testkit's contract builder.
include!("../testkit/src/wasm_flags.rs");

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: keel-contracts build script: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let repo = manifest_dir
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the repository root")?
        .to_path_buf();
    let examples = repo.join("contracts/examples");
    let target_dir = repo.join("target/contracts-wasm");
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);

    rerun_if_changed(&examples, &repo)?;
    check_wasm_target()?;

    for name in CONTRACTS {
        build_one(name, &examples, &target_dir, &repo)?;
    }
    let built = target_dir.join("wasm32-unknown-unknown/release");
    for name in CONTRACTS {
        let file = format!("{name}.wasm");
        let src = built.join(&file);
        fs::copy(&src, out_dir.join(&file))
            .map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
    }
    Ok(())
}

fn build_one(name: &str, examples: &Path, target_dir: &Path, repo: &Path) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    // `cargo rustc --crate-type cdylib`: the contracts are also `rlib`s (for host tests of
    // their types), but emitting the rlib beside the wasm changes the wasm's bytes; only the
    // `cdylib` is built here, byte for byte what a `cdylib`-only crate gives.
    cmd.current_dir(examples)
        .arg("rustc")
        .arg("--release")
        .arg("--locked")
        .args(["-p", name])
        .arg("--lib")
        .args(["--crate-type", "cdylib"])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(examples.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if strip_env_for_wasm_build(key) {
            cmd.env_remove(key);
        }
    }
    // Remap absolute source paths (dependencies in the cargo home; the repository, in case), so
    // that no machine's paths end up in panic locations. Workspace sources already appear
    // relative, and since the SDK is a member of the examples workspace (see its Cargo.toml) the
    // wasm bytes do not depend on the checkout path. These flags do not change the bytes either.
    let mut flags: Vec<String> = WASM_FLAGS.iter().map(|s| s.to_string()).collect();
    flags.push(format!("--remap-path-prefix={}=/keel", repo.display()));
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    cmd.env("CARGO_TERM_COLOR", "never");

    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the example contract `{name}` failed ({status}); the errors are above. \
             To reproduce: cd contracts/examples && cargo build --release -p {name}"
        ));
    }
    Ok(())
}

fn env_var(key: &str) -> Result<String, String> {
    env::var(key).map_err(|_| format!("{key} is not set"))
}

fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Fails with the fix if the standard library for wasm32 is not installed.
fn check_wasm_target() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&sysroot).join("lib/rustlib/wasm32-unknown-unknown");
    if !lib.exists() {
        return Err("the wasm32-unknown-unknown target is not installed; \
             run `rustup target add wasm32-unknown-unknown` (or scripts/setup.sh)"
            .to_string());
    }
    Ok(())
}

/// Re-run when a contract, the SDK or the examples' build configuration changes (but not
/// when a build directory inside them does).
fn rerun_if_changed(examples: &Path, repo: &Path) -> Result<(), String> {
    let mut paths = vec![
        examples.join("Cargo.toml"),
        examples.join("Cargo.lock"),
        examples.join(".cargo/config.toml"),
        repo.join("contracts/sdk/Cargo.toml"),
        repo.join("contracts/sdk/src"),
        repo.join("contracts/sdk-macros/Cargo.toml"),
        repo.join("contracts/sdk-macros/src"),
        repo.join("contracts/testkit/src/wasm_flags.rs"),
    ];
    let entries =
        fs::read_dir(examples).map_err(|e| format!("cannot read {}: {e}", examples.display()))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("Cargo.toml").is_file() {
            paths.push(dir.join("Cargo.toml"));
            paths.push(dir.join("src"));
        }
    }
    for p in paths {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_HOME");
    Ok(())
}
