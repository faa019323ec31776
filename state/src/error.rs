//! The one error type of `keel-state`.

use crate::Version;

/// Everything that can go wrong in `keel-state`. Errors are values, never panics.
///
/// Opening a data dir tells three cases apart: [`StateError::Foreign`] (not a Keel store: do
/// not touch it), [`StateError::Damaged`] (a Keel store with a damaged file or record, named
/// by [`DamagedPart`]: restore it, do not reuse the dir) and [`StateError::RolledBack`] (a
/// whole store, but older than the version it last acknowledged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The data dir is held by another process (RocksDB's `LOCK` file).
    #[error("data dir {path} is locked by another process")]
    Locked {
        /// The data dir.
        path: String,
    },
    /// The data dir is not a Keel store: missing or wrong metadata.
    #[error("data dir {path} is not a Keel state store: {detail}")]
    Foreign {
        /// The data dir.
        path: String,
        /// What was found instead.
        detail: String,
    },
    /// The data dir was written by a newer, unknown format.
    #[error("data dir {path} has format version {found}, this build reads up to {supported}")]
    NewerFormat {
        /// The data dir.
        path: String,
        /// The format found on disk.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The data dir is a Keel store, but one of its files or records is damaged or disagrees
    /// with the others (found when opening it, or by `Store::check`).
    #[error("data dir {path} is a damaged Keel store ({part}): {detail}")]
    Damaged {
        /// The data dir.
        path: String,
        /// Which file or record is damaged.
        part: DamagedPart,
        /// What is wrong with it.
        detail: String,
    },
    /// The store opened whole, but at an earlier version than the one it last acknowledged
    /// (its write-ahead log lost commits: damaged, or not synced before a power loss). The
    /// acknowledged versions after `found` must be replayed.
    #[error(
        "data dir {path} holds version {found}, but version {acknowledged} was acknowledged \
         earlier: the commits after version {found} were lost"
    )]
    RolledBack {
        /// The data dir.
        path: String,
        /// The version the store holds.
        found: Version,
        /// The latest version it acknowledged before.
        acknowledged: Version,
    },
    /// Stored data failed to decode or is internally inconsistent.
    #[error("state store is corrupted: {0}")]
    Corrupted(String),
    /// A version that was never committed, or has been pruned.
    #[error("version {requested} is not available (oldest kept {oldest}, latest {latest})")]
    VersionUnavailable {
        /// The version asked for.
        requested: Version,
        /// The oldest version still readable.
        oldest: Version,
        /// The latest committed version.
        latest: Version,
    },
    /// An I/O, disk-full or permission failure from the storage layer.
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// This CPU lacks an instruction that this build's RocksDB was compiled to use (on
    /// x86_64: SSE4.2 and PCLMULQDQ, for its crc32c checksums; every x86_64 CPU since 2010
    /// has both). Nothing was opened or written.
    #[error("this CPU lacks {feature}, which this build's RocksDB needs for its checksums")]
    UnsupportedCpu {
        /// The missing CPU feature.
        feature: &'static str,
    },
}

/// The part of a Keel data dir that [`StateError::Damaged`] found damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamagedPart {
    /// RocksDB's `CURRENT` file (names the live MANIFEST): missing, truncated or garbled.
    Current,
    /// RocksDB's MANIFEST (the list of table files and column families).
    Manifest,
    /// The write-ahead log (`*.log`).
    Wal,
    /// A table file (`*.sst`).
    Table,
    /// The `meta` column family: versions, roots, format.
    Metadata,
    /// The tree's group nodes.
    Tree,
    /// The `latest` column family disagrees with the tree.
    LatestValues,
    /// The versioned values disagree with the latest values or the tree.
    VersionedValues,
    /// The acknowledgement file (`KEEL-ACK`).
    AckFile,
    /// RocksDB reported corruption without saying where.
    Unknown,
}

impl std::fmt::Display for DamagedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DamagedPart::Current => "CURRENT file",
            DamagedPart::Manifest => "MANIFEST",
            DamagedPart::Wal => "write-ahead log",
            DamagedPart::Table => "table file",
            DamagedPart::Metadata => "metadata",
            DamagedPart::Tree => "tree nodes",
            DamagedPart::LatestValues => "latest values",
            DamagedPart::VersionedValues => "versioned values",
            DamagedPart::AckFile => "acknowledgement file",
            DamagedPart::Unknown => "unknown part",
        })
    }
}
