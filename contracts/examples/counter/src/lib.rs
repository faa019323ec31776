//! The smallest useful contract: a counter anyone can increment.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::{Item, contract};

static COUNT: Item<u64> = Item::new(b"c");

/// The counter contract.
pub struct Counter;

#[contract]
impl Counter {
    /// Adds one and returns the new value.
    pub fn increment() -> u64 {
        let n = COUNT.get_or_default().wrapping_add(1);
        COUNT.set(&n);
        n
    }

    /// The current value.
    pub fn get() -> u64 {
        COUNT.get_or_default()
    }
}
