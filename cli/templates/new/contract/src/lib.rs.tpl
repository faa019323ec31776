//! {{name}}: a Keel contract. A counter per account, with an owner who can reset it.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::{Address, Event, Item, Map, TypeInfo, caller, contract, emit};
use parity_scale_codec::{Decode, Encode};

/// The owner: whoever instantiated the contract.
pub static OWNER: Item<Address> = Item::new(b"o");
/// Each account's count.
pub static COUNTS: Map<Address, u64> = Map::new(b"c");

/// Why a call failed; the contract reverts with its SCALE encoding. `TypeInfo` describes it in
/// the contract's metadata (the wasm custom section `keel:meta`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// `by` was zero.
    Zero,
    /// The count would overflow.
    Overflow,
    /// Only the owner may do that.
    NotOwner,
}

/// Emitted by every successful `increment`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Incremented {
    /// Whose count.
    #[topic]
    pub who: Address,
    /// The new count.
    pub count: u64,
}

/// The contract.
pub struct {{Name}};

#[contract(events(Incremented))]
impl {{Name}} {
    /// The constructor: the instantiator becomes the owner.
    pub fn init() {
        OWNER.set(&caller());
    }

    /// Adds `by` to the caller's count and returns the new count.
    pub fn increment(by: u64) -> Result<u64, Error> {
        if by == 0 {
            return Err(Error::Zero);
        }
        let who = caller();
        let count = COUNTS
            .get(&who)
            .unwrap_or(0)
            .checked_add(by)
            .ok_or(Error::Overflow)?;
        COUNTS.set(&who, &count);
        emit(&Incremented { who, count });
        Ok(count)
    }

    /// An account's count.
    pub fn count_of(who: Address) -> u64 {
        COUNTS.get(&who).unwrap_or(0)
    }

    /// Resets an account's count (owner only).
    pub fn reset(who: Address) -> Result<(), Error> {
        if OWNER.get() != Some(caller()) {
            return Err(Error::NotOwner);
        }
        COUNTS.remove(&who);
        Ok(())
    }
}
