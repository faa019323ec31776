//! A direct, slow definition of the state root, used as the oracle in tests.
//!
//! It computes the root of a key set by recursive splitting on key-hash bits, following the
//! rules in [`keel_proof`]. The real tree must always agree with it.

use std::collections::BTreeMap;

use keel_proof::{EMPTY, Hash, bit, internal_hash, key_hash, leaf_hash, value_hash};

/// The root of the tree holding exactly `pairs`.
pub fn root(pairs: &BTreeMap<Vec<u8>, Vec<u8>>) -> Hash {
    let mut leaves: Vec<(Hash, Hash)> = pairs
        .iter()
        .map(|(k, v)| (key_hash(k), value_hash(v)))
        .collect();
    leaves.sort_unstable();
    subtree(&leaves, 0)
}

fn subtree(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(kh, vh)] => leaf_hash(kh, vh),
        _ => {
            let split = leaves.partition_point(|(kh, _)| !bit(kh, depth));
            internal_hash(
                &subtree(&leaves[..split], depth + 1),
                &subtree(&leaves[split..], depth + 1),
            )
        }
    }
}
