//! Host side (not wasm32): what the typed test clients `#[contract]` generates are written
//! against. A harness (keel-testkit's `TestChain`) implements [`Chain`]; the client
//! `XClient::new(&mut chain, address).with_sender(alice).method(args…)` encodes the arguments
//! as the contract's method decodes them, runs the call and decodes the return value or the
//! contract's own error type.
//!
//! ```ignore
//! let out = EscrowClient::new(&mut chain, escrow).with_sender(alice).deposit(1, bob, 15_000)?;
//! assert_eq!(out.result, Err(CallFailure::Error(EscrowError::NotArbiter)));
//! println!("{} gas", out.receipt.gas_used());
//! ```

use host_alloc::vec::Vec;
use parity_scale_codec::{Decode, DecodeAll};

use crate::Address;

/// How a call ended, as a [`Chain`]'s receipt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Success, with the return data.
    Returned(&'a [u8]),
    /// Reverted, with the revert data.
    Reverted(&'a [u8]),
    /// Anything else: trapped, out of gas, or not executed (invalid). The receipt says which.
    Failed,
}

/// A receipt a typed client can decode.
pub trait Receipt {
    /// How the call ended.
    fn reply(&self) -> Reply<'_>;
}

/// A chain a typed client can call contracts on.
pub trait Chain {
    /// The receipt of one call (keel-testkit: `Outcome`, with gas, events and logs).
    type Receipt: Receipt;
    /// Why a call could not be run at all (the harness failed, not the contract).
    type Error;
    /// The sender a client uses until its `with_sender` is called.
    fn default_sender(&self) -> Address;
    /// Runs `method` of `contract` with SCALE-encoded `args` as `sender`, committing it.
    fn call_raw(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Self::Receipt, Self::Error>;
}

/// Why a typed call did not return a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure<E> {
    /// The contract returned its typed error (`Err(e)` from a `-> Result<T, E>` method).
    Error(E),
    /// It reverted with bytes that are not an `E` (a panic message, `revert_str`, bad
    /// arguments): the bytes.
    Reverted(Vec<u8>),
    /// It trapped, ran out of gas or was not executed: see the receipt.
    Failed,
    /// It succeeded, but the return data did not decode as the method's return type.
    BadReturn,
}

/// The result of a typed call: the decoded result and the receipt (gas, events, logs).
#[derive(Debug, Clone)]
pub struct Called<T, E, R> {
    /// The return value, or why there is none.
    pub result: Result<T, CallFailure<E>>,
    /// The receipt, unchanged.
    pub receipt: R,
}

impl<T, E: core::fmt::Debug, R: core::fmt::Debug> Called<T, E, R> {
    /// The return value; panics, showing the failure and the receipt, if there is none.
    #[track_caller]
    pub fn unwrap(self) -> T {
        match self.result {
            Ok(v) => v,
            Err(f) => panic!("expected success, got {f:?}\nreceipt: {:?}", self.receipt),
        }
    }

    /// The contract's typed error; panics if the call did not end with one.
    #[track_caller]
    pub fn unwrap_err(self) -> E {
        match self.result {
            Err(CallFailure::Error(e)) => e,
            Ok(_) => panic!(
                "expected the contract's error, got success\nreceipt: {:?}",
                self.receipt
            ),
            Err(f) => panic!(
                "expected the contract's error, got {f:?}\nreceipt: {:?}",
                self.receipt
            ),
        }
    }
}

impl<T, E, R> Called<T, E, R> {
    /// Whether the call returned a value.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Decodes a receipt as a method returning `T` or failing with `E` (used by the generated
/// clients). The return data must be exactly one `T`; revert data exactly one `E`.
pub fn decode_reply<T: Decode, E: Decode, R: Receipt>(receipt: R) -> Called<T, E, R> {
    let result = match receipt.reply() {
        Reply::Returned(mut data) => T::decode_all(&mut data).map_err(|_| CallFailure::BadReturn),
        Reply::Reverted(data) => {
            let mut d = data;
            match E::decode_all(&mut d) {
                Ok(e) => Err(CallFailure::Error(e)),
                Err(_) => Err(CallFailure::Reverted(data.to_vec())),
            }
        }
        Reply::Failed => Err(CallFailure::Failed),
    };
    Called { result, receipt }
}

/// The SCALE encoding of a method's argument tuple (used by the generated clients).
pub fn encode_args<A: parity_scale_codec::Encode>(args: &A) -> Vec<u8> {
    args.encode()
}
