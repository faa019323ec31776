//! Merkle proofs of inclusion and exclusion, and their verification.

use alloc::vec::Vec;
use core::fmt;

use parity_scale_codec::{Decode, Encode};

use crate::hash::{EMPTY, Hash, bit, internal_hash, key_hash, leaf_hash, value_hash};

/// Where the path of the proven key ends in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ProofTerminal {
    /// The path ends in an empty subtree: the key is absent.
    Empty,
    /// The path ends in a leaf. If its key hash is the proven key's, the key is present with
    /// this value hash; otherwise the key is absent and this is the leaf occupying its place.
    Leaf {
        /// `blake3(key)` of the leaf.
        key_hash: Hash,
        /// `blake3(value)` of the leaf.
        value_hash: Hash,
    },
}

/// A proof that a key has a given value, or no value, under a state root.
///
/// `siblings[i]` is the hash of the sibling subtree at depth `i` (depth 0 is the root's
/// children) along the key's path, so the terminal sits at depth `siblings.len()`.
/// Proofs are canonical: the sibling right above the terminal is never empty, because a
/// subtree with a single leaf collapses to that leaf.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Proof {
    /// Sibling hashes from the root down.
    pub siblings: Vec<Hash>,
    /// What the path ends in.
    pub terminal: ProofTerminal,
}

/// Why a proof does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// The proof is deeper than the 256-bit key space.
    TooDeep,
    /// The proof has a shape no canonical tree produces (an empty sibling right above the
    /// terminal, or a terminal leaf that does not share the proven key's path).
    NonCanonical,
    /// The proof says the key holds a value, but the claim was that it is absent.
    KeyPresent,
    /// The proof says the key is absent, but the claim was that it holds a value.
    KeyAbsent,
    /// The proof's value differs from the claimed one.
    ValueMismatch,
    /// The recomputed root differs from the expected root.
    RootMismatch,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::TooDeep => "proof is deeper than 256 levels",
            ProofError::NonCanonical => "proof is not in canonical form",
            ProofError::KeyPresent => "proof shows the key is present",
            ProofError::KeyAbsent => "proof shows the key is absent",
            ProofError::ValueMismatch => "proof's value differs from the claimed value",
            ProofError::RootMismatch => "proof does not lead to the expected root",
        })
    }
}

impl Proof {
    /// Verifies the claim "`key` holds `value`" (or "`key` is absent" when `value` is `None`)
    /// against `root`.
    ///
    /// ```
    /// use keel_proof::{EMPTY, Proof, ProofTerminal, key_hash, leaf_hash, value_hash};
    /// // A tree holding the single pair ("a", "1") has that leaf's hash as its root.
    /// let (kh, vh) = (key_hash(b"a"), value_hash(b"1"));
    /// let root = leaf_hash(&kh, &vh);
    /// let proof = Proof { siblings: vec![], terminal: ProofTerminal::Leaf { key_hash: kh, value_hash: vh } };
    /// assert!(proof.verify(&root, b"a", Some(b"1")).is_ok());
    /// assert!(proof.verify(&root, b"a", Some(b"2")).is_err());
    /// assert!(proof.verify(&root, b"b", None).is_ok()); // "b" is absent: "a" occupies its place
    /// assert!(proof.verify(&EMPTY, b"a", Some(b"1")).is_err());
    /// ```
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        let kh = key_hash(key);
        match (self.proven_value_hash(&kh)?, value) {
            (Some(_), None) => return Err(ProofError::KeyPresent),
            (None, Some(_)) => return Err(ProofError::KeyAbsent),
            (Some(got), Some(want)) if got != value_hash(want) => {
                return Err(ProofError::ValueMismatch);
            }
            _ => {}
        }
        if self.root_for(&kh)? == *root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }

    /// What the proof says of the key with hash `kh`: `Some(value_hash)` if present, `None`
    /// if absent. Checks the terminal's shape, not the root.
    pub fn proven_value_hash(&self, kh: &Hash) -> Result<Option<Hash>, ProofError> {
        let depth = self.siblings.len();
        if depth > 256 {
            return Err(ProofError::TooDeep);
        }
        match &self.terminal {
            ProofTerminal::Empty => Ok(None),
            ProofTerminal::Leaf {
                key_hash,
                value_hash,
            } => {
                if (0..depth).any(|i| bit(key_hash, i) != bit(kh, i)) {
                    return Err(ProofError::NonCanonical);
                }
                Ok((key_hash == kh).then_some(*value_hash))
            }
        }
    }

    /// Recomputes the root implied by this proof for the key with hash `kh`.
    pub fn root_for(&self, kh: &Hash) -> Result<Hash, ProofError> {
        let depth = self.siblings.len();
        if depth > 256 {
            return Err(ProofError::TooDeep);
        }
        if depth > 0 && self.siblings[depth - 1] == EMPTY {
            return Err(ProofError::NonCanonical);
        }
        let mut h = match &self.terminal {
            ProofTerminal::Empty => EMPTY,
            ProofTerminal::Leaf {
                key_hash,
                value_hash,
            } => leaf_hash(key_hash, value_hash),
        };
        for i in (0..depth).rev() {
            let sibling = &self.siblings[i];
            h = if bit(kh, i) {
                internal_hash(sibling, &h)
            } else {
                internal_hash(&h, sibling)
            };
        }
        Ok(h)
    }
}

/// A [`Proof`] with its empty siblings left out: a bitmap says which of the `depth` siblings
/// are present (non-empty), and only those are listed. Same meaning, smaller on the wire
/// (empty siblings occur where keys share long prefixes, i.e. in the deepest proofs).
///
/// Canonical form is enforced on decompression: the bitmap has exactly `ceil(depth / 8)`
/// bytes with no bits set past `depth`, the sibling count equals the number of set bits, and
/// no listed sibling is the empty hash.
///
/// ```
/// use keel_proof::{EMPTY, Proof, ProofTerminal};
/// let proof = Proof {
///     siblings: vec![[7; 32], EMPTY, [9; 32]],
///     terminal: ProofTerminal::Empty,
/// };
/// let c = proof.compress();
/// assert_eq!(c.siblings.len(), 2);
/// assert_eq!(c.decompress().unwrap(), proof);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CompressedProof {
    /// The number of siblings of the full proof (the terminal's depth).
    pub depth: u16,
    /// Bit `i` (MSB-first within each byte) is set when sibling `i` is not empty.
    pub present: Vec<u8>,
    /// The non-empty siblings, from the root down.
    pub siblings: Vec<Hash>,
    /// What the path ends in.
    pub terminal: ProofTerminal,
}

impl Proof {
    /// This proof with its empty siblings left out.
    pub fn compress(&self) -> CompressedProof {
        let depth = self.siblings.len();
        let mut present = alloc::vec![0u8; depth.div_ceil(8)];
        let mut siblings = Vec::new();
        for (i, s) in self.siblings.iter().enumerate() {
            if *s != EMPTY {
                present[i / 8] |= 0x80 >> (i % 8);
                siblings.push(*s);
            }
        }
        CompressedProof {
            depth: u16::try_from(depth).unwrap_or(u16::MAX),
            present,
            siblings,
            terminal: self.terminal.clone(),
        }
    }
}

impl CompressedProof {
    /// The full proof, or `NonCanonical` / `TooDeep` if this one is malformed.
    pub fn decompress(&self) -> Result<Proof, ProofError> {
        let depth = self.depth as usize;
        if depth > 256 {
            return Err(ProofError::TooDeep);
        }
        if self.present.len() != depth.div_ceil(8) {
            return Err(ProofError::NonCanonical);
        }
        if !depth.is_multiple_of(8)
            && let Some(last) = self.present.last()
            && last & (0xffu8 >> (depth % 8)) != 0
        {
            return Err(ProofError::NonCanonical);
        }
        let mut listed = self.siblings.iter();
        let mut siblings = Vec::with_capacity(depth);
        for i in 0..depth {
            if self.present[i / 8] & (0x80 >> (i % 8)) != 0 {
                match listed.next() {
                    Some(s) if *s != EMPTY => siblings.push(*s),
                    _ => return Err(ProofError::NonCanonical),
                }
            } else {
                siblings.push(EMPTY);
            }
        }
        if listed.next().is_some() {
            return Err(ProofError::NonCanonical);
        }
        Ok(Proof {
            siblings,
            terminal: self.terminal.clone(),
        })
    }

    /// Decompresses and verifies (see [`Proof::verify`]).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        self.decompress()?.verify(root, key, value)
    }
}
