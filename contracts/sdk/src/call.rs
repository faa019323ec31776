//! Cross-contract calls: the status codes and the typed result used by `#[interface]` clients.

use parity_scale_codec::{Decode, DecodeAll, Encode, Output};

use crate::buf::{with_encoded, with_read};
use crate::{Address, env};

/// Gas argument meaning "as much as this frame has left" (the host caps a call's gas at what
/// the caller has left).
pub const ALL_GAS: u64 = u64::MAX;

/// The host's `CallStatus` for a cross-contract call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallStatus {
    /// `0`: the callee returned normally.
    Success,
    /// `1`: the callee reverted (its writes and events were rolled back).
    Reverted,
    /// `2`: the callee trapped (rolled back).
    Trapped,
    /// `3`: refused: unknown contract or method, call depth exceeded, or re-entry not allowed.
    Refused,
    /// A code this SDK does not know.
    Unknown(i32),
}

impl CallStatus {
    /// Maps the host's status code.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => CallStatus::Success,
            1 => CallStatus::Reverted,
            2 => CallStatus::Trapped,
            3 => CallStatus::Refused,
            c => CallStatus::Unknown(c),
        }
    }
}

/// The error type of a method that cannot fail with a typed error. It has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoError {}

impl Encode for NoError {
    fn encode_to<O: Output + ?Sized>(&self, _dest: &mut O) {
        match *self {}
    }
}

impl Decode for NoError {
    fn decode<I: parity_scale_codec::Input>(_: &mut I) -> Result<Self, parity_scale_codec::Error> {
        Err("NoError has no values".into())
    }
}

/// Why a typed cross-contract call failed. `E` is the callee method's typed error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CallError<E = NoError> {
    /// The callee reverted with its typed error `E`.
    Contract(E),
    /// The callee reverted with bytes that are not an `E` (a panic message, or a revert by
    /// hand); read them with [`env::call_result`].
    Reverted,
    /// The callee trapped.
    Trapped,
    /// The host refused the call (unknown contract or method, depth, or re-entry).
    Refused,
    /// The callee succeeded but its return data did not decode as the declared type.
    InvalidReturn,
    /// The host returned a status code this SDK does not know.
    Unknown(i32),
}

/// Calls `method` on `address` with SCALE-encoded `args` (a tuple of the parameters) and decodes
/// the result as `T`, or a revert as the typed error `E`. This is what `#[interface]` clients call.
pub fn invoke<A: Encode, T: Decode, E: Decode>(
    address: &Address,
    method: &str,
    args: &A,
    gas: u64,
) -> Result<T, CallError<E>> {
    let status = with_encoded(&[], args, |input| {
        env::call_raw(address, method, input, gas)
    });
    let read = |out: &mut [u8]| Some(env::call_result(out));
    match status {
        CallStatus::Success => with_read(read, |b| T::decode_all(&mut &b[..]).ok())
            .flatten()
            .ok_or(CallError::InvalidReturn),
        CallStatus::Reverted => Err(with_read(read, |b| E::decode_all(&mut &b[..]).ok())
            .flatten()
            .map_or(CallError::Reverted, CallError::Contract)),
        CallStatus::Trapped => Err(CallError::Trapped),
        CallStatus::Refused => Err(CallError::Refused),
        CallStatus::Unknown(c) => Err(CallError::Unknown(c)),
    }
}
