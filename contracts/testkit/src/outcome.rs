//! [`Outcome`]: keel-chain's outcome (a receipt and its label) with typed events and
//! assertions.

use std::ops::Deref;

use parity_scale_codec::{Decode, Encode};

use keel_engine::{Event, Status};

use keel_chain::decode_all;

use crate::{Address, Error};

/// The result of one transaction run by a [`crate::TestChain`]: keel-chain's
/// [`keel_chain::Outcome`] (the engine's `Receipt`, unchanged, and the method it called),
/// which it dereferences to for the plain accessors (`receipt`, `label`, `status()`,
/// `gas_used()`, `return_data()`, `events()`, `logs()`, `revert_message()`,
/// `revert_data()`, `status_text()`), with typed decoding, typed events and assertions.
///
/// The assertion methods panic with a readable message (status, revert message, logs), like
/// `assert!`; they return `&Self` so they chain.
///
/// ```
/// use keel_testkit::{TestChain, account};
/// # #[cfg(not(feature = "examples"))] fn main() {} // needs the bundled examples
/// # #[cfg(feature = "examples")]
/// # fn main() -> Result<(), keel_testkit::Error> {
/// let (alice, bob) = (account("alice"), account("bob"));
/// let mut chain = TestChain::in_memory();
/// let token = chain.deploy_example(alice, "token", ())?; // alice is the admin
/// chain
///     .call(alice, token, "mint", (alice, 100u128))?
///     .assert_success()
///     .assert_event("Transfer", &([0u8; 32], alice, 100u128));
/// // bob has nothing: the token returns Err(TokenError::InsufficientBalance), the third
/// // variant, which the SDK turns into a revert with its SCALE encoding.
/// let out = chain.call(bob, token, "transfer", (alice, 1u128))?;
/// out.assert_reverted().assert_event_count(0);
/// assert_eq!(out.revert_data(), Some(&[2u8][..]));
/// // Too little gas.
/// chain.set_gas_limit(1_000);
/// chain.call(alice, token, "transfer", (bob, 1u128))?.assert_out_of_gas();
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Outcome(keel_chain::Outcome);

impl From<keel_chain::Outcome> for Outcome {
    fn from(o: keel_chain::Outcome) -> Self {
        Outcome(o)
    }
}

impl From<Outcome> for keel_chain::Outcome {
    fn from(o: Outcome) -> Self {
        o.0
    }
}

impl Deref for Outcome {
    type Target = keel_chain::Outcome;

    fn deref(&self) -> &keel_chain::Outcome {
        &self.0
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A typed event from [`Outcome::event`]: its value, the contract that emitted it and its raw
/// topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted<T> {
    /// The emitting contract.
    pub emitter: Address,
    /// Its topics (the name topic first).
    pub topics: Vec<[u8; 32]>,
    /// The decoded event.
    pub value: T,
}

impl keel_sdk::host::Receipt for Outcome {
    fn reply(&self) -> keel_sdk::host::Reply<'_> {
        use keel_sdk::host::Reply;
        match &self.receipt.status {
            Status::Success => Reply::Returned(&self.receipt.return_data),
            Status::Reverted(data) => Reply::Reverted(data),
            _ => Reply::Failed,
        }
    }
}

/// The event topic of an event name, as `keel-sdk` derives it: the UTF-8 name, zero-padded to
/// 32 bytes (names longer than 32 bytes are truncated).
pub fn name_topic(name: &str) -> [u8; 32] {
    let mut t = [0u8; 32];
    let b = name.as_bytes();
    let n = b.len().min(32);
    t[..n].copy_from_slice(&b[..n]);
    t
}

impl Outcome {
    /// The engine's receipt, moved out.
    pub fn into_receipt(self) -> keel_engine::Receipt {
        self.0.receipt
    }

    /// The return data decoded as `T` (every byte must be used).
    pub fn decode<T: Decode>(&self) -> Result<T, Error> {
        Ok(self.0.decode()?)
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{}: {} (gas used {})",
            self.label,
            self.status_text(),
            self.gas_used()
        );
        for l in self.logs() {
            s.push_str("\n  log: ");
            s.push_str(&l);
        }
        s
    }

    /// Panics unless the transaction succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        if !self.is_success() {
            panic!("expected success, got {}", self.describe());
        }
        self
    }

    /// Panics unless the transaction reverted (any message).
    #[track_caller]
    pub fn assert_reverted(&self) -> &Self {
        if self.revert_message().is_none() {
            panic!("expected a revert, got {}", self.describe());
        }
        self
    }

    /// Panics unless the transaction reverted and its message contains `message`.
    #[track_caller]
    pub fn assert_reverted_with(&self, message: &str) -> &Self {
        match self.revert_message() {
            Some(m)
                if m.contains(message)
                    || self
                        .revert_data()
                        .is_some_and(|d| String::from_utf8_lossy(d).contains(message)) =>
            {
                self
            }
            _ => panic!(
                "expected a revert with message {message:?}, got {}",
                self.describe()
            ),
        }
    }

    /// The revert data decoded as a typed error `E` (a method returning `Err(e)` reverts with
    /// the SCALE encoding of `e`). `None` if the transaction did not revert or the data is not
    /// exactly one `E`.
    pub fn revert_error<E: Decode>(&self) -> Option<E> {
        self.revert_data().and_then(|d| decode_all(d).ok())
    }

    /// Panics unless the transaction reverted with exactly the SCALE encoding of `error`
    /// (what a method returning `Err(error)` produces).
    #[track_caller]
    pub fn assert_reverted_with_error<E: Encode + std::fmt::Debug>(&self, error: &E) -> &Self {
        if self.revert_data() != Some(error.encode().as_slice()) {
            panic!(
                "expected a revert with error {error:?}, got {}",
                self.describe()
            );
        }
        self
    }

    /// Panics unless the transaction ran out of gas.
    #[track_caller]
    pub fn assert_out_of_gas(&self) -> &Self {
        if !matches!(self.receipt.status, Status::OutOfGas) {
            panic!("expected out of gas, got {}", self.describe());
        }
        self
    }

    /// Panics unless the transaction was `Invalid` (not executed: no state change, no nonce
    /// bump, 0 gas); `reason`, if given, must be the reason's `Debug` name (e.g.
    /// `"UnknownMethod"`).
    #[track_caller]
    pub fn assert_invalid(&self, reason: Option<&str>) -> &Self {
        match &self.receipt.status {
            Status::Invalid(r) => {
                if let Some(want) = reason {
                    let got = format!("{r:?}");
                    if !got.starts_with(want) {
                        panic!("expected Invalid({want}), got {}", self.describe());
                    }
                }
            }
            _ => panic!("expected an invalid transaction, got {}", self.describe()),
        }
        self
    }

    /// The first event of type `T` (by its name topic), decoded, with its emitter.
    pub fn event<T: keel_sdk::Event + Decode>(&self) -> Option<Emitted<T>> {
        self.events_of::<T>().into_iter().next()
    }

    /// Every event of type `T` (by its name topic), decoded, with its emitter. An event with
    /// `T`'s name whose data does not decode as `T` is skipped.
    pub fn events_of<T: keel_sdk::Event + Decode>(&self) -> Vec<Emitted<T>> {
        self.receipt
            .events
            .iter()
            .filter(|e| e.topics.first() == Some(&T::NAME_TOPIC))
            .filter_map(|e| {
                decode_all::<T>(&e.data).ok().map(|value| Emitted {
                    emitter: Address(e.contract),
                    topics: e.topics.clone(),
                    value,
                })
            })
            .collect()
    }

    /// Panics unless the transaction trapped (a wasm trap, including a Rust panic in the
    /// contract).
    #[track_caller]
    pub fn assert_trapped(&self) -> &Self {
        if !matches!(self.receipt.status, Status::Trapped(_)) {
            panic!("expected a trap, got {}", self.describe());
        }
        self
    }

    /// The events whose first topic is `name` (see [`name_topic`]).
    pub fn events_named(&self, name: &str) -> Vec<&Event> {
        let t = name_topic(name);
        self.events()
            .iter()
            .filter(|e| e.topics.first() == Some(&t))
            .collect()
    }

    /// Panics unless an event named `name` was emitted whose data is the SCALE encoding of
    /// `data`.
    #[track_caller]
    pub fn assert_event<E: Encode>(&self, name: &str, data: &E) -> &Self {
        let want = data.encode();
        if !self.events_named(name).iter().any(|e| e.data == want) {
            panic!(
                "expected event {name:?} with data 0x{}, got events {:?} in {}",
                crate::hex_encode(&want),
                self.events(),
                self.describe()
            );
        }
        self
    }

    /// Panics unless exactly `n` events were emitted.
    #[track_caller]
    pub fn assert_event_count(&self, n: usize) -> &Self {
        if self.events().len() != n {
            panic!(
                "expected {n} events, got {}: {:?}",
                self.events().len(),
                self.events()
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn name_topics_pad() {
        let t = name_topic("Transfer");
        assert_eq!(&t[..8], b"Transfer");
        assert!(t[8..].iter().all(|&b| b == 0));
    }
}
