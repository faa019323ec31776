//! `keel new NAME` (a contract project that tests on its first build) and `keel build` (the
//! contract's wasm, built the way the testkit builds it).
//!
//! The template lives in `cli/templates/new/`; every `*.tpl` file there is written with
//! `{{name}}` (the crate name), `{{crate}}` (its Rust identifier) and `{{Name}}` (the contract
//! type) replaced. The project reaches Keel through a `keel` symlink to the checkout, so its
//! dependencies are path dependencies inside its own workspace (no absolute path in the wasm,
//! no network needed), and it starts from Keel's `Cargo.lock`, so a first build offline
//! resolves to versions already fetched for Keel itself.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::Failure;
use crate::outln;
use crate::output::print_json;

/// For `keel check`: the module's contract metadata (parsed), and warnings about its code.
pub fn check_extras(code: &[u8]) -> (Option<serde_json::Value>, Vec<String>) {
    let mut warnings = Vec::new();
    let metadata = match keel_testkit::contract_metadata(code) {
        Ok(Some(text)) => match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                warnings.push(format!("the keel:meta section is not valid JSON: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("cannot read the custom sections: {e}"));
            None
        }
    };
    // core::fmt's table of two-digit pairs ("000102…99"): present when integer formatting,
    // usually for panic messages, is linked in (BENCHMARKS.md, "Contracts").
    const DIGITS: &[u8] = b"00010203040506070809101112131415161718192021222324";
    if code.windows(DIGITS.len()).any(|w| w == DIGITS) {
        warnings.push(
            "the module carries core::fmt's integer formatting (about 5 KB, paid on every deploy), \
             usually for panic messages: look for slice indexing, copy_from_slice, unwrap or \
             arithmetic overflow checks"
                .to_string(),
        );
    }
    (metadata, warnings)
}

/// One line about the metadata for `keel check`.
pub fn metadata_summary(meta: Option<&serde_json::Value>) -> String {
    match meta {
        None => "none (no keel:meta section)".to_string(),
        Some(m) => {
            let count = |k: &str| m.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
            format!(
                "{} ({} methods, {} events, {} types)",
                m.get("contract").and_then(|v| v.as_str()).unwrap_or("?"),
                count("methods"),
                count("events"),
                count("types")
            )
        }
    }
}

/// `keel new NAME`.
pub fn cmd_new(json: bool, name: &str, parent: &Path, keel: Option<&Path>) -> Result<(), Failure> {
    let dir = new_project(name, parent, keel)?;
    if json {
        print_json(&json!({ "created": dir.display().to_string() }));
    } else {
        outln!("created {}", dir.display());
        outln!(
            "  cd {} && cargo test      # builds the wasm, runs it in keel-testkit",
            dir.display()
        );
        outln!("  keel build contract       # the wasm, as target/keel/contract.wasm");
    }
    Ok(())
}

/// `keel build [CRATE_DIR]`.
pub fn cmd_build(
    json: bool,
    crate_dir: &Path,
    out: Option<&Path>,
    names: bool,
) -> Result<(), Failure> {
    let (file, len, named) = build(crate_dir, out, names)?;
    if json {
        print_json(&json!({
            "wasm": file.display().to_string(),
            "bytes": len,
            "names": named.as_ref().map(|n| n.display().to_string()),
        }));
    } else {
        outln!("built {} ({len} bytes)", file.display());
        if let Some(n) = named {
            outln!(
                "with function names: {} (for keel profile --names)",
                n.display()
            );
        }
    }
    Ok(())
}

/// The template files: (path in the project, text). `{{name}}` in a path is replaced too.
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/new/Cargo.toml.tpl"),
    ),
    (".gitignore", include_str!("../templates/new/gitignore.tpl")),
    (
        "contract/Cargo.toml",
        include_str!("../templates/new/contract/Cargo.toml.tpl"),
    ),
    (
        "contract/src/lib.rs",
        include_str!("../templates/new/contract/src/lib.rs.tpl"),
    ),
    (
        "tests/Cargo.toml",
        include_str!("../templates/new/tests/Cargo.toml.tpl"),
    ),
    (
        "tests/tests/{{name}}.rs",
        include_str!("../templates/new/tests/tests/{{name}}.rs.tpl"),
    ),
];

/// The Keel checkout this binary was built from (the default target of the `keel` symlink).
fn default_keel_root() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cli.to_path_buf())
}

/// Checks a project name: a cargo package name that is also a usable Rust identifier once `-`
/// becomes `_`.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.ends_with(['-', '_'])
        && !matches!(name, "keel" | "test" | "tests" | "core" | "std" | "alloc");
    if ok {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "`{name}` is not a usable project name: use lower-case letters, digits, `-` and `_`, \
             starting with a letter (and not a name of Keel's or Rust's own crates)"
        )))
    }
}

/// `my-escrow` → `MyEscrow`.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn fill(text: &str, name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{crate}}", &name.replace('-', "_"))
        .replace("{{Name}}", &camel(name))
}

/// Creates the project `name` in `parent/name` (which must not exist), with its `keel` symlink
/// pointing at `keel_root` (default: the checkout this binary was built from). Returns the
/// project directory.
pub fn new_project(
    name: &str,
    parent: &Path,
    keel_root: Option<&Path>,
) -> Result<PathBuf, Failure> {
    check_name(name)?;
    let keel = keel_root
        .map(Path::to_path_buf)
        .unwrap_or_else(default_keel_root);
    let keel = std::fs::canonicalize(&keel)
        .map_err(|e| Failure::new(format!("cannot find Keel at {}: {e}", keel.display())))?;
    if !keel.join("contracts/sdk/Cargo.toml").is_file()
        || !keel.join("contracts/testkit/Cargo.toml").is_file()
    {
        return Err(Failure::new(format!(
            "{} is not a Keel checkout (no contracts/sdk and contracts/testkit); pass --keel DIR",
            keel.display()
        )));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(Failure::new(format!("{} already exists", dir.display())));
    }
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Failure::new(format!("cannot {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
    for (path, text) in TEMPLATE {
        let file = dir.join(fill(path, name));
        if let Some(p) = file.parent() {
            std::fs::create_dir_all(p).map_err(|e| io("create", p, e))?;
        }
        std::fs::write(&file, fill(text, name)).map_err(|e| io("write", &file, e))?;
    }
    // Keel's own lock file: cargo keeps the entries the project uses and drops the rest, so
    // the first build picks versions Keel was tested with (and already fetched).
    let lock = keel.join("Cargo.lock");
    if lock.is_file() {
        let to = dir.join("Cargo.lock");
        std::fs::copy(&lock, &to).map_err(|e| io("write", &to, e))?;
    }
    link(&keel, &dir.join("keel"))?;
    Ok(dir)
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> Result<(), Failure> {
    std::os::unix::fs::symlink(target, at)
        .map_err(|e| Failure::new(format!("cannot create the symlink {}: {e}", at.display())))
}

#[cfg(not(unix))]
fn link(_target: &Path, at: &Path) -> Result<(), Failure> {
    Err(Failure::new(format!(
        "keel new needs symlinks (unix) for {}",
        at.display()
    )))
}

/// Builds the contract crate at `crate_dir` as the testkit does and writes `NAME.wasm` and its
/// metadata `NAME.json` into `out` (default: the current directory's `target/keel/`). Returns the written file and the
/// module's size.
///
/// With `names`, also `NAME.names.wasm`: the same build with its name section kept
/// (`keel_testkit::build_wasm_names`), for `keel profile --names`; checked to have exactly the
/// deployed build's code.
pub fn build(
    crate_dir: &Path,
    out: Option<&Path>,
    names: bool,
) -> Result<(PathBuf, usize, Option<PathBuf>), Failure> {
    let bytes = keel_testkit::build_wasm(crate_dir).map_err(|e| Failure::new(e.to_string()))?;
    let stem = crate_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "contract".into());
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target/keel"));
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", out.display())))?;
    let file = out.join(format!("{stem}.wasm"));
    std::fs::write(&file, &bytes)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", file.display())))?;
    // The contract metadata beside it, as JSON (the same document as the keel:meta section).
    let meta = keel_testkit::contract_metadata(&bytes).map_err(|e| Failure::new(e.to_string()))?;
    if let Some(doc) = meta {
        let json = out.join(format!("{stem}.json"));
        std::fs::write(&json, doc)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", json.display())))?;
    }
    let mut named_file = None;
    if names {
        let named =
            keel_testkit::build_wasm_names(crate_dir).map_err(|e| Failure::new(e.to_string()))?;
        keel_testkit::FunctionNames::matching(&named, &bytes)
            .map_err(|e| Failure::new(format!("keel build --names: {e}")))?;
        let path = out.join(format!("{stem}.names.wasm"));
        std::fs::write(&path, &named)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
        named_file = Some(path);
    }
    Ok((file, bytes.len(), named_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_substitutions() {
        assert!(check_name("escrow").is_ok());
        assert!(check_name("my-escrow_2").is_ok());
        for bad in ["", "Escrow", "1x", "a b", "x-", "keel", "tests", "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(camel("my-escrow_2"), "MyEscrow2");
        assert_eq!(
            fill("{{name}} {{crate}} {{Name}}", "my-escrow"),
            "my-escrow my_escrow MyEscrow"
        );
    }
}
