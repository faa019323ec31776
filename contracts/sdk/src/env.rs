//! Safe wrappers over every host function of the `keel` import module.
//!
//! Each wrapper passes pointers into Rust-owned buffers only, so the host's bounds checks can
//! never fail because of the SDK. Off wasm32 these functions panic (see [`crate::sys`]).

use crate::{Address, CallStatus, sys};

/// Copies as much of this call's input as fits into `out` and returns the input's full length.
pub fn read_input(out: &mut [u8]) -> usize {
    // SAFETY: `out` is a valid, writable buffer of `out.len()` bytes.
    unsafe { sys::input(out.as_mut_ptr(), out.len()) as usize }
}

/// The full length of this call's input.
pub fn input_len() -> usize {
    read_input(&mut [])
}

/// Sets this call's return data (replacing any earlier return data).
pub fn set_return(data: &[u8]) {
    // SAFETY: `data` is a valid, readable buffer.
    unsafe { sys::set_return(data.as_ptr(), data.len()) }
}

/// Ends this call frame: its writes and events are rolled back and `message` becomes the revert
/// message the caller sees.
pub fn revert(message: &[u8]) -> ! {
    // SAFETY: `message` is a valid, readable buffer.
    unsafe { sys::revert(message.as_ptr(), message.len()) }
}

/// [`revert`] with a UTF-8 message.
pub fn revert_str(message: &str) -> ! {
    revert(message.as_bytes())
}

/// Reads the value at `key` into `out`. `None` if the key is absent, else the value's full
/// length (only `min(len, out.len())` bytes were copied).
pub fn storage_read(key: &[u8], out: &mut [u8]) -> Option<usize> {
    // SAFETY: both buffers are valid for their lengths.
    let n = unsafe { sys::storage_get(key.as_ptr(), key.len(), out.as_mut_ptr(), out.len()) };
    usize::try_from(n).ok()
}

/// Writes `value` at `key` in this contract's storage.
pub fn storage_write(key: &[u8], value: &[u8]) {
    // SAFETY: both buffers are valid for their lengths.
    unsafe { sys::storage_set(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
}

/// Deletes `key` from this contract's storage.
pub fn storage_remove(key: &[u8]) {
    // SAFETY: `key` is valid for its length.
    unsafe { sys::storage_remove(key.as_ptr(), key.len()) }
}

/// Whether `key` is present in this contract's storage.
pub fn storage_has(key: &[u8]) -> bool {
    // SAFETY: `key` is valid for its length.
    unsafe { sys::storage_has(key.as_ptr(), key.len()) == 1 }
}

/// The raw `storage_next` call: `query` is a SCALE `(Bound<Vec<u8>>, Bound<Vec<u8>>)` (see
/// [`crate::storage::encode_range_query`]); the answer, copied into `out` if it fits, is the SCALE
/// `(Vec<u8>, Vec<u8>)` of the first entry in range. Returns `None` if the range is empty, else
/// the answer's full length. Prefer [`crate::storage::Map::iter`].
pub fn storage_next_raw(query: &[u8], out: &mut [u8]) -> Option<usize> {
    // SAFETY: both buffers are valid for their lengths.
    let n = unsafe { sys::storage_next(query.as_ptr(), query.len(), out.as_mut_ptr(), out.len()) };
    usize::try_from(n).ok()
}

/// SHA-256 of `data`, computed by the host.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is readable, `out` is 32 writable bytes.
    unsafe { sys::sha256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

/// BLAKE3 of `data`, computed by the host.
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is readable, `out` is 32 writable bytes.
    unsafe { sys::blake3(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

/// The immediate caller: the transaction's sender account, or the calling contract.
pub fn caller() -> Address {
    let mut out = [0u8; 32];
    // SAFETY: `out` is 32 writable bytes.
    unsafe { sys::caller(out.as_mut_ptr()) };
    Address(out)
}

/// This contract's own address.
pub fn self_address() -> Address {
    let mut out = [0u8; 32];
    // SAFETY: `out` is 32 writable bytes.
    unsafe { sys::self_address(out.as_mut_ptr()) };
    Address(out)
}

/// The current block's height, from the node's block context.
pub fn block_height() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::block_height() as u64 }
}

/// The current block's timestamp (milliseconds, node-defined), from the node's block context.
pub fn block_timestamp() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::block_timestamp() as u64 }
}

/// Gas remaining in this call frame.
pub fn gas_left() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::gas_left() as u64 }
}

/// Emits an event with raw topics and data. Prefer [`crate::emit`] with a typed event.
pub fn emit_raw(topics: &[[u8; 32]], data: &[u8]) {
    // SAFETY: `topics` is `32 * topics.len()` contiguous readable bytes; `data` is readable.
    unsafe {
        sys::emit_event(
            topics.as_ptr().cast(),
            topics.len() * 32,
            data.as_ptr(),
            data.len(),
        )
    }
}

/// Calls `method` of the contract at `address` with the raw (SCALE) `input`, giving it at most
/// `gas` (values above `i64::MAX` are passed as `i64::MAX`). The callee's return data or revert
/// message is then available through [`call_result`]. Prefer an `#[interface]` client.
pub fn call_raw(address: &Address, method: &str, input: &[u8], gas: u64) -> CallStatus {
    let gas = i64::try_from(gas).unwrap_or(i64::MAX);
    // SAFETY: all buffers are valid for their lengths; the address is 32 bytes.
    let code = unsafe {
        sys::call(
            address.0.as_ptr(),
            method.as_ptr(),
            method.len(),
            input.as_ptr(),
            input.len(),
            gas,
        )
    };
    CallStatus::from_code(code)
}

/// Copies as much as fits of the last call's return data (on success) or revert message (on
/// revert) into `out`, and returns its full length.
pub fn call_result(out: &mut [u8]) -> usize {
    // SAFETY: `out` is a valid, writable buffer of `out.len()` bytes.
    unsafe { sys::call_result(out.as_mut_ptr(), out.len()) as usize }
}

/// Sends a UTF-8 message to the harness's debug log. Costs gas; never affects results.
pub fn debug_log(message: &str) {
    // SAFETY: `message` is valid for its length.
    unsafe { sys::debug_log(message.as_ptr(), message.len()) }
}
