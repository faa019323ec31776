//! Transactions, blocks and receipts: everything that crosses the node boundary, all SCALE.

use parity_scale_codec::{Decode, Encode};

/// A 32-byte account or contract address.
pub type Address = [u8; 32];

/// A 32-byte hash (code hashes, state roots).
pub type Hash = [u8; 32];

/// A signed-off transaction as the node hands it to the engine (signatures are the node's
/// business: the engine trusts `sender`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    /// The account that sent the transaction.
    pub sender: Address,
    /// Must equal the sender's next nonce in state (`0x03 ‖ sender`): replay protection.
    pub nonce: u64,
    /// The most gas this transaction may use.
    pub gas_limit: u64,
    /// What to do.
    pub action: Action,
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Action {
    /// Validates and stores wasm code; the receipt's return data is its code hash.
    Deploy {
        /// The wasm module.
        code: Vec<u8>,
    },
    /// Creates a contract from stored code, calling its optional `init` export with `args`.
    /// The receipt's return data is the new contract's address.
    Instantiate {
        /// The code to run, as stored by a `Deploy`.
        code_hash: Hash,
        /// Chooses the address: `blake3("keel.contract" ‖ sender ‖ code_hash ‖ salt)`.
        salt: Vec<u8>,
        /// The constructor input.
        args: Vec<u8>,
    },
    /// Calls a method (an exported `() -> ()` function) of a contract. The constructor `init`
    /// and the marker `keel_reentrant` are not methods: calling them is `Invalid(UnknownMethod)`
    /// (and `CallStatus::Refused` from a contract).
    Call {
        /// The contract.
        contract: Address,
        /// The exported function to run.
        method: String,
        /// The call input, read by the contract with `input`.
        args: Vec<u8>,
    },
}

/// The block-level context the node supplies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct BlockContext {
    /// The block height.
    pub height: u64,
    /// The block timestamp (milliseconds, node-defined).
    pub timestamp: u64,
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Event {
    /// The emitting contract.
    pub contract: Address,
    /// Indexed topics.
    pub topics: Vec<[u8; 32]>,
    /// Free-form data.
    pub data: Vec<u8>,
}

/// Why a contract trapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TrapKind {
    /// `unreachable` was executed (this is how a Rust panic ends).
    Unreachable,
    /// A memory access, or a pointer/length given to a host function, was out of bounds.
    MemoryOutOfBounds,
    /// A table access was out of bounds.
    TableOutOfBounds,
    /// `call_indirect` on a null entry.
    IndirectCallToNull,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// Integer overflow (e.g. `i32::MIN / -1`).
    IntegerOverflow,
    /// A float-to-int conversion out of range (unreachable while floats are rejected).
    BadConversionToInteger,
    /// The wasm call stack or value stack limit was hit.
    StackOverflow,
    /// `call_indirect` with the wrong signature.
    BadSignature,
    /// A memory or table growth limit was hit in a way that traps.
    GrowthOperationLimited,
    /// A host function was given an invalid argument (e.g. a topics length that is not a
    /// multiple of 32, or a method name that is not UTF-8).
    InvalidHostArgument,
    /// A per-transaction limit (events, key or value size, return data size) was exceeded.
    LimitExceeded,
    /// The frame did not export the method's memory or broke the ABI in another way.
    AbiViolation,
}

impl TrapKind {
    /// The kind a wasmi trap code maps to, or `None` for running out of fuel (which is
    /// `Status::OutOfGas`, not a trap). Public so that the spec-conformance harness checks
    /// the exact mapping receipts use.
    pub fn from_trap_code(code: wasmi::TrapCode) -> Option<TrapKind> {
        use wasmi::TrapCode;
        Some(match code {
            TrapCode::OutOfFuel => return None,
            TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
            TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
            TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
            TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
            TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
            TrapCode::StackOverflow => TrapKind::StackOverflow,
            TrapCode::BadSignature => TrapKind::BadSignature,
            _ => TrapKind::GrowthOperationLimited,
        })
    }
}

/// Why a transaction was rejected without running. An invalid transaction changes no state,
/// does not bump the nonce and uses 0 gas.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum InvalidReason {
    /// The raw bytes were not a SCALE `Transaction` (or had trailing bytes).
    Undecodable,
    /// The nonce is not the sender's next nonce.
    BadNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The nonce in the transaction.
        got: u64,
    },
    /// `Call` to an address with no contract.
    UnknownContract,
    /// `Call` of a name that is not a callable method of the contract.
    UnknownMethod,
    /// `Instantiate` of a code hash that was never deployed.
    UnknownCode,
    /// `Instantiate` to an address that already holds a contract.
    AddressInUse,
    /// The action's payload exceeds a size limit.
    TooLarge,
}

/// The outcome of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Status {
    /// It ran to completion; its state changes are kept.
    Success,
    /// The contract reverted with this message; its state changes are rolled back. A `Deploy`
    /// of code that fails validation also ends here (gas charged, nothing stored), with the
    /// problems found listed in the message, one per line (at most `Limits::max_problems`, the
    /// rest counted in the last line).
    Reverted(Vec<u8>),
    /// It ran out of gas (anywhere, including a nested call); changes rolled back,
    /// `gas_used == gas_limit`.
    OutOfGas,
    /// The contract trapped; changes rolled back.
    Trapped(TrapKind),
    /// Not executed at all: no state change, nonce not bumped, 0 gas.
    Invalid(InvalidReason),
}

/// The receipt of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    /// How it ended.
    pub status: Status,
    /// Gas used, `<= gas_limit`.
    pub gas_used: u64,
    /// The return data (Deploy: code hash, Instantiate: address, Call: `set_return` bytes).
    pub return_data: Vec<u8>,
    /// Events, in emission order, of the frames that succeeded.
    pub events: Vec<Event>,
    /// `debug_log` messages, including those of frames that were rolled back (only when
    /// `EngineConfig::record_logs`; recording never changes gas or any other field).
    pub logs: Vec<String>,
}

impl Receipt {
    pub(crate) fn invalid(reason: InvalidReason) -> Self {
        Self {
            status: Status::Invalid(reason),
            gas_used: 0,
            return_data: Vec::new(),
            events: Vec::new(),
            logs: Vec::new(),
        }
    }

    /// `true` on [`Status::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self.status, Status::Success)
    }
}

/// The result of [`crate::Engine::execute_block`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlockOutcome {
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// The state version the block was committed as.
    pub version: u64,
    /// The state root after the block.
    pub state_root: Hash,
}

/// The status code `call` returns to the calling contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum CallStatus {
    /// The callee returned normally.
    Success = 0,
    /// The callee reverted (its message is available through `call_result`).
    Reverted = 1,
    /// The callee trapped.
    Trapped = 2,
    /// The call was refused: unknown contract or method, depth exceeded, or re-entry.
    Refused = 3,
}

/// The stored contract record (`0x02 ‖ address`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractInfo {
    /// The code the contract runs.
    pub code_hash: Hash,
    /// Bit 0: the code exports `keel_reentrant`.
    pub flags: u32,
}

/// `ContractInfo::flags` bit: the contract accepts re-entry.
pub const FLAG_REENTRANT: u32 = 1;
