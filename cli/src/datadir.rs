//! The data dir: the RocksDB state store, plus `keel-cli.json`, the CLI's own small metadata
//! (names of deployed contracts and uploaded code, for readable output).
//!
//! The block height is not stored separately: the CLI commits one state version per block,
//! so the next block's height is the store's version + 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use keel_state::StateError;
use keel_testkit::{Error as KitError, TestChain};

use crate::Failure;

/// The metadata file's name inside the data dir.
pub const META_FILE: &str = "keel-cli.json";

/// The CLI's metadata.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Format version of this file.
    pub format: u32,
    /// Contract address (hex) → name.
    #[serde(default)]
    pub contracts: BTreeMap<String, String>,
    /// Code hash (hex) → name.
    #[serde(default)]
    pub codes: BTreeMap<String, String>,
    /// Name → the address (hex) most recently deployed under that name, so that commands can
    /// say `counter` instead of `0x…`.
    #[serde(default)]
    pub latest: BTreeMap<String, String>,
}

/// An open data dir.
pub struct DataDir {
    /// Where it is.
    pub path: PathBuf,
    /// The chain over its store.
    pub chain: TestChain,
    /// The metadata.
    pub meta: Meta,
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
    Failure::new(match e {
        StateError::Locked { .. } => format!(
            "data dir {d} is locked: another keel process (or node) is using it; wait for it to \
             finish or use another --data-dir"
        ),
        StateError::Foreign { detail, .. } => {
            format!("data dir {d} is not a Keel data dir ({detail}); use an empty directory")
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
    })
}

impl DataDir {
    /// Opens (creating if absent) the data dir at `path`.
    pub fn open(path: &Path) -> Result<Self, Failure> {
        let d = path.display();
        if path.exists() && !path.is_dir() {
            return Err(Failure::new(format!(
                "data dir {d} exists and is not a directory"
            )));
        }
        std::fs::create_dir_all(path)
            .map_err(|e| Failure::new(format!("cannot create data dir {d}: {e}")))?;
        let chain = TestChain::open(path).map_err(|e| kit_failure(e, path))?;
        let meta_path = path.join(META_FILE);
        let meta = match std::fs::read(&meta_path) {
            Ok(bytes) => serde_json::from_slice::<Meta>(&bytes).map_err(|e| {
                Failure::new(format!(
                    "data dir {d} is corrupt: {} is not valid keel metadata ({e}); delete that \
                     file to forget contract names",
                    meta_path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Meta {
                format: 1,
                ..Meta::default()
            },
            Err(e) => {
                return Err(Failure::new(format!(
                    "cannot read {}: {e}",
                    meta_path.display()
                )));
            }
        };
        let mut dd = DataDir {
            path: path.to_path_buf(),
            chain,
            meta,
        };
        let labels: Vec<(String, String)> = dd
            .meta
            .contracts
            .iter()
            .map(|(a, n)| (a.clone(), n.clone()))
            .collect();
        for (addr, name) in labels {
            if let Ok(a) = crate::args::parse_address(&addr) {
                dd.chain.set_label(a, &name);
            }
        }
        Ok(dd)
    }

    /// Writes the metadata (atomically: a temporary file renamed over the old one).
    pub fn save_meta(&self) -> Result<(), Failure> {
        let text = serde_json::to_vec_pretty(&self.meta)
            .map_err(|e| Failure::new(format!("cannot encode metadata: {e}")))?;
        let tmp = self.path.join(format!("{META_FILE}.tmp"));
        let fin = self.path.join(META_FILE);
        let io = |e: std::io::Error| {
            let m = e.to_string();
            if e.raw_os_error() == Some(28) || looks_like_disk_full(&m) {
                Failure::new(format!(
                    "the disk holding data dir {} is full: {m}",
                    self.path.display()
                ))
            } else {
                Failure::new(format!("cannot write {}: {m}", fin.display()))
            }
        };
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &fin).map_err(io)?;
        Ok(())
    }

    /// Remembers a contract's name.
    pub fn name_contract(&mut self, address: &[u8; 32], name: &str) {
        let hex = format!("0x{}", hex::encode(address));
        self.meta.contracts.insert(hex.clone(), name.to_string());
        self.meta.latest.insert(name.to_string(), hex);
        self.chain.set_label(*address, name);
    }

    /// Resolves a contract given as `0x<64 hex>` or as the name it was deployed under (the
    /// latest deployment of that name).
    pub fn resolve_contract(&self, text: &str) -> Result<[u8; 32], Failure> {
        let t = text.trim();
        if let Some(hex) = self.meta.latest.get(t) {
            return crate::args::parse_address(hex).map_err(Failure::new);
        }
        crate::args::parse_address(t).map_err(|e| {
            let known: Vec<&str> = self.meta.latest.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(" (or one of the names deployed here: {})", known.join(", "))
            };
            Failure::new(format!("contract {t:?}: {e}{hint}"))
        })
    }

    /// Remembers a code hash's name.
    pub fn name_code(&mut self, code_hash: &[u8; 32], name: &str) {
        self.meta
            .codes
            .insert(format!("0x{}", hex::encode(code_hash)), name.to_string());
    }
}
