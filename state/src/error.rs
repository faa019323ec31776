//! The one error type of `keel-state`.

use crate::Version;

/// Everything that can go wrong in `keel-state`. Errors are values, never panics.
#[derive(Debug, thiserror::Error)]
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
}
