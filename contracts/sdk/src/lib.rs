//! keel-sdk: write Keel contracts in Rust.
//!
//! A contract is a `cdylib` built for `wasm32-unknown-unknown`. It exports one `() -> ()`
//! function per method; the [`contract`] macro writes those exports, decodes the SCALE
//! arguments, encodes the return value, and turns a typed error into a revert:
//!
//! ```ignore
//! #![no_std]
//! use keel_sdk::{contract, storage::Item};
//!
//! static COUNT: Item<u64> = Item::new(b"count");
//!
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     pub fn increment(by: u64) -> u64 {
//!         let n = COUNT.get_or_default() + by;
//!         COUNT.set(&n);
//!         n
//!     }
//!     pub fn get() -> u64 { COUNT.get_or_default() }
//! }
//! ```
//!
//! # One trait for a contract and its callers
//!
//! `#[contract]` also goes on `impl Trait for X`. With an [`interface`] trait, the trait is then
//! both what the contract implements and what other contracts call (`CounterClient`), so the
//! two cannot disagree:
//!
//! ```
//! use keel_sdk::{contract, interface};
//!
//! #[interface]
//! pub trait Counter {
//!     fn add(by: u64) -> u64;
//! }
//!
//! pub struct MyCounter;
//!
//! #[contract]
//! impl Counter for MyCounter {
//!     fn add(by: u64) -> u64 {
//!         by
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! A contract that drifts from its interface does not compile (E0053: incompatible type):
//!
//! ```compile_fail,E0053
//! use keel_sdk::{contract, interface};
//!
//! #[interface]
//! pub trait Counter {
//!     fn add(by: u64) -> u64;
//! }
//!
//! pub struct MyCounter;
//!
//! #[contract]
//! impl Counter for MyCounter {
//!     fn add(by: u32) -> u64 {
//!         u64::from(by)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # Host side
//!
//! Off wasm32, `#[contract] impl X` also generates `XClient`, a typed client for tests
//! ([`host`]; keel-testkit's `TestChain` runs it), and `X::KEEL_METADATA`, the description
//! written into the wasm's `keel:meta` section ([`meta`]). `Item::storage_key` and
//! `Map::storage_key` give the state keys a harness reads.
//!
//! # Features
//!
//! - `panic-handler` (default): a `#[panic_handler]` that reverts with the panic message
//!   (`panicked at <file>:<line>:<col>: <msg>`, at most 256 bytes).
//! - `global-allocator` (default): the SDK's global allocator. Without `alloc` it reverts on
//!   any allocation (and is dead code in contracts that never allocate).
//! - `alloc`: a tiny bump allocator, for contracts that need `Vec` or `String`; also lets
//!   inputs, values and return data exceed the fixed stack buffers.
//!
//! Host functions exist only on wasm32; off wasm32 they panic, so that the crate still builds
//! (and its pure logic is tested) on the host.
#![no_std]

#[cfg(feature = "alloc")]
pub extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate alloc as host_alloc;
#[cfg(test)]
extern crate std;

pub mod buf;
pub mod call;
pub mod env;
pub mod event;
#[cfg(not(target_arch = "wasm32"))]
pub mod host;
pub mod meta;
pub mod storage;
pub mod sys;

#[doc(hidden)]
pub mod rt;

pub use call::{ALL_GAS, CallError, CallStatus, NoError};
pub use env::{
    blake3, block_height, block_timestamp, caller, debug_log, gas_left, revert, revert_str,
    self_address, sha256,
};
pub use event::{Event, Topic, emit};
pub use keel_sdk_macros::{Event, TypeInfo, contract, interface};
pub use parity_scale_codec as codec;
pub use storage::{BigEndian, Item, Map};

use parity_scale_codec::{Decode, Encode};

/// A 32-byte account or contract address. SCALE-encodes as its 32 raw bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The all-zero address.
    pub const ZERO: Address = Address([0; 32]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Address {
    fn from(b: [u8; 32]) -> Self {
        Address(b)
    }
}

impl core::fmt::Debug for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("0x")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Reverts with `message` unless `condition` holds. Cheaper than `assert!` (no formatting).
#[inline]
pub fn require(condition: bool, message: &str) {
    if !condition {
        revert_str(message)
    }
}

// Host-side conversions (after the existing code, so no panic location in a contract moves).

impl From<Address> for [u8; 32] {
    fn from(a: Address) -> [u8; 32] {
        a.0
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// `0x` and 64 lower-case hex digits, as `Debug`.
impl core::fmt::Display for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}
