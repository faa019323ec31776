//! keel-chain: the Keel chain as a library, the layer under the `keel` CLI, `keel-node` and
//! `keel-testkit`.
//!
//! - [`Chain`]: the engine over any [`ChainStore`], one state version per block, with the
//!   chain's clock (which never goes backwards), nonces, transaction building and contract
//!   labels. `Chain<`[`Named`]`>` (feature `rocksdb`) is a data dir's chain: its RocksDB
//!   [`keel_state::Store`], with contract and code names kept in the store's own metadata and
//!   written in the same commit as the block that creates what they name.
//! - [`Outcome`]: a receipt with the label of what ran, and readable accessors.
//! - [`tx`]: signed transactions (ed25519, chain id and nonce signed) and their typed
//!   rejections; [`mempool`]: the bounded, per-sender nonce-ordered mempool (feature `tx`).
//! - The address and key rules: [`account`], [`storage_key`], [`nonce_key`].
//!
//! Features (both default): `rocksdb` (the data-dir chain, [`Named`]; RocksDB's C++) and `tx`
//! (signed transactions and the mempool; ed25519). Without them the crate compiles no C++ and
//! no curve arithmetic, which is what the testkit's default build uses. The testkit
//! (`keel-testkit`) is a test tool with temporary stores and assertions; nothing here depends
//! on it.

mod chain;
mod error;
#[cfg(feature = "tx")]
pub mod mempool;
mod outcome;
#[cfg(feature = "rocksdb")]
mod store;
#[cfg(feature = "tx")]
pub mod tx;

pub use chain::{Chain, ChainStore, Clock};
pub use error::Error;
pub use outcome::{Outcome, decode_all, revert_text};
#[cfg(feature = "rocksdb")]
pub use store::{Durability, Named, contract_name_key, name_entries, name_key};

pub use keel_engine as engine;
pub use keel_state as state;

use keel_engine::EngineConfig;

/// A 32-byte account or contract address, as the engine has it. (Contract code and the
/// testkit use `keel_sdk::Address`, a newtype with the same SCALE encoding.)
pub type Address = [u8; 32];

/// The gas limit of the transactions a [`Chain`] builds unless told otherwise.
pub const DEFAULT_GAS_LIMIT: u64 = 100_000_000;

/// The engine configuration of a local chain: the default, with `debug_log` messages recorded
/// in receipts (recording never changes gas or any other receipt field).
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        record_logs: true,
        ..EngineConfig::default()
    }
}

/// The address of a named account: `blake3("keel.account:" ‖ name)`. The CLI's `@name` and
/// the testkit's `account(name)` are this rule.
pub fn account(name: &str) -> Address {
    let mut h = blake3::Hasher::new();
    h.update(b"keel.account:");
    h.update(name.as_bytes());
    *h.finalize().as_bytes()
}

/// The state key of a contract's storage entry: `0x04 ‖ address ‖ key` (ARCHITECTURE.md,
/// "State layout").
pub fn storage_key(contract: &Address, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + key.len());
    k.push(0x04);
    k.extend_from_slice(contract);
    k.extend_from_slice(key);
    k
}

/// The state key of an account's next nonce: `0x03 ‖ account`.
pub fn nonce_key(account: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x03);
    k.extend_from_slice(account);
    k
}

/// Short hex of an address, for labels: `0x1234abcd…`.
pub fn short_hex(a: &[u8]) -> String {
    let n = a.len().min(4);
    format!("0x{}…", hex_encode(&a[..n]))
}

/// Lower-case hex without prefix.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
