//! keel-contracts: Keel's example contracts as wasm bytes.
//!
//! The build script compiles the separate cargo workspace in `contracts/examples` for
//! `wasm32-unknown-unknown` (release profile: `opt-level = "z"`, LTO, `panic = "abort"`, a 32 KiB
//! stack) and each constant below is one contract's module. No `.wasm` is committed.

/// The smallest useful contract. Methods: `increment() -> u64`, `get() -> u64`.
pub const COUNTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/counter.wasm"));

/// A fungible token (`token-api` in the examples has its interface). Methods: `init()`,
/// `mint(to, amount)` (admin), `transfer(to, amount)`, `approve(spender, amount)`,
/// `transfer_from(from, to, amount)`, `transfer_and_call(to, amount)`, `balance_of(who) -> u128`,
/// `allowance(owner, spender) -> u128`, `total_supply() -> u128`, `admin() -> Option<Address>`,
/// `address() -> Address`. Fallible methods revert with a SCALE `TokenError` (index order:
/// AlreadyInitialized, NotAdmin, InsufficientBalance, InsufficientAllowance, Overflow,
/// CallbackFailed). Events `Transfer { from, to, amount }` and `Approval { owner, spender, amount }`.
pub const TOKEN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/token.wasm"));

/// Every contract, by name, for tools that want to iterate (sizes, validation).
pub const ALL: &[(&str, &[u8])] = &[("counter", COUNTER), ("token", TOKEN)];
