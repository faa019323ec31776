//! Typed storage: a single value ([`Item`]) and an ordered map ([`Map`]).
//!
//! Keys live in this contract's own namespace (the host prefixes them with the contract's
//! address), so any byte string is a valid key. An [`Item`]'s key is its raw key bytes; a
//! [`Map`]'s entry key is `prefix ‖ SCALE(key)`. Two storage helpers must not use keys where
//! one is a prefix of the other (e.g. maps with prefixes `b"a"` and `b"ab"`), or their
//! entries mix. A value that cannot be decoded reverts with a message naming the problem.
//!
//! # Iteration order
//!
//! [`Map::iter`] visits entries in ascending order of their encoded key **bytes**. SCALE
//! encodes integers little-endian, so a `Map<u64, _>` iterates 256 before 1 (`00 01 ..` sorts
//! before `01 00 ..`). Wrap integer keys in [`BigEndian`] (`Map<BigEndian<u64>, _>`) to iterate
//! in numeric order. `[u8; N]` keys and [`crate::Address`] iterate in byte order.

use core::marker::PhantomData;

use parity_scale_codec::{Compact, Decode, DecodeAll, Encode, Output};

use crate::buf::{BufWriter, with_encoded, with_read};
use crate::env;

/// Longest map key (prefix included) that [`Map::iter`] can resume from.
pub const MAX_ITER_KEY: usize = 256;

#[cold]
fn corrupt() -> ! {
    env::revert_str("keel-sdk: stored value does not decode as the expected type")
}

fn decode_stored<T: Decode>(bytes: &[u8]) -> T {
    match T::decode_all(&mut &bytes[..]) {
        Ok(v) => v,
        Err(_) => corrupt(),
    }
}

fn get_raw<T: Decode>(key: &[u8]) -> Option<T> {
    with_read(|out| env::storage_read(key, out), decode_stored::<T>)
}

/// A single typed value stored under a fixed key.
pub struct Item<T> {
    key: &'static [u8],
    _value: PhantomData<fn() -> T>,
}

impl<T: Encode + Decode> Item<T> {
    /// An item stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Item {
            key,
            _value: PhantomData,
        }
    }

    /// The stored value, or `None` if it was never set (or removed).
    pub fn get(&self) -> Option<T> {
        get_raw(self.key)
    }

    /// The stored value, or `T::default()` if absent.
    pub fn get_or_default(&self) -> T
    where
        T: Default,
    {
        self.get().unwrap_or_default()
    }

    /// Stores `value`.
    pub fn set(&self, value: &T) {
        with_encoded(&[], value, |v| env::storage_write(self.key, v))
    }

    /// Deletes the value.
    pub fn remove(&self) {
        env::storage_remove(self.key)
    }

    /// Whether a value is stored.
    pub fn exists(&self) -> bool {
        env::storage_has(self.key)
    }
}

/// A typed map: entry `k` is stored at `prefix ‖ SCALE(k)`. See the module docs for iteration
/// order.
pub struct Map<K, V> {
    prefix: &'static [u8],
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<K: Encode, V: Encode + Decode> Map<K, V> {
    /// A map whose entries are stored under `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map {
            prefix,
            _kv: PhantomData,
        }
    }

    /// The value at `key`, or `None`.
    pub fn get(&self, key: &K) -> Option<V> {
        with_encoded(self.prefix, key, |k| get_raw(k))
    }

    /// The value at `key`, or `V::default()`.
    pub fn get_or_default(&self, key: &K) -> V
    where
        V: Default,
    {
        self.get(key).unwrap_or_default()
    }

    /// Stores `value` at `key`.
    pub fn set(&self, key: &K, value: &V) {
        with_encoded(self.prefix, key, |k| {
            with_encoded(&[], value, |v| env::storage_write(k, v))
        })
    }

    /// Deletes the entry at `key`.
    pub fn remove(&self, key: &K) {
        with_encoded(self.prefix, key, env::storage_remove)
    }

    /// Whether an entry exists at `key`.
    pub fn contains(&self, key: &K) -> bool {
        with_encoded(self.prefix, key, env::storage_has)
    }

    /// All entries in ascending order of encoded key bytes.
    pub fn iter(&self) -> MapIter<K, V>
    where
        K: Decode,
    {
        MapIter::new(self.prefix, None)
    }

    /// The entries whose key comes strictly after `key` (in encoded-byte order): for
    /// pagination, pass the last key of the previous page.
    pub fn iter_after(&self, key: &K) -> MapIter<K, V>
    where
        K: Decode,
    {
        with_encoded(self.prefix, key, |k| MapIter::new(self.prefix, Some(k)))
    }
}

/// The end of a prefix range: the smallest byte string greater than every string starting with
/// `prefix`, written into `out`; `None` if there is none (empty or all-`0xff` prefix).
pub fn prefix_successor<'a>(prefix: &[u8], out: &'a mut [u8]) -> Option<&'a [u8]> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let dst = out.get_mut(..=last)?;
    dst.copy_from_slice(prefix.get(..=last)?);
    *dst.last_mut()? += 1;
    Some(dst)
}

/// One end of a key range, as in `core::ops::Bound`, borrowing its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyBound<'a> {
    /// The range includes this key.
    Included(&'a [u8]),
    /// The range excludes this key.
    Excluded(&'a [u8]),
    /// No bound on this side.
    Unbounded,
}

impl KeyBound<'_> {
    fn encode_to<O: Output + ?Sized>(&self, out: &mut O) {
        // Same bytes as SCALE `Bound<Vec<u8>>`: variant index (declaration order of
        // `core::ops::Bound`: Included 0, Excluded 1, Unbounded 2), then the Vec.
        match self {
            KeyBound::Included(k) => {
                out.push_byte(0);
                k.encode_to(out);
            }
            KeyBound::Excluded(k) => {
                out.push_byte(1);
                k.encode_to(out);
            }
            KeyBound::Unbounded => out.push_byte(2),
        }
    }
}

/// Encodes the `storage_next` query `(lower, upper)` as SCALE `(Bound<Vec<u8>>, Bound<Vec<u8>>)`.
pub fn encode_range_query<O: Output + ?Sized>(
    lower: KeyBound<'_>,
    upper: KeyBound<'_>,
    out: &mut O,
) {
    lower.encode_to(out);
    upper.encode_to(out);
}

/// Splits a `storage_next` answer (SCALE `(Vec<u8>, Vec<u8>)`) into key and value, borrowing.
pub fn split_entry(mut bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    fn take<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = <Compact<u32>>::decode(bytes).ok()?.0 as usize;
        let (head, tail) = (bytes.get(..len)?, bytes.get(len..)?);
        *bytes = tail;
        Some(head)
    }
    let key = take(&mut bytes)?;
    let value = take(&mut bytes)?;
    if !bytes.is_empty() {
        return None;
    }
    Some((key, value))
}

/// Iterator over a [`Map`]'s entries, from [`Map::iter`]. Each step is one `storage_next` call;
/// the iterator holds only the last key it returned (at most [`MAX_ITER_KEY`] bytes).
pub struct MapIter<K, V> {
    prefix: &'static [u8],
    last: [u8; MAX_ITER_KEY],
    last_len: usize,
    started: bool,
    done: bool,
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<K, V> MapIter<K, V> {
    fn new(prefix: &'static [u8], after: Option<&[u8]>) -> Self {
        let mut it = MapIter {
            prefix,
            last: [0; MAX_ITER_KEY],
            last_len: 0,
            started: false,
            done: false,
            _kv: PhantomData,
        };
        if let Some(k) = after {
            it.remember(k);
            it.started = true;
        }
        it
    }

    fn remember(&mut self, key: &[u8]) {
        match self.last.get_mut(..key.len()) {
            Some(dst) => {
                dst.copy_from_slice(key);
                self.last_len = key.len();
            }
            None => env::revert_str("keel-sdk: map key too long to iterate (max 256 bytes)"),
        }
    }
}

impl<K: Decode, V: Decode> Iterator for MapIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if self.done {
            return None;
        }
        let mut qbuf = [0u8; 2 * MAX_ITER_KEY + 16];
        let mut q = BufWriter::new(&mut qbuf);
        {
            let mut succ = [0u8; MAX_ITER_KEY];
            let upper = match prefix_successor(self.prefix, &mut succ) {
                Some(s) => KeyBound::Excluded(s),
                None => KeyBound::Unbounded,
            };
            let lower = match self.last.get(..self.last_len) {
                Some(last) if self.started => KeyBound::Excluded(last),
                _ => KeyBound::Included(self.prefix),
            };
            encode_range_query(lower, upper, &mut q);
        }
        let Some(query) = q.as_slice() else {
            env::revert_str("keel-sdk: storage range query too long")
        };
        let prefix = self.prefix;
        let found = with_read(
            |out| env::storage_next_raw(query, out),
            |entry| {
                let Some((k, v)) = split_entry(entry) else {
                    env::revert_str("keel-sdk: malformed storage_next answer")
                };
                let Some(user_key) = k.strip_prefix(prefix) else {
                    env::revert_str("keel-sdk: storage_next returned a key outside the range")
                };
                let key: K = decode_stored(user_key);
                let value: V = decode_stored(v);
                self.remember(k);
                self.started = true;
                (key, value)
            },
        );
        if found.is_none() {
            self.done = true;
        }
        found
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<T> Item<T> {
    /// The contract's own storage key of this item (host side: for a harness to read or prove
    /// the entry; `keel_testkit::TestChain::item` uses it).
    pub fn storage_key(&self) -> crate::host_alloc::vec::Vec<u8> {
        self.key.to_vec()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<K: Encode, V> Map<K, V> {
    /// The contract's own storage key of entry `key`: `prefix ‖ SCALE(key)` (host side, like
    /// [`Item::storage_key`]).
    pub fn storage_key(&self, key: &K) -> crate::host_alloc::vec::Vec<u8> {
        let mut k = self.prefix.to_vec();
        key.encode_to(&mut k);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufWriter;

    #[test]
    fn successor_of_prefix() {
        let mut b = [0u8; 8];
        assert_eq!(prefix_successor(b"ab", &mut b), Some(&b"ac"[..]));
        assert_eq!(prefix_successor(&[1, 0xff, 0xff], &mut b), Some(&[2u8][..]));
        assert_eq!(prefix_successor(&[0xff], &mut b), None);
        assert_eq!(prefix_successor(&[], &mut b), None);
    }

    #[test]
    fn query_matches_scale_bound_encoding() {
        let mut b = [0u8; 32];
        let mut w = BufWriter::new(&mut b);
        encode_range_query(KeyBound::Included(b"ab"), KeyBound::Unbounded, &mut w);
        assert_eq!(w.as_slice(), Some(&[0u8, 8, b'a', b'b', 2][..]));
        let mut b = [0u8; 32];
        let mut w = BufWriter::new(&mut b);
        encode_range_query(KeyBound::Excluded(&[7]), KeyBound::Excluded(&[]), &mut w);
        assert_eq!(w.as_slice(), Some(&[1u8, 4, 7, 1, 0][..]));
    }

    #[test]
    fn splits_entries() {
        let enc = (b"key".to_vec(), b"value".to_vec()).encode();
        assert_eq!(split_entry(&enc), Some((&b"key"[..], &b"value"[..])));
        assert_eq!(split_entry(&enc[..enc.len() - 1]), None);
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(split_entry(&longer), None);
    }

    #[test]
    fn big_endian_keys_sort_numerically() {
        let a = BigEndian(1u64).encode();
        let b = BigEndian(256u64).encode();
        assert!(a < b);
        assert!(1u64.encode() > 256u64.encode());
        assert_eq!(
            BigEndian::<u64>::decode_all(&mut &b[..]).map(|x| x.0),
            Ok(256)
        );
    }
}

/// An integer key encoded big-endian, so that a [`Map`] iterates it in numeric order.
/// Its SCALE encoding is the integer's fixed-width big-endian bytes (unsigned types only:
/// big-endian two's complement would sort negative numbers last).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BigEndian<T>(pub T);

macro_rules! big_endian {
    ($($t:ty),*) => {$(
        impl Encode for BigEndian<$t> {
            fn size_hint(&self) -> usize {
                core::mem::size_of::<$t>()
            }
            fn encode_to<O: Output + ?Sized>(&self, dest: &mut O) {
                dest.write(&self.0.to_be_bytes())
            }
        }
        impl Decode for BigEndian<$t> {
            fn decode<I: parity_scale_codec::Input>(
                input: &mut I,
            ) -> Result<Self, parity_scale_codec::Error> {
                let mut b = [0u8; core::mem::size_of::<$t>()];
                input.read(&mut b)?;
                Ok(BigEndian(<$t>::from_be_bytes(b)))
            }
        }
        impl From<$t> for BigEndian<$t> {
            fn from(v: $t) -> Self {
                BigEndian(v)
            }
        }
    )*};
}
big_endian!(u8, u16, u32, u64, u128);
