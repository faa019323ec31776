//! Building a contract crate to wasm from a test, so tests always run the wasm of the current
//! source: [`build_wasm`] (and [`build_wasm_names`], the same build with its name section).
//!
//! The build is `cargo build --release --target wasm32-unknown-unknown -p NAME` in the crate's
//! workspace, with the same flags as Keel's own example contracts (a 32 KiB stack, an explicit
//! wasm feature set) and with the machine's paths remapped (`--remap-path-prefix`: the cargo
//! home becomes `/cargo`, the Keel checkout `/keel`, the project's workspace `/project`), so the
//! wasm bytes, and so code hashes and addresses, do not depend on where things are on disk. It
//! has its own target dir, `<workspace>/target/keel-wasm` (`$CARGO_TARGET_DIR/keel-wasm` if that is
//! set), so it never waits for the lock of the
//! `cargo test` that runs it. Cargo's own change tracking makes a rebuild of unchanged source a
//! no-op (a fraction of a second), and each crate is built at most once per test process.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::Error;

include!("wasm_flags.rs");

/// Builds the contract crate in `crate_dir` (the directory of its `Cargo.toml`) for
/// `wasm32-unknown-unknown` in its workspace's release profile and returns the module's bytes,
/// without the toolchain's custom sections (names, producers, target features, debug info; the
/// contract's `keel:meta` stays). Cached per process: later calls for the same crate return the
/// same bytes without running cargo again.
///
/// ```no_run
/// # fn main() -> Result<(), keel_testkit::Error> {
/// let wasm = keel_testkit::build_wasm(concat!(env!("CARGO_MANIFEST_DIR"), "/../contract"))?;
/// let mut chain = keel_testkit::TestChain::new()?;
/// let address = chain.deploy(keel_testkit::account("alice"), &wasm, ())?;
/// # let _ = address;
/// # Ok(())
/// # }
/// ```
pub fn build_wasm(crate_dir: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
    crate::meta::strip_tool_sections(&build_wasm_names(crate_dir)?)
}

/// The build [`build_wasm`] strips, with the toolchain's sections still in it, among them the
/// `name` section with every function's name: profiles show those names
/// ([`crate::TestChain::set_function_names`], `keel profile --names`). [`build_wasm`]'s bytes
/// are exactly these without the `name`, `producers`, `target_features` and debug sections, so
/// both have the same code and function indices by construction
/// ([`crate::FunctionNames::matching`] checks it). Deploy the [`build_wasm`] bytes.
///
/// ```no_run
/// # fn main() -> Result<(), keel_testkit::Error> {
/// use keel_testkit::{FunctionNames, TestChain, account, build_wasm, build_wasm_names};
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../contract");
/// let (wasm, named) = (build_wasm(dir)?, build_wasm_names(dir)?);
/// let mut chain = TestChain::new()?;
/// let contract = chain.deploy(account("alice"), &wasm, ())?;
/// chain.set_function_names(contract, FunctionNames::matching(&named, &wasm)?);
/// # Ok(())
/// # }
/// ```
pub fn build_wasm_names(crate_dir: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
    static BUILT: Mutex<BTreeMap<PathBuf, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let crate_dir = crate_dir.as_ref();
    let dir = std::fs::canonicalize(crate_dir).map_err(|e| {
        Error::Build(format!(
            "cannot find the contract crate {}: {e}",
            crate_dir.display()
        ))
    })?;
    // A poisoned lock only means another test panicked while building; the map is still whole.
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bytes) = built.get(&dir) {
        return Ok(bytes.clone());
    }
    let bytes = build_uncached(&dir)?;
    built.insert(dir, bytes.clone());
    Ok(bytes)
}

fn build_uncached(dir: &Path) -> Result<Vec<u8>, Error> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Error::Build(format!("cannot read {}: {e}", manifest.display())))?;
    let name = package_name(&text).ok_or_else(|| {
        Error::Build(format!(
            "{} has no [package] name = \"...\"",
            manifest.display()
        ))
    })?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let root = workspace_root(&cargo, dir)?;
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => root.join(t).join("keel-wasm"),
        None => root.join("target").join("keel-wasm"),
    };

    let mut cmd = Command::new(&cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .args(["-p", &name])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && strip_env_for_wasm_build(key)
        {
            cmd.env_remove(key);
        }
    }
    let mut flags: Vec<String> = WASM_FLAGS.iter().map(|s| s.to_string()).collect();
    if let Some(keel) = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
    {
        flags.push(format!("--remap-path-prefix={}=/keel", keel.display()));
    }
    flags.push(format!("--remap-path-prefix={}=/project", root.display()));
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    cmd.env("CARGO_TERM_COLOR", "never");
    // Keep the name section (and drop DWARF): `build_wasm` strips the toolchain's sections
    // itself, so that its bytes have exactly the code of the named build. (A build with the
    // profile's `strip = true` is not that: its type, function and code sections differ from
    // this build's in their bytes, at the same sizes.)
    cmd.env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let out = cmd
        .output()
        .map_err(|e| Error::Build(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(Error::Build(format!(
            "cargo build of the contract `{name}` for wasm32 failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let file = target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).map_err(|e| {
        Error::Build(format!(
            "cannot read {} (is the crate a `cdylib`?): {e}",
            file.display()
        ))
    })
}

/// The workspace root of the crate in `dir`, from `cargo locate-project --workspace`.
fn workspace_root(cargo: &OsString, dir: &Path) -> Result<PathBuf, Error> {
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .map_err(|e| Error::Build(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(Error::Build(format!(
            "cargo locate-project failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Build(format!("odd workspace manifest {}", manifest.display())))
}

/// The `name` of the `[package]` table of a manifest (a line `name = "..."` in that table).
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            let value = value.trim();
            return value
                .strip_prefix('"')
                .and_then(|v| v.split('"').next())
                .map(str::to_string);
        }
    }
    None
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn package_names_are_read_from_the_package_table_only() {
        let m = "[workspace]\nname = \"no\"\n[package]\nversion = \"1\"\nname = \"my-escrow\" # c\n[dependencies]\nname = \"x\"\n";
        assert_eq!(package_name(m).as_deref(), Some("my-escrow"));
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
        assert_eq!(package_name("[package]\nname.workspace = true\n"), None);
    }
}
