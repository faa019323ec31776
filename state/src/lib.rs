//! Keel's authenticated contract state.
//!
//! `keel-state` owns the versioned Merkle key-value store that every Keel node keeps:
//! - [`ChangeSet`]: an ordered batch of puts and deletes, the unit of commit;
//! - [`StateRead`] / [`StateStore`]: the traits the engine executes against, so node software
//!   can plug in its own store;
//! - [`Overlay`]: the read-through write buffer the engine runs a block in, with nested
//!   checkpoints for call frames;
//! - [`MemStore`]: an in-memory store with the same tree, roots and proofs;
//! - `Store` (feature `rocksdb`, on by default): the persistent store on RocksDB.
//!
//! Hashing and proof verification live in [`keel_proof`] (re-exported as [`proof`]), which is
//! `no_std` so that light clients can check proofs without this crate.
//!
//! # Design
//!
//! **Tree.** A binary sparse Merkle tree over `blake3(key)` with keel-proof's rules (empty
//! subtree = zero hash, a one-leaf subtree collapses to the leaf), so the root depends only on
//! the set of pairs and always equals [`reference::root`]. It is *stored* as 16-way group
//! nodes (the Jellyfish layout): a group covers 4 binary levels below a nibble path; each of
//! its 16 slots is empty, a leaf `(key_hash, value_hash)`, or a pointer `(version, hash)` to
//! the child group one nibble deeper. A slot holds a leaf iff exactly one key has its prefix,
//! a pointer iff two or more do. Groups are keyed by `(version that wrote it, nibble path)`,
//! never by hash, so a read is a point get. The root group of every version is stored at
//! `(v, [])`. A commit sorts its changes by key hash and applies them by recursive split on
//! nibbles, so every touched group is read, rewritten and hashed once; each rewritten group
//! makes its previous incarnation stale as of the new version. Group nodes' binary hashes
//! are recomputed from the slots (at most 15 internal hashes of 64-byte inputs per group).
//!
//! **RocksDB layout** (`Store`), one column family each; all integers big-endian in keys:
//!
//! | CF | key | value |
//! |---|---|---|
//! | `nodes` | `version (8) ‖ nibble count (1) ‖ packed nibbles` | a whole group: `present: u16 ‖ leaf: u16` bitmaps, then per present slot `key_hash ‖ value_hash` (leaf) or `version: u64 ‖ hash` (child); or a delta: `00 00 ff ff ‖ base version: u64 ‖ dirty: u16`, then the dirty slots as in a whole group (`present ‖ leaf` bitmaps within `dirty`, each present slot); and the tree mark: key `0 (8)` → SCALE `u64`, the version whose records were written last (format 4) |
//! | `values` | `key_hash (32) ‖ version (8)` | SCALE `Option<Vec<u8>>` (`None` = deleted at that version) |
//! | `latest` | raw key | SCALE `Vec<u8>` |
//! | `stale` | `since (8) ‖ 0x00` / `since (8) ‖ 0x02` (`0x01` in formats 1 and 2) | SCALE list of the node keys made stale at `since` / of `(key hash, w)` per key changed at `since`, `w` the version that wrote the value it replaced, 0 if the commit did not know it (format 2: of the key hashes alone) |
//! | `meta` | `magic`, `format`, `latest`, `oldest`, `root/ ‖ version (8)`; `app/ ‖ key` | SCALE; the embedder's raw bytes |
//!
//! A commit is one `WriteBatch` (WAL on) holding the stale-index entries, the latest and
//! versioned values and the new `latest` version and root: a crash leaves the previous
//! version whole. Its new groups and the tree mark follow in a second batch written without
//! the WAL (format 4): a crash may lose the group records of the versions after the last
//! flush of `nodes`, and the next open rebuilds them from the stale-value lists and the
//! versioned values (which name and hold everything a version wrote), checking every
//! rebuilt root against the stored one; a prune reclaims only what versions up to the
//! flushed tree mark stopped using, and the replaced group records written after it at
//! once. `get_at(key, v)` is a `seek_for_prev` to `key_hash ‖ v` in `values`. The groups of the latest tree down to 3 nibbles (the top 4 group levels, about
//! 4,400 groups) are loaded into RAM at open, with their binary hashes (summary tables);
//! every group a commit writes down to 4 nibbles (and any deeper one while the cache holds
//! fewer than 400k groups) stays there too; the cache holds one group per path, the top five
//! group levels in arrays indexed by path. A commit moves the cached groups it replaces out of
//! the cache and brings their tables up to date by rehashing only the summaries above
//! changed slots; proofs use the tables as they are. A cached group that replaces one at
//! the same path is usually stored as a *delta record*: its changed slots and the version of
//! the record they apply to (its *base*), so a commit writes about the bytes it changed
//! instead of whole groups. Chains are bounded (at most 16 deltas, each at most half a whole
//! group, all together at most one whole group), after which the group is stored whole
//! again; a group read from RocksDB reads its chain back to the whole record. The records of
//! a chain become stale together, under the version that stores the group whole again or
//! removes it, so `prune` never deletes a record a readable version still reads through a
//! chain. Format 1 (before deltas), format 2 (stale key lists without versions) and
//! format 3 (group records in the WAL) stores open; the first commit marks them format 4.
//! The cache holds only groups of the
//! latest tree, never a wrong one (a failed commit leaves it missing entries, which are then
//! read from RocksDB), and nothing observable depends on it. Each column family's entries
//! are added to the batch in key order.
//!
//! **Creation** is atomic too, and race-free: each creator makes the database in its own
//! staging dir beside the data dir (column families, magic, format, genesis root group,
//! flushed and fsynced) and renames it into place; a creator that loses the race uses the
//! winner's store.
//!
//! **Pruning.** `prune(up_to)` first records `oldest = up_to` (older versions then answer
//! `VersionUnavailable`), then walks the stale index in version order up to `up_to`: each
//! node listed under `since <= up_to` is deleted (no version `>= up_to` can reach it: it was
//! replaced at or before `up_to`); for each key listed under `since`, the value it replaced goes
//! (the value written at `since` serves every later version): with a point delete of
//! `key_hash ‖ w` when the list names `w`, else with one range delete of the key's values
//! older than `since`. Commits learn `w` from the value cache, so a key written in every
//! block leaves point tombstones, not overlapping ranges. An interrupted prune resumes on the
//! next call.
//!
//! **Opening.** `meta` holds a magic string and a format version written at creation; a dir
//! without them, or without the column families, is `Foreign` unless something marks it as a
//! Keel store (then `Damaged`); a newer format is `NewerFormat`; anything read from disk that
//! fails to decode is `Corrupted`. The open also checks the version range, the top of the
//! tree and a sample of values (`Damaged`), and the acknowledgement file (`RolledBack`):
//! ARCHITECTURE.md, "Data-dir integrity".
//!
//! [`MemStore`] runs the same tree code over an in-memory node map (the internal `NodeReader`
//! trait is the seam), with the same versions, `get_at` and `prune`;
//! `MemStore::set_keep_versions` makes it prune as it commits, bounding its memory.
#![forbid(unsafe_code)]

mod changes;
mod error;
mod mem;
mod overlay;
pub mod reference;
#[cfg(feature = "rocksdb")]
mod store;
mod tree;

pub use keel_proof as proof;
pub use keel_proof::{Hash, Proof};

pub use changes::ChangeSet;
pub use error::{DamagedPart, StateError};
pub use mem::MemStore;
pub use overlay::{Checkpoint, Overlay, Seek, Skipped};
#[cfg(feature = "rocksdb")]
pub use store::{ACK_FILE, CheckReport, FORMAT_VERSION, MAGIC, OpenOptions, Scan, Store};

use core::ops::Bound;

/// A state version: 0 is the empty genesis state, and each commit adds one.
pub type Version = u64;

/// A `(key, value)` pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An iterator over entries in key order, as returned by `MemStore::scan`.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<Entry, StateError>> + 'a>;

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
    ) -> Result<Option<Entry>, StateError>;
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

/// Whether no key can satisfy both bounds (also the ranges `BTreeMap::range` would panic on).
pub(crate) fn bounds_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` if there is
/// none (the prefix is empty or all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// `changes` as `(key_hash, Some(value_hash) | None)`, sorted by key hash: the tree's input.
pub(crate) fn hashed_changes(changes: &ChangeSet) -> Vec<(Hash, Option<Hash>)> {
    let mut out: Vec<(Hash, Option<Hash>)> = changes
        .iter()
        .map(|(k, v)| (proof::key_hash(k), v.map(proof::value_hash)))
        .collect();
    out.sort_unstable_by_key(|c| c.0);
    out
}
