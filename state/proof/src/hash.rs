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
    one_block(&LEAF_WORDS, &concat(key_hash, value_hash))
}

/// The hash of an internal node with two children (64 bytes of input).
///
/// Callers must apply the collapse rules first: an internal node is only formed when its
/// subtree holds two or more leaves. `internal_hash(EMPTY, EMPTY)` never occurs in a valid tree.
#[inline]
pub fn internal_hash(left: &Hash, right: &Hash) -> Hash {
    one_block(&NODE_WORDS, &concat(left, right))
}

/// [`leaf_hash`] of each `key_hash || value_hash` in `inputs`, into `out` (as long as
/// `inputs`): the same hashes, computed several at a time in the CPU's vector lanes.
///
/// # Panics
/// If `out` is shorter than `inputs`.
pub fn leaf_hashes(inputs: &[&[u8; 64]], out: &mut [Hash]) {
    many_blocks(&LEAF_WORDS, inputs, out);
}

/// [`internal_hash`] of each `left || right` in `inputs`, into `out` (as long as `inputs`):
/// the same hashes, computed several at a time in the CPU's vector lanes.
///
/// ```
/// use keel_proof::{internal_hash, internal_hashes};
/// let inputs: Vec<[u8; 64]> = (0..20u8).map(|i| [i; 64]).collect();
/// let refs: Vec<&[u8; 64]> = inputs.iter().collect();
/// let mut out = vec![[0u8; 32]; refs.len()];
/// internal_hashes(&refs, &mut out);
/// assert_eq!(out[7], internal_hash(&[7; 32], &[7; 32]));
/// ```
///
/// # Panics
/// If `out` is shorter than `inputs`.
pub fn internal_hashes(inputs: &[&[u8; 64]], out: &mut [Hash]) {
    many_blocks(&NODE_WORDS, inputs, out);
}

fn concat(a: &Hash, b: &Hash) -> [u8; 64] {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(a);
    buf[32..].copy_from_slice(b);
    buf
}

// `keyed_hash(key, input)` of a 64-byte input is exactly one blake3 compression: chaining
// value `key`, the input as the only block (length 64, counter 0), and the flags below. The
// two functions that follow compute that compression with blake3's own implementations
// (the fastest the CPU has, detected at run time) without the incremental hasher around
// them, which cost about as much as the compression itself (96 ns against 55 ns on an AMD
// EPYC), and, for many inputs, in its vector lanes (about 10 ns a hash with AVX-512).
// `blake3::platform` is a hidden module ("for benchmarks only"), which is why the workspace
// pins blake3 exactly; the tests below hold both paths to `blake3::keyed_hash`, and any
// difference would also change the golden roots of the state and engine tests.

/// blake3's flags for the one block of a keyed hash: `CHUNK_START | CHUNK_END | ROOT |
/// KEYED_HASH` (blake3's reference implementation, section 2.1 of its specification).
const CHUNK_START: u8 = 1;
const CHUNK_END: u8 = 1 << 1;
const ROOT: u8 = 1 << 3;
const KEYED_HASH: u8 = 1 << 4;

/// [`LEAF_KEY`] and [`NODE_KEY`] as blake3's little-endian chaining-value words.
const LEAF_WORDS: [u32; 8] = key_words(LEAF_KEY);
const NODE_WORDS: [u32; 8] = key_words(NODE_KEY);

const fn key_words(key: &[u8; 32]) -> [u32; 8] {
    let mut w = [0u32; 8];
    let mut i = 0;
    while i < 8 {
        w[i] = u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
        i += 1;
    }
    w
}

/// `blake3::keyed_hash(key, block)` for the key whose words are `key`.
#[inline]
fn one_block(key: &[u32; 8], block: &[u8; 64]) -> Hash {
    let mut cv = *key;
    blake3::platform::Platform::detect().compress_in_place(
        &mut cv,
        block,
        64,
        0,
        KEYED_HASH | CHUNK_START | CHUNK_END | ROOT,
    );
    blake3::platform::le_bytes_from_words_32(&cv)
}

/// [`one_block`] of each input, in groups of the platform's vector width.
fn many_blocks(key: &[u32; 8], inputs: &[&[u8; 64]], out: &mut [Hash]) {
    assert!(out.len() >= inputs.len(), "output shorter than input");
    let platform = blake3::platform::Platform::detect();
    // At most 16 lanes (AVX-512); `hash_many` also takes longer slices, but a bounded
    // stack buffer keeps this allocation-free.
    const LANES: usize = 16;
    let mut buf = [0u8; 32 * LANES];
    for (ins, outs) in inputs.chunks(LANES).zip(out.chunks_mut(LANES)) {
        let bytes = &mut buf[..32 * ins.len()];
        platform.hash_many(
            ins,
            key,
            0,
            blake3::IncrementCounter::No,
            KEYED_HASH,
            CHUNK_START,
            CHUNK_END | ROOT,
            bytes,
        );
        for (o, b) in outs.iter_mut().zip(bytes.chunks_exact(32)) {
            o.copy_from_slice(b);
        }
    }
}

/// Bit `i` (0 = most significant bit of byte 0) of a key hash: 0 goes left, 1 goes right.
#[inline]
pub fn bit(hash: &Hash, i: usize) -> bool {
    (hash[i / 8] >> (7 - (i % 8))) & 1 == 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    extern crate std;
    use super::*;
    use alloc::vec::Vec;

    fn reference(key: &[u8; 32], block: &[u8; 64]) -> Hash {
        *blake3::keyed_hash(key, block).as_bytes()
    }

    #[test]
    fn one_compression_equals_keyed_hash() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let (a, b) = block.split_at(32);
            let (a, b): (Hash, Hash) = (a.try_into().unwrap(), b.try_into().unwrap());
            assert_eq!(leaf_hash(&a, &b), reference(LEAF_KEY, &block));
            assert_eq!(internal_hash(&a, &b), reference(NODE_KEY, &block));
        }
        // The zero block and the all-ones block.
        for block in [[0u8; 64], [0xff; 64]] {
            assert_eq!(
                internal_hash(&[block[0]; 32], &[block[0]; 32]),
                reference(NODE_KEY, &block)
            );
        }
    }

    #[test]
    fn batches_equal_one_at_a_time_at_every_length() {
        let blocks: Vec<[u8; 64]> = (0..70u32)
            .map(|i| {
                let mut b = [0u8; 64];
                b[..4].copy_from_slice(&i.to_le_bytes());
                b[63] = (i * 7) as u8;
                b
            })
            .collect();
        // Every length from 0 to past four vector widths, so partial groups of lanes too.
        for n in 0..blocks.len() {
            let refs: Vec<&[u8; 64]> = blocks[..n].iter().collect();
            let mut leaves = alloc::vec![[1u8; 32]; n + 1];
            let mut nodes = alloc::vec![[1u8; 32]; n + 1];
            leaf_hashes(&refs, &mut leaves);
            internal_hashes(&refs, &mut nodes);
            for (i, b) in refs.iter().enumerate() {
                assert_eq!(leaves[i], reference(LEAF_KEY, b), "leaf {i} of {n}");
                assert_eq!(nodes[i], reference(NODE_KEY, b), "node {i} of {n}");
            }
            // Past the inputs, `out` is untouched.
            assert_eq!(leaves[n], [1u8; 32]);
            assert_eq!(nodes[n], [1u8; 32]);
        }
    }
}
