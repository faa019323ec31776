//! Keel's authenticated-state hashing rules and Merkle proof verification.
//!
//! This crate owns the *definition* of Keel's state root: how keys, values, leaves and
//! internal nodes are hashed, and how a [`Proof`] of inclusion or exclusion is checked against
//! a root. It is `no_std` (with `alloc`), has no RocksDB and no I/O, so a light client or even
//! a contract can verify state proofs. `keel-state` builds and stores the tree; this crate only
//! says what its hashes mean.
//!
//! The tree is a binary sparse Merkle tree over `blake3(key)`:
//! - an empty subtree hashes to [`EMPTY`] (all zeroes);
//! - a subtree holding exactly one leaf hashes to that leaf's hash (single leaves collapse
//!   upwards, so one key set has exactly one shape and one root);
//! - any other subtree hashes to `node(left, right)`.
//!
//! Every hash input is exactly 64 bytes (one blake3 block). Domain separation between leaves
//! and internal nodes is done with blake3's keyed mode, not with a prefix byte, which would push
//! the input to 65 bytes and nearly double the cost.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod hash;
mod proof;

pub use hash::{
    EMPTY, Hash, bit, internal_hash, internal_hashes, key_hash, leaf_hash, leaf_hashes, value_hash,
};
pub use proof::{CompressedProof, Proof, ProofError, ProofTerminal};
