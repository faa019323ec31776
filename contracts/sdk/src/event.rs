//! Typed events. An event is a SCALE-encodable value with a name: its first topic is the name
//! (UTF-8, zero-padded to 32 bytes; names are at most 32 bytes), its further topics are the
//! fields marked `#[topic]` (at most 3), and its data is the SCALE encoding of the whole value.
//!
//! ```ignore
//! #[derive(Encode, Event)]
//! pub struct Transfer { #[topic] from: Address, #[topic] to: Address, amount: u128 }
//! keel_sdk::emit(&Transfer { from, to, amount });
//! ```

use parity_scale_codec::Encode;

use crate::{Address, buf::with_encoded, env};

/// A typed event. Derive it with `#[derive(Event)]` (the name is the type's name).
pub trait Event: Encode {
    /// The event's name.
    const NAME: &'static str;
    /// The first topic: [`name_topic`] of [`Event::NAME`].
    const NAME_TOPIC: [u8; 32];
    /// The names of the `#[topic]` fields, in topic order (for the contract metadata).
    const TOPICS: &'static [&'static str] = &[];
    /// Writes the indexed topics (after the name topic) into `out` and returns how many.
    fn indexed_topics(&self, out: &mut [[u8; 32]; 3]) -> usize {
        let _ = out;
        0
    }
}

/// A value usable as an indexed event topic.
pub trait Topic {
    /// The 32-byte topic.
    fn to_topic(&self) -> [u8; 32];
}

impl Topic for Address {
    fn to_topic(&self) -> [u8; 32] {
        self.0
    }
}

impl Topic for [u8; 32] {
    fn to_topic(&self) -> [u8; 32] {
        *self
    }
}

macro_rules! int_topic {
    ($($t:ty),*) => {$(
        /// Big-endian, left-padded with zeros.
        impl Topic for $t {
            fn to_topic(&self) -> [u8; 32] {
                // An array assignment into `last_chunk_mut`, not slice indexing or
                // `copy_from_slice`: their (unreachable) panics would pull `core::fmt`'s
                // integer formatting, about 5.2 KB of wasm, into every contract with an
                // integer topic. The `None` arm is unreachable (N <= 32) and folds away.
                const N: usize = core::mem::size_of::<$t>();
                let mut t = [0u8; 32];
                if let Some(tail) = t.last_chunk_mut::<N>() {
                    *tail = self.to_be_bytes();
                }
                t
            }
        }
    )*};
}

int_topic!(u8, u16, u32, u64, u128);

/// The topic of an event name: its UTF-8 bytes, zero-padded to 32. Fails to compile (in a
/// `const`) for a name longer than 32 bytes.
pub const fn name_topic(name: &str) -> [u8; 32] {
    let b = name.as_bytes();
    assert!(b.len() <= 32, "event names are at most 32 bytes");
    let mut t = [0u8; 32];
    let mut i = 0;
    while i < b.len() {
        t[i] = b[i];
        i += 1;
    }
    t
}

/// Emits a typed event.
pub fn emit<E: Event>(event: &E) {
    let mut topics = [[0u8; 32]; 4];
    topics[0] = E::NAME_TOPIC;
    let mut rest = [[0u8; 32]; 3];
    let n = event.indexed_topics(&mut rest).min(3);
    for (dst, src) in topics.iter_mut().skip(1).zip(rest.iter().take(n)) {
        *dst = *src;
    }
    let topics = topics.get(..=n).unwrap_or(&topics);
    with_encoded(&[], event, |data| env::emit_raw(topics, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_topics_pad() {
        const T: [u8; 32] = name_topic("Transfer");
        assert_eq!(&T[..8], b"Transfer");
        assert!(T[8..].iter().all(|&b| b == 0));
        assert_eq!(7u64.to_topic()[31], 7);
        assert_eq!(7u64.to_topic()[..31], [0u8; 31]);
        let mut want = [0u8; 32];
        want[28..].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        assert_eq!(0x0102_0304u32.to_topic(), want);
        want = [0u8; 32];
        want[16..].copy_from_slice(&u128::MAX.to_be_bytes());
        assert_eq!(u128::MAX.to_topic(), want);
        assert_eq!(0u8.to_topic(), [0u8; 32]);
    }
}
