//! The hashing rules. Changing anything here changes every state root: it is consensus.

/// A 32-byte blake3 digest.
pub type Hash = [u8; 32];

/// The hash of an empty subtree.
pub const EMPTY: Hash = [0u8; 32];

/// blake3 key for leaf nodes (keyed mode is the domain separation; see crate docs).
const LEAF_KEY: &[u8; 32] = b"keel.merkle.v1.leaf.............";
/// blake3 key for internal nodes.
const NODE_KEY: &[u8; 32] = b"keel.merkle.v1.node.............";

/// The path of a key in the tree: `blake3(key)`.
#[inline]
pub fn key_hash(key: &[u8]) -> Hash {
    *blake3::hash(key).as_bytes()
}

/// The digest of a value stored in a leaf: `blake3(value)`.
#[inline]
pub fn value_hash(value: &[u8]) -> Hash {
    *blake3::hash(value).as_bytes()
}

/// The hash of a leaf: keyed blake3 over `key_hash || value_hash` (64 bytes).
#[inline]
pub fn leaf_hash(key_hash: &Hash, value_hash: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key_hash);
    buf[32..].copy_from_slice(value_hash);
    *blake3::keyed_hash(LEAF_KEY, &buf).as_bytes()
}

/// The hash of an internal node with two children (64 bytes of input).
///
/// Callers must apply the collapse rules first: an internal node is only formed when its
/// subtree holds two or more leaves. `internal_hash(EMPTY, EMPTY)` never occurs in a valid tree.
#[inline]
pub fn internal_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left);
    buf[32..].copy_from_slice(right);
    *blake3::keyed_hash(NODE_KEY, &buf).as_bytes()
}

/// Bit `i` (0 = most significant bit of byte 0) of a key hash: 0 goes left, 1 goes right.
#[inline]
pub fn bit(hash: &Hash, i: usize) -> bool {
    (hash[i / 8] >> (7 - (i % 8))) & 1 == 1
}
