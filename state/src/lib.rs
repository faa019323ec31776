//! Keel's authenticated contract state.
//!
//! `keel-state` owns the versioned Merkle key-value store that every Keel node keeps:
//! - [`ChangeSet`]: an ordered batch of puts and deletes, the unit of commit;
//! - [`StateRead`] / [`StateStore`]: the traits the engine executes against, so node software
//!   can plug in its own store;
//! - [`Overlay`]: the read-through write buffer the engine runs a block in, with nested
//!   checkpoints for call frames;
//! - [`MemStore`]: an in-memory store with the same roots, for tests and the harness;
//! - `Store` (feature `rocksdb`, on by default): the persistent store on RocksDB.
//!
//! Hashing and proof verification live in [`keel_proof`] (re-exported as [`proof`]), which is
//! `no_std` so that light clients can check proofs without this crate.
#![forbid(unsafe_code)]

mod changes;
mod error;
mod mem;
mod overlay;
pub mod reference;

pub use keel_proof as proof;
pub use keel_proof::{Hash, Proof};

pub use changes::ChangeSet;
pub use error::StateError;
pub use mem::MemStore;
pub use overlay::{Checkpoint, Overlay};

use core::ops::Bound;

/// A state version: 0 is the empty genesis state, and each commit adds one.
pub type Version = u64;

/// Read access to the latest committed state.
///
/// Iteration is expressed as [`StateRead::next_entry`], a seek to the first entry after a
/// bound, so that a contract's cursor can be resumed across host calls without holding a
/// database iterator open.
pub trait StateRead {
    /// The latest value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// The first entry, in ascending key order, with `lower < key` (or `lower <= key` for an
    /// included bound) and `key < upper` (or `<=`).
    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError>;
}

/// A versioned, committable, provable state: what the engine needs from a store.
pub trait StateStore: StateRead {
    /// The latest committed version.
    fn version(&self) -> Version;

    /// The root of the latest committed version.
    fn root(&self) -> Hash;

    /// Applies `changes` atomically as version `self.version() + 1`.
    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError>;

    /// A proof of `key`'s value (or absence) at `version`.
    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError>;
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get(key)
    }
    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        (**self).next_entry(lower, upper)
    }
}
