//! [`MemStore`]: an in-memory state store with the same roots and proofs as the RocksDB one.
//!
//! INTERIM: roots and proofs are computed from the full key set on every call (O(n)); the
//! tree-backed implementation replaces this.

use std::collections::BTreeMap;
use std::ops::Bound;

use keel_proof::{EMPTY, Hash, Proof, ProofTerminal, bit, key_hash, value_hash};

use crate::{ChangeSet, StateError, StateRead, StateStore, Version, reference};

/// An in-memory, versioned state store.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    latest: BTreeMap<Vec<u8>, Vec<u8>>,
    roots: Vec<Hash>,
}

impl MemStore {
    /// An empty store at version 0.
    pub fn new() -> Self {
        Self {
            latest: BTreeMap::new(),
            roots: vec![EMPTY],
        }
    }
}

impl StateRead for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.latest.get(key).cloned())
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        Ok(self
            .latest
            .range::<[u8], _>((lower, upper))
            .next()
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl StateStore for MemStore {
    fn version(&self) -> Version {
        (self.roots.len() as u64).saturating_sub(1)
    }

    fn root(&self) -> Hash {
        self.roots.last().copied().unwrap_or(EMPTY)
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        for (k, v) in changes.iter() {
            match v {
                Some(v) => {
                    self.latest.insert(k.to_vec(), v.to_vec());
                }
                None => {
                    self.latest.remove(k);
                }
            }
        }
        let root = reference::root(&self.latest);
        self.roots.push(root);
        Ok((self.version(), root))
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        if version != self.version() {
            return Err(StateError::VersionUnavailable {
                requested: version,
                oldest: self.version(),
                latest: self.version(),
            });
        }
        let mut leaves: Vec<(Hash, Hash)> = self
            .latest
            .iter()
            .map(|(k, v)| (key_hash(k), value_hash(v)))
            .collect();
        leaves.sort_unstable();
        let kh = key_hash(key);
        let mut siblings = Vec::new();
        let mut slice = &leaves[..];
        let mut depth = 0;
        loop {
            match slice {
                [] => {
                    return Ok(Proof {
                        siblings,
                        terminal: ProofTerminal::Empty,
                    });
                }
                [(k, v)] => {
                    return Ok(Proof {
                        siblings,
                        terminal: ProofTerminal::Leaf {
                            key_hash: *k,
                            value_hash: *v,
                        },
                    });
                }
                _ => {
                    let split = slice.partition_point(|(h, _)| !bit(h, depth));
                    let (left, right) = slice.split_at(split);
                    let (mine, other) = if bit(&kh, depth) {
                        (right, left)
                    } else {
                        (left, right)
                    };
                    siblings.push(subtree_root(other, depth + 1));
                    slice = mine;
                    depth += 1;
                }
            }
        }
    }
}

fn subtree_root(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    use keel_proof::{internal_hash, leaf_hash};
    match leaves {
        [] => EMPTY,
        [(k, v)] => leaf_hash(k, v),
        _ => {
            let split = leaves.partition_point(|(h, _)| !bit(h, depth));
            internal_hash(
                &subtree_root(&leaves[..split], depth + 1),
                &subtree_root(&leaves[split..], depth + 1),
            )
        }
    }
}
