//! The sparse Merkle tree, stored as 16-way group nodes (Jellyfish layout), shared by
//! [`crate::MemStore`] and the RocksDB store through the [`NodeReader`] trait.
//!
//! A group node covers 4 binary levels of the tree below a nibble path. Its 16 slots are
//! indexed by the next nibble of the key hash; each is empty, a leaf `(key_hash, value_hash)`,
//! or a pointer `(version, hash)` to the child group one nibble deeper. A slot holds a leaf
//! exactly when one key has that slot's prefix, and a child exactly when two or more do, so one
//! key set has exactly one shape. The root group of version `v` is always stored at
//! `(v, [])`, even when it is empty or holds a single leaf.

// Node encodings and cache walks are only used by the RocksDB store.
#![cfg_attr(not(feature = "rocksdb"), allow(dead_code))]

use std::collections::HashMap;

use keel_proof::{
    EMPTY, Hash, Proof, ProofTerminal, bit, internal_hash, internal_hashes, leaf_hash, leaf_hashes,
};

use crate::{StateError, Version};

/// The deepest nibble path: a key hash has 64 nibbles.
pub(crate) const MAX_NIBBLES: usize = 64;

/// Nibble `d` (0 = the high nibble of byte 0) of a key hash.
#[inline]
pub(crate) fn nibble(h: &Hash, d: usize) -> usize {
    let b = h[d / 2];
    (if d.is_multiple_of(2) {
        b >> 4
    } else {
        b & 0x0f
    }) as usize
}

/// A path of nibbles from the root: the first `len` nibbles of a key hash, zero-padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NibblePath {
    len: u8,
    bytes: [u8; 32],
}

impl std::hash::Hash for NibblePath {
    /// The length and the first 16 bytes (32 nibbles): equal paths hash equally, and paths
    /// that differ only deeper than 32 nibbles (which blake3 key hashes make vanishingly
    /// rare) merely share a hash. Two words instead of five for the commit's maps.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&self.bytes[..8]);
        b.copy_from_slice(&self.bytes[8..16]);
        state.write_u64(u64::from_le_bytes(a) ^ u64::from(self.len));
        state.write_u64(u64::from_le_bytes(b));
    }
}

impl NibblePath {
    /// The root's (empty) path.
    pub(crate) const ROOT: NibblePath = NibblePath {
        len: 0,
        bytes: [0; 32],
    };

    /// The number of nibbles.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Byte `i` of the packed nibbles (`i < 32`; zero past the path's end).
    #[inline]
    pub(crate) fn byte(&self, i: usize) -> u8 {
        self.bytes[i]
    }

    /// This path extended by nibble `n` (`n < 16`; the caller keeps `len < 64`).
    pub(crate) fn child(&self, n: usize) -> NibblePath {
        let mut p = *self;
        let d = self.len();
        let n = (n & 0x0f) as u8;
        if d.is_multiple_of(2) {
            p.bytes[d / 2] |= n << 4;
        } else {
            p.bytes[d / 2] |= n;
        }
        p.len += 1;
        p
    }
}

/// Where a group node is stored: the version that wrote it and its nibble path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeKey {
    pub(crate) version: Version,
    pub(crate) path: NibblePath,
}

impl NodeKey {
    /// The root group of `version`.
    pub(crate) fn root(version: Version) -> NodeKey {
        NodeKey {
            version,
            path: NibblePath::ROOT,
        }
    }

    /// `version` (8 bytes, big-endian) ‖ nibble count (1 byte) ‖ packed nibbles
    /// (`ceil(count / 2)` bytes, high nibble first, a trailing half byte zero).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.path.len().div_ceil(2));
        self.encode_to(&mut out);
        out
    }

    /// Appends [`NodeKey::encode`] to `out`.
    pub(crate) fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.path.len);
        out.extend_from_slice(&self.path.bytes[..self.path.len().div_ceil(2)]);
    }

    /// The length of [`NodeKey::encode`].
    pub(crate) fn encoded_len(&self) -> usize {
        9 + self.path.len().div_ceil(2)
    }

    /// The inverse of [`NodeKey::encode`]; rejects every non-canonical encoding.
    pub(crate) fn decode(bytes: &[u8]) -> Result<NodeKey, StateError> {
        let bad = || StateError::Corrupted(format!("bad node key {}", hex_short(bytes)));
        let (v, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        let (&len, packed) = rest.split_first().ok_or_else(bad)?;
        let len_us = len as usize;
        if len_us > MAX_NIBBLES || packed.len() != len_us.div_ceil(2) {
            return Err(bad());
        }
        if len_us % 2 == 1 && packed.last().is_some_and(|b| b & 0x0f != 0) {
            return Err(bad());
        }
        let mut path = NibblePath::ROOT;
        path.len = len;
        path.bytes[..packed.len()].copy_from_slice(packed);
        Ok(NodeKey {
            version: u64::from_be_bytes(*v),
            path,
        })
    }
}

pub(crate) fn hex_short(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(24).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 24 {
        s.push('…');
    }
    s
}

/// One of a group's 16 slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Slot {
    /// No key has this slot's prefix.
    #[default]
    Empty,
    /// Exactly one key has this prefix. `hash` is `leaf_hash(key_hash, value_hash)`, kept
    /// so that rehashing a group does not rehash its unchanged leaves (not stored on disk).
    Leaf {
        key_hash: Hash,
        value_hash: Hash,
        hash: Hash,
    },
    /// Two or more keys: the child group stored at `(version, path + slot)`, whose subtree
    /// hashes to `hash`.
    Child { version: Version, hash: Hash },
}

/// A group node: 16 slots covering 4 binary levels.
///
/// The slots are private so that the two bitmaps always describe them: a commit sizes,
/// counts and collapses a group from its bitmaps (one cache line) instead of scanning 16
/// slots (about 1.7 KB), which showed as cold-memory time in commit profiles.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Group {
    slots: [Slot; 16],
    /// Bit `i` set: slot `i` is not empty.
    present: u16,
    /// Bit `i` set: slot `i` is a leaf (a subset of `present`).
    leaves: u16,
}

/// What a binary subtree inside a group amounts to (for hashing with the collapse rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Summary {
    Empty,
    /// Exactly one leaf below: the subtree hashes to that leaf's hash.
    Single(Hash),
    /// Two or more leaves below.
    Multi(Hash),
}

impl Summary {
    fn hash(&self) -> Hash {
        match self {
            Summary::Empty => EMPTY,
            Summary::Single(h) | Summary::Multi(h) => *h,
        }
    }

    #[inline]
    fn combine(a: Summary, b: Summary) -> Summary {
        Summary::collapse(a, b)
            .unwrap_or_else(|| Summary::Multi(internal_hash(&a.hash(), &b.hash())))
    }

    /// The collapse rule: what two sibling subtrees amount to together when that needs no
    /// hash (both empty, or one leaf beside an empty subtree); `None` when their parent is
    /// an internal node, `Multi(internal_hash(a, b))`.
    #[inline]
    fn collapse(a: Summary, b: Summary) -> Option<Summary> {
        match (a, b) {
            (Summary::Empty, Summary::Empty) => Some(Summary::Empty),
            (Summary::Empty, Summary::Single(h)) | (Summary::Single(h), Summary::Empty) => {
                Some(Summary::Single(h))
            }
            _ => None,
        }
    }
}

impl Slot {
    /// A leaf slot, with its hash computed.
    pub(crate) fn leaf(key_hash: Hash, value_hash: Hash) -> Slot {
        Slot::Leaf {
            key_hash,
            value_hash,
            hash: leaf_hash(&key_hash, &value_hash),
        }
    }

    fn summary(&self) -> Summary {
        match self {
            Slot::Empty => Summary::Empty,
            Slot::Leaf { hash, .. } => Summary::Single(*hash),
            Slot::Child { hash, .. } => Summary::Multi(*hash),
        }
    }
}

impl Group {
    /// The 16 slots.
    #[inline]
    pub(crate) fn slots(&self) -> &[Slot; 16] {
        &self.slots
    }

    /// Loads the bitmaps' cache line (see `touch`).
    #[inline]
    pub(crate) fn touch(&self) -> usize {
        usize::from(self.present)
    }

    /// Sets slot `i` (`i < 16`), keeping the bitmaps in step.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, slot: Slot) {
        let bit = 1u16 << (i & 15);
        match slot {
            Slot::Empty => {
                self.present &= !bit;
                self.leaves &= !bit;
            }
            Slot::Leaf { .. } => {
                self.present |= bit;
                self.leaves |= bit;
            }
            Slot::Child { .. } => {
                self.present |= bit;
                self.leaves &= !bit;
            }
        }
        self.slots[i & 15] = slot;
    }

    /// The binary subtree summaries of this group (see [`Summaries`]).
    pub(crate) fn table(&self) -> Summaries {
        let mut t = Summaries::default();
        for (i, s) in self.slots.iter().enumerate() {
            t.set(16 + i, s.summary());
        }
        for i in (1..16).rev() {
            t.set(i, Summary::combine(t.get(2 * i), t.get(2 * i + 1)));
        }
        t
    }

    /// The hash of the subtree this group roots (with the collapse rule applied).
    pub(crate) fn hash(&self) -> Hash {
        self.table().get(1).hash()
    }

    /// Brings `t`, this group's table before the slots in `dirty` (bit `i` for slot `i`)
    /// changed, up to date: only the summaries above a changed slot are recomputed, so a
    /// group with one changed slot costs at most 4 internal hashes instead of 15 plus one per
    /// leaf. The result equals [`Group::table`].
    #[cfg(test)]
    pub(crate) fn retable(&self, t: &mut Summaries, dirty: u16) {
        retable_many(&mut [(self, t, dirty)]);
    }

    /// Serialised form: `present` bitmap (u16 BE, bit `i` for slot `i`), `leaf` bitmap (u16 BE,
    /// a subset of `present`), then each present slot in order: a leaf as
    /// `key_hash ‖ value_hash` (64 bytes), a child as `version` (u64 BE) ‖ `hash` (40 bytes).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + 16 * 64);
        self.encode_into(&mut body);
        body
    }

    /// [`Group::encode`] into `body` (cleared first), so a caller can reuse one buffer.
    pub(crate) fn encode_into(&self, body: &mut Vec<u8>) {
        body.clear();
        body.extend_from_slice(&[0, 0, 0, 0]);
        let (present, leaves) = self.push_slots(0xffff, body);
        body[..2].copy_from_slice(&present.to_be_bytes());
        body[2..4].copy_from_slice(&leaves.to_be_bytes());
    }

    /// The inverse of [`Group::encode`]; any malformed input is `Corrupted`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Group, StateError> {
        let (head, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| bad_group("truncated header"))?;
        let present = u16::from_be_bytes([head[0], head[1]]);
        let leaves = u16::from_be_bytes([head[2], head[3]]);
        let mut g = Group::default();
        decode_slots(&mut g, present, leaves, rest)?;
        Ok(g)
    }

    /// The encoded size of [`Group::encode`].
    pub(crate) fn encoded_len(&self) -> usize {
        4 + self.slots_len(0xffff)
    }

    /// The encoded size of the slots in `mask` (64 bytes a leaf, 40 a child, 0 empty).
    fn slots_len(&self, mask: u16) -> usize {
        let leaves = (self.leaves & mask).count_ones() as usize;
        let children = (self.present & !self.leaves & mask).count_ones() as usize;
        64 * leaves + 40 * children
    }

    /// The encoded size of [`Group::encode_delta_into`] for the slots in `dirty`.
    pub(crate) fn delta_len(&self, dirty: u16) -> usize {
        DELTA_HEADER + self.slots_len(dirty)
    }

    /// A *delta record*: this group as the group stored at `(base, same path)` with the slots
    /// in `dirty` replaced (all other slots equal). Layout: the marker `00 00 ff ff` (a
    /// `present`/`leaf` header no full encoding has: `leaf` is never outside `present`),
    /// `base` (u64 BE), `dirty` (u16 BE), then the slots in `dirty` in the full encoding's
    /// form: `present` and `leaf` bitmaps (u16 BE, subsets of `dirty`) and each present one.
    /// A dirty slot that is not present became empty.
    pub(crate) fn encode_delta_into(&self, base: Version, dirty: u16, body: &mut Vec<u8>) {
        body.clear();
        body.extend_from_slice(&DELTA_MARKER);
        body.extend_from_slice(&base.to_be_bytes());
        body.extend_from_slice(&dirty.to_be_bytes());
        let at = body.len();
        body.extend_from_slice(&[0, 0, 0, 0]);
        let (present, leaves) = self.push_slots(dirty, body);
        body[at..at + 2].copy_from_slice(&present.to_be_bytes());
        body[at + 2..at + 4].copy_from_slice(&leaves.to_be_bytes());
    }

    /// Appends the slots in `mask` to `body`; returns their `present` and `leaf` bitmaps.
    /// Only the present slots in `mask` are read.
    fn push_slots(&self, mask: u16, body: &mut Vec<u8>) -> (u16, u16) {
        let present = self.present & mask;
        let leaves = self.leaves & mask;
        body.reserve(self.slots_len(mask));
        let mut rest = present;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            match &self.slots[i] {
                Slot::Empty => {}
                Slot::Leaf {
                    key_hash,
                    value_hash,
                    ..
                } => {
                    body.extend_from_slice(key_hash);
                    body.extend_from_slice(value_hash);
                }
                Slot::Child { version, hash } => {
                    body.extend_from_slice(&version.to_be_bytes());
                    body.extend_from_slice(hash);
                }
            }
        }
        (present, leaves)
    }

    /// The number of non-empty slots.
    #[inline]
    fn occupied(&self) -> usize {
        self.present.count_ones() as usize
    }

    /// The one leaf of a group whose only non-empty slot is a leaf.
    fn only_leaf(&self) -> Option<&Slot> {
        if self.present.count_ones() == 1 && self.leaves == self.present {
            Some(&self.slots[self.leaves.trailing_zeros() as usize])
        } else {
            None
        }
    }
}

/// The first four bytes of a delta record (see [`Group::encode_delta_into`]).
const DELTA_MARKER: [u8; 4] = [0, 0, 0xff, 0xff];
/// Marker, base version, `dirty`, `present` and `leaf` bitmaps.
const DELTA_HEADER: usize = 4 + 8 + 2 + 4;

fn bad_group(why: &str) -> StateError {
    StateError::Corrupted(format!("bad group node: {why}"))
}

/// Decodes the slots of a `present`/`leaf` header from `rest` into `g` (only the slots in
/// `present` are written); `rest` must hold exactly them.
fn decode_slots(
    g: &mut Group,
    present: u16,
    leaves: u16,
    mut rest: &[u8],
) -> Result<(), StateError> {
    if leaves & !present != 0 {
        return Err(bad_group("leaf bitmap outside present bitmap"));
    }
    for i in 0..16 {
        if present & (1 << i) == 0 {
            continue;
        }
        if leaves & (1 << i) != 0 {
            let (kh, r) = rest
                .split_first_chunk::<32>()
                .ok_or_else(|| bad_group("truncated leaf"))?;
            let (vh, r) = r
                .split_first_chunk::<32>()
                .ok_or_else(|| bad_group("truncated leaf"))?;
            g.set(i, Slot::leaf(*kh, *vh));
            rest = r;
        } else {
            let (v, r) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| bad_group("truncated child"))?;
            let (h, r) = r
                .split_first_chunk::<32>()
                .ok_or_else(|| bad_group("truncated child"))?;
            g.set(
                i,
                Slot::Child {
                    version: u64::from_be_bytes(*v),
                    hash: *h,
                },
            );
            rest = r;
        }
    }
    if !rest.is_empty() {
        return Err(bad_group("trailing bytes"));
    }
    Ok(())
}

/// One stored group record: a whole group, or a delta against the record of an earlier
/// version at the same path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Full(Group),
    /// The group at `(base, same path)` with the slots in `dirty` replaced by those of
    /// `slots` (whose other slots are empty).
    Delta {
        base: Version,
        dirty: u16,
        slots: Group,
    },
}

impl Record {
    /// Decodes [`Group::encode`] or [`Group::encode_delta_into`]; anything else is
    /// `Corrupted`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, StateError> {
        let Some(rest) = bytes.strip_prefix(&DELTA_MARKER) else {
            return Group::decode(bytes).map(Record::Full);
        };
        let (base, rest) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad_group("truncated delta"))?;
        let (head, rest) = rest
            .split_first_chunk::<6>()
            .ok_or_else(|| bad_group("truncated delta"))?;
        let dirty = u16::from_be_bytes([head[0], head[1]]);
        let present = u16::from_be_bytes([head[2], head[3]]);
        let leaves = u16::from_be_bytes([head[4], head[5]]);
        if present & !dirty != 0 {
            return Err(bad_group("delta slot outside its dirty bitmap"));
        }
        let mut slots = Group::default();
        decode_slots(&mut slots, present, leaves, rest)?;
        Ok(Record::Delta {
            base: u64::from_be_bytes(*base),
            dirty,
            slots,
        })
    }
}

impl Group {
    /// Replaces the slots in `dirty` by those of `slots` (a delta record's).
    pub(crate) fn apply_delta(&mut self, dirty: u16, slots: &Group) {
        let mut rest = dirty;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            self.set(i, slots.slots[i]);
        }
    }
}

/// A group's precomputed summary table (see `Group::table`).
pub(crate) type Table = Box<Summaries>;

/// The summaries of a group's binary subtrees as a heap: index 1 is the group's root, `2i`
/// and `2i + 1` are the children of `i`, and 16..32 are the slots.
///
/// Laid out for the commit's memory access: summary `i`'s hash is the 32 bytes at offset
/// `32 i` and the kind bitmaps sit in the first 32 bytes, so two siblings are 64
/// contiguous bytes and the kinds sit beside the root's hash (a 33-byte enum per summary
/// put siblings 66 bytes apart, across two or three lines). Not `align(64)`, which would
/// put each pair in exactly one line: glibc serves over-aligned boxes by splitting
/// chunks, and the churn of a full cache then fragmented the heap (about 0.2 GiB more peak
/// RSS at 10M keys: BENCHMARKS.md, fourth session). An empty summary's hash bytes are
/// zero, so equal tables compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Summaries {
    /// Bit `i`: summary `i` is [`Summary::Single`].
    single: u32,
    /// Bit `i`: summary `i` is [`Summary::Multi`].
    multi: u32,
    _pad: [u8; 24],
    /// `hashes[i - 1]` is summary `i`'s hash.
    hashes: [Hash; 31],
}

impl Summaries {
    /// Summary `i` (`1 <= i < 32`).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Summary {
        let bit = 1u32 << (i & 31);
        if self.multi & bit != 0 {
            Summary::Multi(self.hashes[(i & 31).saturating_sub(1)])
        } else if self.single & bit != 0 {
            Summary::Single(self.hashes[(i & 31).saturating_sub(1)])
        } else {
            Summary::Empty
        }
    }

    /// Sets summary `i` (`1 <= i < 32`).
    #[inline]
    pub(crate) fn set(&mut self, i: usize, s: Summary) {
        let i = i & 31;
        let bit = 1u32 << i;
        self.single &= !bit;
        self.multi &= !bit;
        let h = &mut self.hashes[i.saturating_sub(1)];
        match s {
            Summary::Empty => *h = [0; 32],
            Summary::Single(x) => {
                self.single |= bit;
                *h = x;
            }
            Summary::Multi(x) => {
                self.multi |= bit;
                *h = x;
            }
        }
    }

    /// The hashes of summaries `2p` and `2p + 1` (`1 <= p < 16`), side by side: the input
    /// of summary `p`'s internal hash.
    #[inline]
    fn children(&self, p: usize) -> &[u8; 64] {
        let at = 32 * (2 * (p & 15)).saturating_sub(1);
        match self
            .hashes
            .as_flattened()
            .get(at..)
            .and_then(|s| s.first_chunk::<64>())
        {
            Some(b) => b,
            None => &[0; 64],
        }
    }

    /// Loads the cache line of summary `i` and its sibling (see `touch`).
    #[inline]
    pub(crate) fn touch(&self, i: usize) -> usize {
        usize::from(self.hashes[(i & 31).saturating_sub(1)][0])
    }
}

/// Read access to stored group nodes. A missing node is `Corrupted`: the tree only points
/// at nodes that were written, and callers check version availability first.
pub(crate) trait NodeReader {
    /// The group stored at `key`.
    fn node(&self, key: &NodeKey) -> Result<Group, StateError>;

    /// The group at `key` with its summary table (see `Group::table`) if one is at hand
    /// (cached), so proofs need not rehash it.
    fn node_with_table(&self, key: &NodeKey) -> Result<(Group, Option<Table>), StateError> {
        Ok((self.node(key)?, None))
    }

    /// The group at `key` for an update that replaces it (so a reader may hand over a
    /// cached copy instead of cloning it), with its table if one is at hand.
    fn take_node(&self, key: &NodeKey) -> Result<(Box<Group>, Option<Table>), StateError> {
        let (g, t) = self.node_with_table(key)?;
        Ok((Box::new(g), t))
    }

    /// Called with each group an update writes, in the order of [`TreeUpdate::new_nodes`]
    /// (deepest first, in walk order within a depth), right after the group is hashed,
    /// while its memory is still in the CPU's caches: a
    /// store encodes the group's record here instead of walking thousands of groups again
    /// after the update (which profiles showed as cache misses). If the update then fails,
    /// whatever was noted is discarded with it.
    fn wrote(&self, _w: &Written) {}
}

/// The summary of slots `first..first + width` (a binary subtree of the group), hashing
/// only what it must.
fn range_summary(slots: &[Slot; 16], first: usize, width: usize) -> Summary {
    if width == 1 {
        return slots[first].summary();
    }
    let half = width / 2;
    Summary::combine(
        range_summary(slots, first, half),
        range_summary(slots, first + half, half),
    )
}

/// Whether slots `first..first + width` are empty (`Empty`), hold exactly one leaf
/// (`Single`, with a placeholder hash), or more (`Multi`, placeholder hash). No hashing.
fn range_shape(slots: &[Slot; 16], first: usize, width: usize) -> Summary {
    let mut shape = Summary::Empty;
    for s in &slots[first..first + width] {
        shape = match (shape, s) {
            (_, Slot::Empty) => shape,
            (Summary::Empty, Slot::Leaf { .. }) => Summary::Single(EMPTY),
            _ => return Summary::Multi(EMPTY),
        };
    }
    shape
}

impl NodeReader for HashMap<NodeKey, Box<Group>> {
    fn node(&self, key: &NodeKey) -> Result<Group, StateError> {
        self.get(key)
            .map(|g| Group::clone(g))
            .ok_or_else(|| missing(key))
    }
}

pub(crate) fn missing(key: &NodeKey) -> StateError {
    StateError::Corrupted(format!(
        "missing tree node (version {}, {} nibbles)",
        key.version,
        key.path.len()
    ))
}

/// The result of applying a batch to the tree.
#[derive(Debug, Default)]
pub(crate) struct TreeUpdate {
    /// Groups written by this version, deepest first (see [`NodeReader::wrote`]).
    pub(crate) new_nodes: Vec<Written>,
    /// Groups of earlier versions that this version replaced or removed.
    pub(crate) stale: Vec<NodeKey>,
    /// The new root hash.
    pub(crate) root: Hash,
}

/// A group written by an update.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) key: NodeKey,
    pub(crate) group: Box<Group>,
    /// Its summary table (see `Group::table`).
    pub(crate) table: Table,
    /// The slots that differ from the group this one replaces at the same path, if it
    /// replaces one (a superset: a dirty slot may hold what it held). Meaningless for a
    /// group at a path that had none.
    pub(crate) dirty: u16,
    /// The index in [`TreeUpdate::stale`] of the group this one replaces at the same path,
    /// if any. `stale` lists groups in the order the update took them from its reader
    /// ([`NodeReader::take_node`]), so a reader can keep what it knows of each taken group
    /// in a list instead of a map.
    pub(crate) replaces: Option<usize>,
}

/// One change as the walk sees it: a key hash and, for a put, the value hash and the
/// leaf's hash (all leaf hashes of a batch are computed together, in vector lanes).
#[derive(Clone, Copy)]
struct Change {
    key: Hash,
    put: Option<Put>,
}

#[derive(Clone, Copy)]
struct Put {
    value: Hash,
    leaf: Hash,
}

/// What a slot's subtree became after the walk.
enum Sub {
    Empty,
    Leaf(Hash, Hash, Hash),
    /// The group at this index of [`Ctx::pending`], not hashed yet.
    Group(usize),
}

/// A group the walk finished: its slots are final except for the hashes of the child
/// groups this update wrote, which hold [`pending_ref`]s until those children are hashed.
struct Pending {
    key: NodeKey,
    group: Box<Group>,
    /// Its table before the slots in `table_dirty` changed: the table of the group it
    /// replaces if that was at hand, else a fresh one (allocated here, during the walk, so
    /// that the tables along a path lie near each other in memory, as the groups do).
    table: Table,
    table_dirty: u16,
    dirty: u16,
    replaces: Option<usize>,
}

impl Pending {
    fn new(
        key: NodeKey,
        group: Box<Group>,
        table: Option<Table>,
        dirty: u16,
        replaces: Option<usize>,
    ) -> Pending {
        let (table, table_dirty) = match table {
            Some(t) => (t, dirty),
            None => (Box::default(), 0xffff),
        };
        Pending {
            key,
            group,
            table,
            table_dirty,
            dirty,
            replaces,
        }
    }
}

struct Ctx<'a, R: ?Sized> {
    reader: &'a R,
    version: Version,
    stale: Vec<NodeKey>,
    /// The groups finished by the walk, each after those below it.
    pending: Vec<Pending>,
}

/// Applies `changes` (sorted by key hash, distinct key hashes; `Some(value_hash)` puts,
/// `None` deletes) to the tree whose root group is `(prev_version, [])`, writing version
/// `version`. The root group of the new version is always written. `capacity`: about how
/// many groups the update will write (its lists start that long).
///
/// Two passes. The walk applies the changes to the groups' slots, leaving every hash of
/// a group it changes for later; then the groups it finished are hashed a nibble depth at
/// a time, deepest first, each depth's internal nodes one binary level at a time across
/// all its groups, so that the hashes of many groups are computed together in the CPU's
/// vector lanes ([`keel_proof::internal_hashes`]) instead of one compression after the
/// other. The hashes are the same either way; only the speed differs.
pub(crate) fn apply<R: NodeReader + ?Sized>(
    reader: &R,
    prev_version: Version,
    version: Version,
    changes: &[(Hash, Option<Hash>)],
    capacity: usize,
) -> Result<TreeUpdate, StateError> {
    let changes = with_leaf_hashes(changes);
    let mut ctx = Ctx {
        reader,
        version,
        stale: Vec::with_capacity(capacity),
        pending: Vec::with_capacity(capacity),
    };
    let root_key = NodeKey::root(prev_version);
    let (mut root, table) = reader.take_node(&root_key)?;
    touch(&root, None, nibbles_at(&changes, 0));
    ctx.stale.push(root_key);
    let dirty = update_slots(&mut ctx, NibblePath::ROOT, &mut root, &changes)?;
    ctx.pending.push(Pending::new(
        NodeKey::root(version),
        root,
        table,
        dirty,
        Some(0),
    ));
    let (new_nodes, root) = hash_pending(reader, version, ctx.pending);
    Ok(TreeUpdate {
        new_nodes,
        stale: ctx.stale,
        root,
    })
}

/// `changes` with the leaf hash of each put, computed in one batch.
fn with_leaf_hashes(changes: &[(Hash, Option<Hash>)]) -> Vec<Change> {
    let blocks: Vec<[u8; 64]> = changes
        .iter()
        .filter_map(|(k, v)| {
            v.map(|v| {
                let mut b = [0u8; 64];
                b[..32].copy_from_slice(k);
                b[32..].copy_from_slice(&v);
                b
            })
        })
        .collect();
    let refs: Vec<&[u8; 64]> = blocks.iter().collect();
    let mut leaves = vec![EMPTY; refs.len()];
    leaf_hashes(&refs, &mut leaves);
    let mut leaves = leaves.into_iter();
    changes
        .iter()
        .map(|&(key, v)| Change {
            key,
            put: v.map(|value| Put {
                value,
                // One leaf hash per put, in order: never short.
                leaf: leaves.next().unwrap_or(EMPTY),
            }),
        })
        .collect()
}

/// The slots (bit `i` for slot `i`) that `changes` fall in at nibble depth `depth`.
#[inline]
fn nibbles_at(changes: &[Change], depth: usize) -> u16 {
    if depth >= MAX_NIBBLES {
        return 0;
    }
    changes
        .iter()
        .fold(0u16, |m, c| m | 1 << nibble(&c.key, depth))
}

/// Loads the cache lines of `group` (its bitmaps and the slots in `dirty`) and of its table
/// (the summaries above those slots, which the hashing reads) that the update of those slots will
/// touch, all at once and before any is needed. A group just taken from the cache is
/// usually in none of the CPU's caches; read in the order the update needs them, its
/// lines would each wait for the last. Loads whose results are never used do not hold up
/// the instructions after them, so their misses overlap. Only timing depends on this.
#[inline]
fn touch(group: &Group, table: Option<&Summaries>, dirty: u16) {
    let mut acc = usize::from(group.present);
    let mut m = dirty;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        m &= m - 1;
        acc = acc.wrapping_add(usize::from(matches!(
            group.slots[i & 15],
            Slot::Leaf { .. }
        )));
        if let Some(t) = table {
            let mut idx = 16 + (i & 15);
            while idx > 1 {
                acc = acc.wrapping_add(t.touch(idx));
                idx /= 2;
            }
        }
    }
    if let Some(t) = table {
        // The root's line, with the kind bitmaps.
        acc = acc.wrapping_add(t.touch(1));
    }
    std::hint::black_box(acc);
}

/// The (empty) root group every store starts with at version 0.
pub(crate) fn genesis() -> (NodeKey, Group) {
    (NodeKey::root(0), Group::default())
}

/// The hash a child slot holds while the child is [`Pending`] number `i`: the slot is
/// rewritten with the child's hash before its group is hashed or stored. Only slots this
/// update set have its version, so no other slot is ever taken for one.
fn pending_ref(i: usize) -> Hash {
    let mut h = EMPTY;
    h[..8].copy_from_slice(&(i as u64).to_le_bytes());
    h
}

fn pending_index(h: &Hash) -> usize {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_le_bytes(b) as usize
}

/// Groups hashed together: enough for full vector lanes at every binary level, few enough
/// that their lines (bitmaps, changed slots, the table's summaries above them) stay in
/// the L2 cache between the levels.
const HASH_CHUNK: usize = 256;

/// Hashes the walk's groups (see [`apply`]) and hands each to the reader
/// ([`NodeReader::wrote`]); returns them, deepest first and in walk order within a depth,
/// and the root hash (the last group is the root).
fn hash_pending<R: NodeReader + ?Sized>(
    reader: &R,
    version: Version,
    pending: Vec<Pending>,
) -> (Vec<Written>, Hash) {
    let n = pending.len();
    // Walk order within each depth, deepest first: a counting sort.
    let mut starts = [0usize; MAX_NIBBLES + 2];
    for p in &pending {
        starts[MAX_NIBBLES - p.key.path.len().min(MAX_NIBBLES) + 1] += 1;
    }
    for d in 1..starts.len() {
        starts[d] += starts[d - 1];
    }
    let mut order = vec![0usize; n];
    for (i, p) in pending.iter().enumerate() {
        let place = &mut starts[MAX_NIBBLES - p.key.path.len().min(MAX_NIBBLES)];
        order[*place] = i;
        *place += 1;
    }
    let mut slots: Vec<Option<Pending>> = pending.into_iter().map(Some).collect();
    let mut roots = vec![EMPTY; n];
    let mut out = Vec::with_capacity(n);
    let mut root = EMPTY;
    let mut at = 0;
    while at < n {
        // A chunk never spans two depths: a group's children are all hashed before it.
        let depth = slots[order[at]].as_ref().map_or(0, |p| p.key.path.len());
        let mut end = at;
        while end < n
            && end - at < HASH_CHUNK
            && slots[order[end]]
                .as_ref()
                .is_some_and(|p| p.key.path.len() == depth)
        {
            end += 1;
        }
        let end = end.max(at + 1);
        let mut chunk: Vec<(usize, Pending)> = order[at..end]
            .iter()
            .filter_map(|&i| Some((i, slots[i].take()?)))
            .collect();
        for (_, p) in &chunk {
            touch(&p.group, Some(&p.table), p.table_dirty);
        }
        for (_, p) in &mut chunk {
            let mut rest = p.dirty;
            while rest != 0 {
                let s = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                if let Slot::Child { version: v, hash } = p.group.slots[s]
                    && v == version
                {
                    debug_assert!(pending_index(&hash) < n, "child slot without its group");
                    let h = roots.get(pending_index(&hash)).copied().unwrap_or(EMPTY);
                    p.group.set(
                        s,
                        Slot::Child {
                            version: v,
                            hash: h,
                        },
                    );
                }
            }
        }
        {
            let mut items: Vec<(&Group, &mut Summaries, u16)> = chunk
                .iter_mut()
                .map(|(_, p)| (&*p.group, &mut *p.table, p.table_dirty))
                .collect();
            retable_many(&mut items);
        }
        for (i, p) in chunk {
            let hash = p.table.get(1).hash();
            roots[i] = hash;
            root = hash;
            let w = Written {
                key: p.key,
                group: p.group,
                table: p.table,
                dirty: p.dirty,
                replaces: p.replaces,
            };
            reader.wrote(&w);
            out.push(w);
        }
        at = end;
    }
    (out, root)
}

/// Brings each item's table (`Summaries`) up to date after the slots in its `dirty` changed
/// (an item with a fresh default table and `dirty` 0xffff gets the whole table): only the
/// summaries above a changed slot are recomputed, one binary level at a time across all
/// items, the internal hashes of a level together ([`keel_proof::internal_hashes`]). Each
/// result equals [`Group::table`].
pub(crate) fn retable_many(items: &mut [(&Group, &mut Summaries, u16)]) {
    // Per item, the heap positions of the level below the one being combined into, as a
    // bitmap from that level's first index.
    let mut masks: Vec<u32> = Vec::with_capacity(items.len());
    for (g, t, dirty) in items.iter_mut() {
        let mut rest = *dirty;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            t.set(16 + i, g.slots[i].summary());
        }
        masks.push(u32::from(*dirty));
    }
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    let mut hashes: Vec<Hash> = Vec::new();
    for width in [8usize, 4, 2, 1] {
        jobs.clear();
        for (k, ((_, t, _), mask)) in items.iter_mut().zip(masks.iter_mut()).enumerate() {
            let mut parents = 0u32;
            let mut m = *mask;
            while m != 0 {
                let j = m.trailing_zeros();
                m &= m - 1;
                parents |= 1 << (j / 2);
            }
            *mask = parents;
            let mut rest = parents;
            while rest != 0 {
                let j = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let p = width + j;
                match Summary::collapse(t.get(2 * p), t.get(2 * p + 1)) {
                    Some(s) => t.set(p, s),
                    None => jobs.push((k, p)),
                }
            }
        }
        if jobs.is_empty() {
            continue;
        }
        let blocks: Vec<&[u8; 64]> = jobs.iter().map(|&(k, p)| items[k].1.children(p)).collect();
        hashes.clear();
        hashes.resize(blocks.len(), EMPTY);
        internal_hashes(&blocks, &mut hashes);
        drop(blocks);
        for (&(k, p), h) in jobs.iter().zip(&hashes) {
            items[k].1.set(p, Summary::Multi(*h));
        }
    }
}

/// Applies `changes` (all under `path`) to `group`; returns the slots it changed (bit `i`
/// for slot `i`).
fn update_slots<R: NodeReader + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    path: NibblePath,
    group: &mut Group,
    changes: &[Change],
) -> Result<u16, StateError> {
    let depth = path.len();
    if depth >= MAX_NIBBLES {
        return Err(StateError::Corrupted(
            "tree deeper than 64 nibbles (duplicate key hash)".into(),
        ));
    }
    let mut i = 0;
    let mut dirty = 0u16;
    while i < changes.len() {
        let n = nibble(&changes[i].key, depth);
        dirty |= 1 << n;
        let j = i + changes[i..].partition_point(|c| nibble(&c.key, depth) == n);
        let sub = &changes[i..j];
        i = j;
        let child_path = path.child(n);
        let result = match group.slots[n] {
            // The common cases without building a change list: one change to an empty slot
            // or to the leaf it names.
            Slot::Empty if sub.len() == 1 => match sub[0].put {
                Some(p) => Sub::Leaf(sub[0].key, p.value, p.leaf),
                None => Sub::Empty,
            },
            Slot::Leaf { key_hash, .. } if sub.len() == 1 && sub[0].key == key_hash => {
                match sub[0].put {
                    Some(p) => Sub::Leaf(key_hash, p.value, p.leaf),
                    None => Sub::Empty,
                }
            }
            Slot::Empty => {
                let puts: Vec<Change> = sub.iter().filter(|c| c.put.is_some()).copied().collect();
                build(ctx, child_path, &puts)?
            }
            Slot::Leaf {
                key_hash,
                value_hash,
                hash,
            } => {
                let kept = Change {
                    key: key_hash,
                    put: Some(Put {
                        value: value_hash,
                        leaf: hash,
                    }),
                };
                let mut puts: Vec<Change> = Vec::with_capacity(sub.len() + 1);
                let mut seen = false;
                for c in sub {
                    if !seen && c.key >= key_hash {
                        seen = true;
                        if c.key != key_hash {
                            puts.push(kept);
                        }
                    }
                    if c.put.is_some() {
                        puts.push(*c);
                    }
                }
                if !seen {
                    puts.push(kept);
                }
                build(ctx, child_path, &puts)?
            }
            Slot::Child { version, .. } => {
                let key = NodeKey {
                    version,
                    path: child_path,
                };
                let (mut child, table) = ctx.reader.take_node(&key)?;
                touch(&child, None, nibbles_at(sub, depth + 1));
                let taken = ctx.stale.len();
                ctx.stale.push(key);
                let child_dirty = update_slots(ctx, child_path, &mut child, sub)?;
                finish(ctx, child_path, child, table, child_dirty, Some(taken))
            }
        };
        group.set(
            n,
            match result {
                Sub::Empty => Slot::Empty,
                Sub::Leaf(k, v, hash) => Slot::Leaf {
                    key_hash: k,
                    value_hash: v,
                    hash,
                },
                Sub::Group(i) => Slot::Child {
                    version: ctx.version,
                    hash: pending_ref(i),
                },
            },
        );
    }
    Ok(dirty)
}

/// A fresh subtree at `path` holding exactly `puts` (all puts, sorted).
fn build<R: NodeReader + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    path: NibblePath,
    puts: &[Change],
) -> Result<Sub, StateError> {
    match puts {
        [] => Ok(Sub::Empty),
        [c] => Ok(match c.put {
            Some(p) => Sub::Leaf(c.key, p.value, p.leaf),
            None => Sub::Empty,
        }),
        _ => {
            let mut g = Box::<Group>::default();
            update_slots(ctx, path, &mut g, puts)?;
            Ok(finish(ctx, path, g, None, 0xffff, None))
        }
    }
}

/// Collapses a non-root group after the walk changed it, or keeps it for hashing
/// (`table`: its table before the slots in `dirty` changed, if at hand; `replaces`: see
/// [`Written::replaces`]).
fn finish<R: NodeReader + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    path: NibblePath,
    g: Box<Group>,
    table: Option<Table>,
    dirty: u16,
    replaces: Option<usize>,
) -> Sub {
    if g.occupied() == 0 {
        return Sub::Empty;
    }
    if let Some(Slot::Leaf {
        key_hash,
        value_hash,
        hash,
    }) = g.only_leaf()
    {
        return Sub::Leaf(*key_hash, *value_hash, *hash);
    }
    let i = ctx.pending.len();
    ctx.pending.push(Pending::new(
        NodeKey {
            version: ctx.version,
            path,
        },
        g,
        table,
        dirty,
        replaces,
    ));
    Sub::Group(i)
}

/// A proof for the key with hash `kh` in the tree whose root group is at `version`.
pub(crate) fn prove<R: NodeReader + ?Sized>(
    reader: &R,
    version: Version,
    kh: &Hash,
) -> Result<Proof, StateError> {
    let mut siblings = Vec::with_capacity(32);
    let mut key = NodeKey::root(version);
    let mut expected: Option<Hash> = None;
    loop {
        let depth = key.path.len();
        if depth >= MAX_NIBBLES {
            return Err(StateError::Corrupted("tree deeper than 64 nibbles".into()));
        }
        let (group, table) = reader.node_with_table(&key)?;
        // The summary of heap index `idx` at `level` (its slots: `first..first + width`).
        let summary = |idx: usize, level: usize, need_hash: bool| -> Summary {
            if let Some(t) = &table {
                return t.get(idx);
            }
            let width = 16 >> level;
            let first = (idx << (4 - level)) - 16;
            if need_hash {
                range_summary(&group.slots, first, width)
            } else {
                range_shape(&group.slots, first, width)
            }
        };
        if let Some(h) = expected {
            // A child group must hold two or more leaves (and, when its hashes are at hand,
            // match its parent's pointer).
            let ok = match (&table, summary(1, 0, false)) {
                (Some(t), _) => matches!(t.get(1), Summary::Multi(got) if got == h),
                (None, s) => matches!(s, Summary::Multi(_)),
            };
            if !ok {
                return Err(StateError::Corrupted(format!(
                    "child group (version {}, {} nibbles) does not match its parent",
                    key.version, depth
                )));
            }
        }
        let mut idx = 1usize;
        let mut level = 0usize;
        loop {
            match summary(idx, level, false) {
                Summary::Empty => {
                    return Ok(Proof {
                        siblings,
                        terminal: ProofTerminal::Empty,
                    });
                }
                Summary::Single(_) => {
                    // The one leaf in the slot range below `idx`.
                    let width = 16 >> level;
                    let first = (idx << (4 - level)) - 16;
                    for s in &group.slots[first..first + width] {
                        if let Slot::Leaf {
                            key_hash,
                            value_hash,
                            ..
                        } = s
                        {
                            return Ok(Proof {
                                siblings,
                                terminal: ProofTerminal::Leaf {
                                    key_hash: *key_hash,
                                    value_hash: *value_hash,
                                },
                            });
                        }
                    }
                    return Err(StateError::Corrupted("group summary without leaf".into()));
                }
                Summary::Multi(_) => {}
            }
            if level == 4 {
                break;
            }
            let b = bit(kh, depth * 4 + level);
            let (mine, other) = if b {
                (2 * idx + 1, 2 * idx)
            } else {
                (2 * idx, 2 * idx + 1)
            };
            siblings.push(summary(other, level + 1, true).hash());
            idx = mine;
            level += 1;
        }
        let n = idx - 16;
        match group.slots[n] {
            Slot::Child { version, hash } => {
                expected = Some(hash);
                key = NodeKey {
                    version,
                    path: key.path.child(n),
                };
            }
            _ => return Err(StateError::Corrupted("multi summary on a leaf slot".into())),
        }
    }
}

/// Visits the groups reachable from the root of `version` down to `max_depth` nibbles,
/// calling `f` on each (used to warm node caches).
pub(crate) fn walk_top<R: NodeReader + ?Sized>(
    reader: &R,
    version: Version,
    max_depth: usize,
    f: &mut dyn FnMut(NodeKey, &Group),
) -> Result<(), StateError> {
    let mut stack = vec![NodeKey::root(version)];
    while let Some(key) = stack.pop() {
        let g = reader.node(&key)?;
        if key.path.len() < max_depth.min(MAX_NIBBLES - 1) {
            for (n, s) in g.slots.iter().enumerate() {
                if let Slot::Child { version, .. } = s {
                    stack.push(NodeKey {
                        version: *version,
                        path: key.path.child(n),
                    });
                }
            }
        }
        f(key, &g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn node_key_roundtrip_and_strictness() {
        let mut p = NibblePath::ROOT;
        for n in [3, 15, 0, 7, 9] {
            p = p.child(n);
            let k = NodeKey {
                version: 42,
                path: p,
            };
            assert_eq!(NodeKey::decode(&k.encode()).unwrap(), k);
        }
        assert!(NodeKey::decode(&[0; 8]).is_err());
        // odd length with a non-zero padding nibble
        let mut bad = NodeKey {
            version: 1,
            path: NibblePath::ROOT.child(1),
        }
        .encode();
        *bad.last_mut().unwrap() |= 1;
        assert!(NodeKey::decode(&bad).is_err());
        let mut long = vec![0u8; 8];
        long.push(65);
        long.extend_from_slice(&[0; 33]);
        assert!(NodeKey::decode(&long).is_err());
    }

    #[test]
    fn group_roundtrip_and_strictness() {
        let mut g = Group::default();
        g.set(0, Slot::leaf([1; 32], [2; 32]));
        g.set(
            9,
            Slot::Child {
                version: 7,
                hash: [3; 32],
            },
        );
        let bytes = g.encode();
        assert_eq!(Group::decode(&bytes).unwrap(), g);
        for cut in 0..bytes.len() {
            assert!(Group::decode(&bytes[..cut]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Group::decode(&extra).is_err());
        let mut wrong = bytes;
        wrong[3] |= 0x04; // leaf bit for an absent slot
        assert!(Group::decode(&wrong).is_err());
    }

    #[test]
    fn delta_records_roundtrip_apply_and_are_strict() {
        let mut old = Group::default();
        old.set(0, Slot::leaf([1; 32], [2; 32]));
        old.set(
            3,
            Slot::Child {
                version: 4,
                hash: [5; 32],
            },
        );
        old.set(9, Slot::leaf([6; 32], [7; 32]));
        let mut new = old.clone();
        new.set(
            3,
            Slot::Child {
                version: 8,
                hash: [9; 32],
            },
        );
        new.set(9, Slot::Empty);
        new.set(12, Slot::leaf([10; 32], [11; 32]));
        let dirty = (1 << 3) | (1 << 9) | (1 << 12) | (1 << 15);
        let mut bytes = Vec::new();
        new.encode_delta_into(4, dirty, &mut bytes);
        assert_eq!(bytes.len(), new.delta_len(dirty));
        assert_eq!(bytes.len(), DELTA_HEADER + 40 + 64);
        assert_eq!(new.encode().len(), new.encoded_len());
        let Record::Delta {
            base,
            dirty: d,
            slots,
        } = Record::decode(&bytes).unwrap()
        else {
            panic!("not a delta");
        };
        assert_eq!((base, d), (4, dirty));
        let mut applied = old.clone();
        applied.apply_delta(d, &slots);
        assert_eq!(applied, new);
        // A whole group never starts with the delta marker, and still decodes as itself.
        assert_eq!(
            Record::decode(&new.encode()).unwrap(),
            Record::Full(new.clone())
        );
        assert_eq!(
            Record::decode(&Group::default().encode()).unwrap(),
            Record::Full(Group::default())
        );
        for cut in 0..bytes.len() {
            assert!(Record::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Record::decode(&extra).is_err());
        // A present slot outside the dirty bitmap.
        let mut wrong = bytes.clone();
        wrong[12..14].copy_from_slice(&(1u16 << 3).to_be_bytes());
        assert!(Record::decode(&wrong).is_err());
        // A leaf bit outside the present bitmap.
        let mut wrong = bytes;
        wrong[17] |= 1;
        assert!(Record::decode(&wrong).is_err());
    }

    #[test]
    fn summaries_put_siblings_side_by_side() {
        // Summary `i`'s hash at offset `32 i`, the kinds beside the root's: 1 KiB, and no
        // over-alignment (see `Summaries`).
        assert_eq!(std::mem::size_of::<Summaries>(), 1024);
        assert!(std::mem::align_of::<Summaries>() <= 16);
        let t = Summaries::default();
        let base = std::ptr::from_ref(&t) as usize;
        for i in 1..32usize {
            assert_eq!(std::ptr::from_ref(&t.hashes[i - 1]) as usize - base, 32 * i);
        }
        assert!((std::ptr::from_ref(&t.multi) as usize - base) < 64);
    }

    /// A deterministic stream of pseudo-random words (xorshift64) from `seed` (not zero).
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn tables_of_many_groups_retabled_together_equal_full_tables() {
        // Many groups at once, as a commit hashes a depth: some with their old table and
        // the slots that changed, some with a fresh table and every slot, some unchanged,
        // with every mix of empty slots, leaves and children, so the batch holds from zero
        // to hundreds of hashes per binary level (partial vector lanes included).
        let mut next = xorshift(0x0000_ddb1_a5e5);
        for round in 0..40 {
            let count = 1 + (next() % 90) as usize;
            let mut groups = Vec::new();
            for _ in 0..count {
                let mut g = Group::default();
                for i in 0..16 {
                    let b = (next() & 0xff) as u8;
                    g.set(
                        i,
                        match next() % 4 {
                            0 | 1 => Slot::Empty,
                            2 => Slot::leaf([b; 32], [b ^ 3; 32]),
                            _ => Slot::Child {
                                version: 2,
                                hash: [b; 32],
                            },
                        },
                    );
                }
                let mut t = Box::new(g.table());
                let mut dirty = 0u16;
                match next() % 3 {
                    // A fresh table: everything to compute.
                    0 => {
                        *t = Summaries::default();
                        dirty = 0xffff;
                    }
                    // Unchanged.
                    1 => {}
                    _ => {
                        for _ in 0..(1 + next() % 5) {
                            let i = (next() % 16) as usize;
                            let b = (next() & 0xff) as u8;
                            g.set(
                                i,
                                if next().is_multiple_of(2) {
                                    Slot::Empty
                                } else {
                                    Slot::leaf([b; 32], [b; 32])
                                },
                            );
                            dirty |= 1 << i;
                        }
                    }
                }
                groups.push((g, t, dirty));
            }
            let mut items: Vec<(&Group, &mut Summaries, u16)> = groups
                .iter_mut()
                .map(|(g, t, d)| (&*g, &mut **t, *d))
                .collect();
            retable_many(&mut items);
            for (k, (g, t, _)) in groups.iter().enumerate() {
                assert_eq!(**t, g.table(), "round {round}, group {k}");
            }
        }
    }

    #[test]
    fn retable_equals_a_full_table_after_any_change() {
        // A deterministic walk through slot contents: empty, leaves, children.
        let mut next = xorshift(0x1234_5678_9abc_def0);
        let mut g = Group::default();
        let mut t = Box::new(g.table());
        for _ in 0..2_000 {
            let mut dirty = 0u16;
            for _ in 0..(next() % 4) {
                let i = (next() % 16) as usize;
                let b = (next() & 0xff) as u8;
                g.set(
                    i,
                    match next() % 3 {
                        0 => Slot::Empty,
                        1 => Slot::leaf([b; 32], [b ^ 1; 32]),
                        _ => Slot::Child {
                            version: 1,
                            hash: [b; 32],
                        },
                    },
                );
                dirty |= 1 << i;
            }
            g.retable(&mut t, dirty);
            assert_eq!(*t, g.table());
            // Every summary equals the one computed from the slots directly (not through
            // `Summaries`), at every heap index.
            for i in 1..32usize {
                let level = (usize::BITS - 1 - i.leading_zeros()) as usize;
                let (width, first) = (16 >> level, (i << (4 - level)) - 16);
                assert_eq!(
                    t.get(i),
                    range_summary(g.slots(), first, width),
                    "summary {i}"
                );
            }
            // The bitmaps describe the slots: sizes, counts and the collapse from them agree
            // with a scan and with the encoding.
            let full: Vec<&Slot> = g.slots().iter().filter(|s| **s != Slot::Empty).collect();
            assert_eq!(g.occupied(), full.len());
            assert_eq!(g.encoded_len(), g.encode().len());
            let mut delta = Vec::new();
            g.encode_delta_into(1, dirty, &mut delta);
            assert_eq!(g.delta_len(dirty), delta.len());
            let only = match full.as_slice() {
                [one @ Slot::Leaf { .. }] => Some(*one),
                _ => None,
            };
            assert_eq!(g.only_leaf(), only);
            assert_eq!(Group::decode(&g.encode()).unwrap(), g);
        }
    }
}
