//! keel-testkit: test Keel contracts locally, as real wasm, with the gas a node would charge.
//!
//! A [`TestChain`] runs `keel-engine` in-process over a `keel-state` store. Every transaction
//! goes through the engine's own block path (`Engine::execute_block`), so the receipts, gas
//! and state roots are exactly what a node computes for the same block.
//!
//! ```
//! use keel_testkit::{TestChain, account};
//!
//! # #[cfg(not(feature = "examples"))] fn main() {} // needs the bundled examples
//! # #[cfg(feature = "examples")]
//! # fn main() -> Result<(), keel_testkit::Error> {
//! let mut chain = TestChain::in_memory();
//! let alice = account("alice");
//! let counter = chain.deploy_example(alice, "counter", ())?;
//! chain.call(alice, counter, "increment", ())?.assert_success();
//! let value: u64 = chain.query(alice, counter, "get", ())?;
//! assert_eq!(value, 1);
//! println!("{}", chain.gas_report());
//! # Ok(())
//! # }
//! ```
//!
//! [`TestChain::new`] (the same as [`TestChain::in_memory`]) keeps state in `MemStore`;
//! [`TestChain::rocksdb`] (feature `rocksdb`) keeps it in RocksDB in a temporary directory, like
//! a node. Both have the same roots and gas; the in-memory store is faster to create
//! and snapshot (see BENCHMARKS.md, "Harness").

mod build;
mod chain;
mod error;
mod flame;
mod gas;
#[cfg(feature = "invariant")]
pub mod invariant;
mod meta;
mod outcome;
mod profile;
#[cfg(feature = "rocksdb")]
mod tmp;

pub use build::{build_wasm, build_wasm_names};
pub use chain::{Snapshot, StorageEntry, StorageProof, StoreKind, TestChain};
#[cfg(feature = "examples")]
pub use chain::{example, examples};
pub use error::Error;
pub use gas::{GasOutcome, GasReport, GasRow, GasStats};
pub use meta::{METADATA_SECTION, contract_metadata, strip_metadata};
pub use outcome::{Emitted, Outcome, name_topic};
pub use profile::{FunctionNames, Profile, checked as checked_profile, names_of_code};

pub use keel_chain::{DEFAULT_GAS_LIMIT, engine_config, hex_encode, revert_text, short_hex};
pub use keel_engine as engine;
pub use keel_sdk as sdk;
/// A 32-byte account or contract address: the SDK's, the type contract code uses, so a test
/// passes and gets back the same type as the contract's methods, events and storage keys.
/// SCALE-encodes as its 32 raw bytes, like the engine's `[u8; 32]` (`.0`, or `From` both ways).
pub use keel_sdk::Address;
pub use keel_sdk::host::{CallFailure, Called};
pub use keel_state as state;
pub use parity_scale_codec as codec;

/// The address of a named test account: `blake3("keel.account:" ‖ name)`
/// (`keel_chain::account`).
///
/// The `keel` CLI uses the same rule for `@name`, so `account("alice")` in a test and
/// `--sender @alice` on the command line are the same account.
///
/// ```
/// assert_ne!(keel_testkit::account("alice"), keel_testkit::account("bob"));
/// assert_eq!(keel_testkit::account("alice"), keel_testkit::account("alice"));
/// ```
pub fn account(name: &str) -> Address {
    Address(keel_chain::account(name))
}

/// The state key of a contract's storage entry: `0x04 ‖ address ‖ key`
/// (`keel_chain::storage_key`; ARCHITECTURE.md, "State layout").
pub fn storage_key(contract: &Address, key: &[u8]) -> Vec<u8> {
    keel_chain::storage_key(&contract.0, key)
}

/// The state key of an account's next nonce: `0x03 ‖ account` (`keel_chain::nonce_key`).
pub fn nonce_key(account: &Address) -> Vec<u8> {
    keel_chain::nonce_key(&account.0)
}
