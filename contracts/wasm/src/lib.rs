//! keel-contracts: Keel's example contracts as wasm bytes.
//!
//! The build script compiles the separate cargo workspace in `contracts/examples` for
//! `wasm32-unknown-unknown` (release profile: `opt-level = "z"`, LTO, `panic = "abort"`, a 32 KiB
//! stack) and each constant below is one contract's module. No `.wasm` is committed.
//!
//! [`hostile`] generates adversarial modules (gas-versus-work attacks) for tests and benches.

pub mod hostile;

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

/// Compute-heavy methods for benchmarks: `fib(n: u32) -> u64` (iterative),
/// `fib_recursive(n: u32) -> u64`, `mix_loop(n: u32) -> u64` (pure wasm arithmetic),
/// `hash_loop(n: u32) -> [u8; 32]` (host BLAKE3) and `sha256_loop(n: u32) -> [u8; 32]`.
pub const COMPUTE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/compute.wasm"));

/// An NFT registry (uses the SDK's `alloc` feature). Constructor `init()` (the instantiator
/// becomes admin). Methods: `mint(id: u64, to)` (admin), `transfer(id: u64, to)`, `burn(id)`,
/// `owner_of(id) -> Option<Address>`, `balance_of(who) -> u64`, `total_supply() -> u64`,
/// `list(start_after: Option<u64>, limit: u32) -> Vec<(u64, Address)>` (ascending ids, at most
/// 100). Errors: SCALE `NftError` (NotAdmin, AlreadyMinted, NoSuchToken, NotOwner).
pub const NFT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nft.wasm"));

/// A multisig wallet (uses `alloc`). Constructor `init(owners: Vec<Address>, threshold: u32)`.
/// Methods: `propose(target, method: String, args: Vec<u8>) -> u64` (owner; counts as an
/// approval), `approve(id: u64) -> u32`, `execute(id: u64) -> Vec<u8>` (the callee's return
/// data), `proposal(id)`, `owners()`, `threshold()`. Errors: SCALE `MultisigError` (BadConfig,
/// NotOwner, NoSuchProposal, AlreadyApproved, NotEnoughApprovals, AlreadyExecuted,
/// CallFailed(i32)).
pub const MULTISIG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/multisig.wasm"));

/// A constant-product swap pool over two tokens. Constructor `init(token_a, token_b)`.
/// Methods: `add_liquidity(a: u128, b: u128) -> u128` (pulls with `transfer_from`),
/// `remove_liquidity(shares: u128) -> (u128, u128)`, `swap(token_in, amount_in: u128, min_out:
/// u128) -> u128`, `reserves() -> (u128, u128)`, `shares_of(who) -> u128`,
/// `tokens() -> (Address, Address)`.
pub const SWAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/swap.wasm"));

/// Adversarial contract-level fixture (re-entrant, uses `alloc`): `snoop(victim, key: Vec<u8>)
/// -> Vec<Option<Vec<u8>>>`, `scribble(victim, key, value)`, `dump() -> Vec<(Vec<u8>,
/// Vec<u8>)>`, `on_token_received(from, amount)` (tries to re-enter the calling token),
/// `last_reentry()`, `spam(n: u32, size: u32)`, `big_return(len: u32)`, `call_raw(target,
/// method: String, input: Vec<u8>) -> (i32, Vec<u8>)`, `boom(n: u32) -> u32` (panics if n > 0).
pub const ADVERSARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/adversary.wasm"));

/// Every module, by name, for tools that iterate (sizes, validation, benchmarks).
pub const ALL: &[(&str, &[u8])] = &[
    ("counter", COUNTER),
    ("token", TOKEN),
    ("compute", COMPUTE),
    ("nft", NFT),
    ("multisig", MULTISIG),
    ("swap", SWAP),
    ("adversary", ADVERSARY),
];
