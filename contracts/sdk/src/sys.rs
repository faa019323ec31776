//! The raw host ABI: one `extern` declaration per function of the `keel` import module.
//!
//! Signatures follow the table in `ARCHITECTURE.md` exactly. Pointers and lengths are `i32`
//! offsets into this contract's memory (`usize` and pointers are 32 bits on wasm32). Off wasm32
//! (the host build used by the workspace's tests and clippy) each function is a stub that
//! panics: the host functions only exist inside the Keel engine.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "keel")]
unsafe extern "C" {
    /// Copies `min(len, out_cap)` bytes of the call input; returns the full length.
    pub fn input(out_ptr: *mut u8, out_cap: usize) -> u32;
    /// Sets the return data (replacing earlier return data).
    pub fn set_return(ptr: *const u8, len: usize);
    /// Ends the frame, rolling back its state; the bytes become the revert message.
    pub fn revert(ptr: *const u8, len: usize) -> !;
    /// `-1` if the key is absent, else the value's length; copies `min(len, out_cap)` bytes.
    pub fn storage_get(key_ptr: *const u8, key_len: usize, out_ptr: *mut u8, out_cap: usize)
    -> i64;
    /// Writes a value.
    pub fn storage_set(key_ptr: *const u8, key_len: usize, val_ptr: *const u8, val_len: usize);
    /// Deletes a key.
    pub fn storage_remove(key_ptr: *const u8, key_len: usize);
    /// `1` if the key is present, `0` if not.
    pub fn storage_has(key_ptr: *const u8, key_len: usize) -> i32;
    /// The first entry in a key range (see `ARCHITECTURE.md`), or `-1`.
    pub fn storage_next(
        query_ptr: *const u8,
        query_len: usize,
        out_ptr: *mut u8,
        out_cap: usize,
    ) -> i64;
    /// Writes the 32-byte SHA-256 of the input.
    pub fn sha256(ptr: *const u8, len: usize, out_ptr: *mut u8);
    /// Writes the 32-byte BLAKE3 of the input.
    pub fn blake3(ptr: *const u8, len: usize, out_ptr: *mut u8);
    /// Writes the 32-byte address of the immediate caller.
    pub fn caller(out_ptr: *mut u8);
    /// Writes this contract's 32-byte address.
    pub fn self_address(out_ptr: *mut u8);
    /// The block height.
    pub fn block_height() -> i64;
    /// The block timestamp.
    pub fn block_timestamp() -> i64;
    /// Gas remaining in this frame.
    pub fn gas_left() -> i64;
    /// Emits an event: concatenated 32-byte topics, then data.
    pub fn emit_event(
        topics_ptr: *const u8,
        topics_len: usize,
        data_ptr: *const u8,
        data_len: usize,
    );
    /// Calls another contract; returns a `CallStatus` code.
    pub fn call(
        addr_ptr: *const u8,
        method_ptr: *const u8,
        method_len: usize,
        input_ptr: *const u8,
        input_len: usize,
        gas: i64,
    ) -> i32;
    /// Copies the last call's return data or revert message; returns its full length.
    pub fn call_result(out_ptr: *mut u8, out_cap: usize) -> u32;
    /// Sends a UTF-8 message to the harness's debug log.
    pub fn debug_log(ptr: *const u8, len: usize);
}

#[cfg(not(target_arch = "wasm32"))]
pub use host_stubs::*;

/// Host-side stand-ins with the same signatures, so that the crate type-checks and its pure
/// logic can be unit-tested off wasm32. Calling any of them is a bug: they panic.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc, missing_docs)] // stubs of the documented imports above
mod host_stubs {
    #[cold]
    fn unavailable(name: &str) -> ! {
        panic!("keel-sdk: host function `{name}` exists only inside a Keel contract (wasm32)")
    }
    pub unsafe fn input(_: *mut u8, _: usize) -> u32 {
        unavailable("input")
    }
    pub unsafe fn set_return(_: *const u8, _: usize) {
        unavailable("set_return")
    }
    pub unsafe fn revert(_: *const u8, _: usize) -> ! {
        unavailable("revert")
    }
    pub unsafe fn storage_get(_: *const u8, _: usize, _: *mut u8, _: usize) -> i64 {
        unavailable("storage_get")
    }
    pub unsafe fn storage_set(_: *const u8, _: usize, _: *const u8, _: usize) {
        unavailable("storage_set")
    }
    pub unsafe fn storage_remove(_: *const u8, _: usize) {
        unavailable("storage_remove")
    }
    pub unsafe fn storage_has(_: *const u8, _: usize) -> i32 {
        unavailable("storage_has")
    }
    pub unsafe fn storage_next(_: *const u8, _: usize, _: *mut u8, _: usize) -> i64 {
        unavailable("storage_next")
    }
    pub unsafe fn sha256(_: *const u8, _: usize, _: *mut u8) {
        unavailable("sha256")
    }
    pub unsafe fn blake3(_: *const u8, _: usize, _: *mut u8) {
        unavailable("blake3")
    }
    pub unsafe fn caller(_: *mut u8) {
        unavailable("caller")
    }
    pub unsafe fn self_address(_: *mut u8) {
        unavailable("self_address")
    }
    pub unsafe fn block_height() -> i64 {
        unavailable("block_height")
    }
    pub unsafe fn block_timestamp() -> i64 {
        unavailable("block_timestamp")
    }
    pub unsafe fn gas_left() -> i64 {
        unavailable("gas_left")
    }
    pub unsafe fn emit_event(_: *const u8, _: usize, _: *const u8, _: usize) {
        unavailable("emit_event")
    }
    pub unsafe fn call(
        _: *const u8,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
        _: i64,
    ) -> i32 {
        unavailable("call")
    }
    pub unsafe fn call_result(_: *mut u8, _: usize) -> u32 {
        unavailable("call_result")
    }
    pub unsafe fn debug_log(_: *const u8, _: usize) {
        unavailable("debug_log")
    }
}
