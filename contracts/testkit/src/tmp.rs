//! Where a [`crate::TestChain`]'s RocksDB stores live, and how a fresh one is made quickly.
//!
//! Creating a RocksDB store from nothing costs about 200 ms (two opens and synced writes). A
//! test harness creates a store per test, so the first store of a process is created normally,
//! its files (a closed, empty Keel store) are kept in memory, and every later fresh store is
//! those files written to a new directory and opened: one open instead of a creation. Nothing
//! is left on disk by the template.
//!
//! Stores live in the system temp dir, or in `KEEL_TESTKIT_TMPDIR` if set. Not in `/dev/shm`
//! by default: RocksDB preallocates its write-ahead log (about 1.1 × the largest write buffer,
//! some 140 MiB for keel-state's node column family) with `fallocate`, which on tmpfs really
//! allocates and zeroes that memory on the first commit (measured: ~95 ms per chain, against
//! ~1 ms on a disk file system).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use keel_state::Store;

use crate::Error;

/// The directory temporary stores and snapshots are created in.
pub(crate) fn temp_root() -> PathBuf {
    match std::env::var_os("KEEL_TESTKIT_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir(),
    }
}

/// A new temporary directory under [`temp_root`].
pub(crate) fn tempdir(prefix: &str) -> Result<tempfile::TempDir, Error> {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(temp_root);
    Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(root)?)
}

/// The files of a closed, freshly created store.
struct Template {
    files: Vec<(std::ffi::OsString, Vec<u8>)>,
}

fn build_template() -> Result<Template, Error> {
    let dir = tempdir("keel-template-")?;
    let path = dir.path().join("state");
    drop(Store::open(&path)?);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&path)? {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        // The lock file, the info log and the DB's identity are made anew by each open.
        if text == "LOCK" || text.starts_with("LOG") || text == "IDENTITY" {
            continue;
        }
        if !entry.file_type()?.is_file() {
            return Err(Error::Io(std::io::Error::other(
                "unexpected directory in a fresh store",
            )));
        }
        files.push((name, std::fs::read(entry.path())?));
    }
    Ok(Template { files })
}

/// A fresh, empty store at `path` (which must not exist).
pub(crate) fn fresh_store(path: &Path) -> Result<Store, Error> {
    static TEMPLATE: OnceLock<Option<Template>> = OnceLock::new();
    if let Some(t) = TEMPLATE.get_or_init(|| build_template().ok()) {
        let written = std::fs::create_dir(path).and_then(|()| {
            t.files
                .iter()
                .try_for_each(|(name, bytes)| std::fs::write(path.join(name), bytes))
        });
        if written.is_ok()
            && let Ok(store) = Store::open(path)
        {
            return Ok(store);
        }
        // Fall back to creating it the ordinary way.
        let _ = std::fs::remove_dir_all(path);
    }
    Ok(Store::open(path)?)
}

/// Copies a closed RocksDB directory: `.sst` files (immutable) are hard-linked when the file
/// system allows, everything else is copied; the lock file and info logs are skipped.
pub(crate) fn copy_store_files(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text == "LOCK" || text.starts_with("LOG") {
            continue;
        }
        if !entry.file_type()?.is_file() {
            return Err(Error::Io(std::io::Error::other(format!(
                "unexpected entry {text} in a snapshot"
            ))));
        }
        let target = to.join(&name);
        if !(text.ends_with(".sst") && std::fs::hard_link(entry.path(), &target).is_ok()) {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
