//! The data dir: the RocksDB state store, with the names of deployed contracts and uploaded
//! code in its own metadata (see [`crate::chain`]).
//!
//! The block height is not stored separately: the CLI commits one state version per block,
//! so the next block's height is the store's version + 1.
//!
//! Data dirs of earlier `keel` versions kept the names in `keel-cli.json`; opening one
//! imports that file into the store (names the store already has win) and removes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use keel_chain::Error as KitError;
use keel_state::{DamagedPart, StateError};

use crate::Failure;
use keel_chain::{Chain, Durability, Named};

/// The metadata file of earlier versions, imported on open.
pub const LEGACY_META_FILE: &str = "keel-cli.json";

/// Exit code for a data dir that holds an earlier version than it acknowledged.
pub const ROLLED_BACK: u8 = 5;

/// The names file of earlier versions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyMeta {
    #[allow(dead_code)]
    format: u32,
    /// Contract address (hex) → name.
    #[serde(default)]
    contracts: BTreeMap<String, String>,
    /// Code hash (hex) → name.
    #[serde(default)]
    codes: BTreeMap<String, String>,
    /// Name → the address (hex) most recently deployed under that name.
    #[serde(default)]
    latest: BTreeMap<String, String>,
}

/// An open data dir.
pub struct DataDir {
    /// Where it is.
    pub path: PathBuf,
    /// The chain over its store.
    pub chain: Chain<Named>,
}

/// Turns a testkit error into a user-facing failure, naming the data dir where it matters.
pub fn kit_failure(e: KitError, dir: &Path) -> Failure {
    match e {
        KitError::State(s) => state_failure(s, dir),
        KitError::Engine(m) if looks_like_disk_full(&m) => {
            Failure::new(format!("the disk holding {} is full: {m}", dir.display()))
        }
        other => Failure::new(other.to_string()),
    }
}

fn looks_like_disk_full(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    m.contains("no space left") || m.contains("disk full") || m.contains("enospc")
}

/// A user-facing message for a state error.
pub fn state_failure(e: StateError, dir: &Path) -> Failure {
    let d = dir.display();
    let message = match e {
        StateError::Locked { .. } => format!(
            "data dir {d} is locked: another keel process (or node) is using it; wait for it to \
             finish or use another --data-dir"
        ),
        StateError::Foreign { detail, .. } => {
            format!("data dir {d} is not a Keel data dir ({detail}); use an empty directory")
        }
        StateError::Damaged { part, detail, .. } => {
            let advice = match part {
                DamagedPart::AckFile => "; --accept-rollback resets it",
                _ => {
                    "; it is a Keel data dir: restore it from a backup or a checkpoint, do not \
                      reuse the directory"
                }
            };
            format!("data dir {d} is damaged ({part}): {detail}{advice}")
        }
        StateError::RolledBack {
            found,
            acknowledged,
            ..
        } => {
            return Failure {
                message: format!(
                    "data dir {d} holds version {found}, but version {acknowledged} was \
                     acknowledged earlier: the commits after {found} were lost (a damaged \
                     write-ahead log, or a power loss with --sync off); rerun with \
                     --accept-rollback to continue from version {found}"
                ),
                code: ROLLED_BACK,
            };
        }
        StateError::Corrupted(m) => format!("data dir {d} is corrupt: {m}"),
        StateError::NewerFormat {
            found, supported, ..
        } => format!(
            "data dir {d} was written by a newer keel (format {found}; this one reads up to \
             {supported})"
        ),
        StateError::Io(m) if looks_like_disk_full(&m) => {
            format!("the disk holding data dir {d} is full: {m}")
        }
        StateError::Io(m) => format!("cannot use data dir {d}: {m}"),
        other => format!("data dir {d}: {other}"),
    };
    Failure::new(message)
}

impl DataDir {
    /// Opens (creating if absent) the data dir at `path`.
    pub fn open(path: &Path, how: Durability) -> Result<Self, Failure> {
        let d = path.display();
        if path.exists() && !path.is_dir() {
            return Err(Failure::new(format!(
                "data dir {d} exists and is not a directory"
            )));
        }
        std::fs::create_dir_all(path)
            .map_err(|e| Failure::new(format!("cannot create data dir {d}: {e}")))?;
        let mut chain = Chain::open(path, how).map_err(|e| kit_failure(e, path))?;
        if let Some(acked) = chain.store().rolled_back() {
            crate::output::warn(&format!(
                "data dir {d} was rolled back: it holds version {}, but version {acked} was \
                 acknowledged; continuing from version {} (--accept-rollback)",
                chain.version(),
                chain.version()
            ));
        }
        import_legacy(&mut chain, path)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            chain,
        })
    }

    /// Resolves a contract given as `0x<64 hex>` or as the name it was deployed under (the
    /// latest deployment of that name).
    pub fn resolve_contract(&self, text: &str) -> Result<[u8; 32], Failure> {
        let t = text.trim();
        let kit = |e| kit_failure(e, &self.path);
        if let Some(a) = self.chain.address_of(t).map_err(kit)? {
            return Ok(a);
        }
        crate::args::parse_address(t).map_err(|e| {
            let known = self.chain.names().unwrap_or_default();
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(" (or one of the names deployed here: {})", known.join(", "))
            };
            Failure::new(format!("contract {t:?}: {e}{hint}"))
        })
    }
}

/// Imports `keel-cli.json` of an earlier `keel` into the store's metadata (what the store
/// already names wins), then removes the file.
fn import_legacy(chain: &mut Chain<Named>, dir: &Path) -> Result<(), Failure> {
    let file = dir.join(LEGACY_META_FILE);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Failure::new(format!("cannot read {}: {e}", file.display()))),
    };
    let legacy: LegacyMeta = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(format!(
            "data dir {} is corrupt: {} is not valid keel metadata ({e}); delete that file to skip \
             importing the names of an older keel",
            dir.display(),
            file.display()
        ))
    })?;
    let hash = |h: &str| crate::args::parse_address(h).ok();
    let mut entries = Vec::new();
    for (addr, name) in &legacy.contracts {
        let Some(a) = hash(addr) else { continue };
        let latest = legacy.latest.get(name).and_then(|h| hash(h)) == Some(a);
        for (k, v) in Chain::name_entries_for(Some(&a), None, name) {
            // The name → address entry only for the latest deployment of the name.
            if k.starts_with(b"keel-cli/name/") && !latest {
                continue;
            }
            entries.push((k, v));
        }
    }
    for (code, name) in &legacy.codes {
        if let Some(h) = hash(code) {
            entries.extend(Chain::name_entries_for(None, Some(&h), name));
        }
    }
    let failed = |e| state_failure(e, dir);
    let mut fresh = Vec::new();
    for (k, v) in entries {
        if chain.store().metadata(&k).map_err(failed)?.is_none() {
            fresh.push((k, v));
        }
    }
    // Durably, whatever --sync says: the file is removed next.
    let store = chain.store_mut();
    let sync = store.sync();
    store.set_sync(true);
    let written = store.put_metadata(&fresh);
    store.set_sync(sync);
    written.map_err(failed)?;
    for (k, v) in &fresh {
        if let Some(a) = k.strip_prefix(b"keel-cli/contract/".as_slice())
            && let Ok(a) = <[u8; 32]>::try_from(a)
        {
            chain.set_label(a, &String::from_utf8_lossy(v));
        }
    }
    std::fs::remove_file(&file)
        .map_err(|e| Failure::new(format!("cannot remove {}: {e}", file.display())))?;
    Ok(())
}
