//! The runtime glue used by the `#[contract]` macro: method entry, argument decoding, return
//! values, and (on wasm32) the panic handler and the global allocator. Not a stable API.

use parity_scale_codec::{DecodeAll, Encode};

use crate::buf::{BufWriter, with_encoded};
use crate::env;

/// Size of the stack buffer a method's input is read into.
pub const INPUT_BUF: usize = 1024;

/// Reads the call input and runs `body` on it. Inputs larger than [`INPUT_BUF`] need the
/// `alloc` feature; without it they revert.
#[inline]
pub fn enter(body: impl FnOnce(&[u8])) {
    let mut stack = [0u8; INPUT_BUF];
    let len = env::read_input(&mut stack);
    if let Some(input) = stack.get(..len) {
        return body(input);
    }
    #[cfg(feature = "alloc")]
    {
        let mut v = alloc::vec![0u8; len];
        let len = env::read_input(&mut v);
        v.truncate(len);
        body(&v)
    }
    #[cfg(not(feature = "alloc"))]
    env::revert_str("keel-sdk: input larger than 1024 bytes (enable keel-sdk's `alloc` feature)")
}

/// Decodes a method's arguments (the SCALE tuple of its parameters), reverting with
/// `keel-sdk: invalid arguments for `<method>`` if the bytes are not exactly one `T`.
pub fn decode_args<T: DecodeAll>(method: &str, input: &[u8]) -> T {
    match T::decode_all(&mut &input[..]) {
        Ok(v) => v,
        Err(_) => invalid_args(method),
    }
}

#[cold]
fn invalid_args(method: &str) -> ! {
    let mut buf = [0u8; 128];
    let mut w = BufWriter::new(&mut buf);
    parity_scale_codec::Output::write(&mut w, b"keel-sdk: invalid arguments for `");
    let name = method.as_bytes();
    parity_scale_codec::Output::write(&mut w, name.get(..name.len().min(80)).unwrap_or_default());
    parity_scale_codec::Output::write(&mut w, b"`");
    env::revert(w.as_slice().unwrap_or(b"keel-sdk: invalid arguments"))
}

/// Sets `value`'s SCALE encoding as the return data.
#[inline]
pub fn ret<T: Encode + ?Sized>(value: &T) {
    with_encoded(&[], value, |bytes| {
        // An empty encoding (`()`) leaves the return data empty anyway: skip the host call.
        if !bytes.is_empty() {
            env::set_return(bytes)
        }
    })
}

/// `Ok(v)`: returns `v`. `Err(e)`: reverts with the SCALE encoding of `e`.
#[inline]
pub fn ret_result<T: Encode, E: Encode>(result: Result<T, E>) {
    match result {
        Ok(v) => ret(&v),
        Err(e) => with_encoded(&[], &e, |b| env::revert(b)),
    }
}

/// A `core::fmt::Write` sink that truncates at its capacity.
pub struct TruncWriter<'a> {
    w: BufWriter<'a>,
    cap: usize,
}

impl<'a> TruncWriter<'a> {
    /// A writer into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        let cap = buf.len();
        TruncWriter {
            w: BufWriter::new(buf),
            cap,
        }
    }
    /// What was written (at most the buffer's length).
    pub fn as_bytes(&self) -> &[u8] {
        self.w.as_slice().unwrap_or_default()
    }
}

impl core::fmt::Write for TruncWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.cap - self.w.len();
        let b = s.as_bytes();
        parity_scale_codec::Output::write(
            &mut self.w,
            b.get(..b.len().min(room)).unwrap_or_default(),
        );
        Ok(())
    }
}

#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
mod panic {
    use core::cell::UnsafeCell;
    use core::fmt::Write;

    const PANIC_BUF: usize = 256;

    struct PanicState {
        buf: UnsafeCell<[u8; PANIC_BUF]>,
        active: UnsafeCell<bool>,
    }
    // SAFETY: wasm32 contracts are single-threaded.
    unsafe impl Sync for PanicState {}

    static STATE: PanicState = PanicState {
        buf: UnsafeCell::new([0; PANIC_BUF]),
        active: UnsafeCell::new(false),
    };

    /// Turns a panic into a revert whose message is `panicked at <file>:<line>:<col>: <msg>`
    /// (truncated to 256 bytes).
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        // SAFETY: single-threaded; the handler never returns, and a nested panic takes the
        // early exit below before touching the buffer again.
        unsafe {
            if *STATE.active.get() {
                super::env::revert_str("panicked while panicking")
            }
            *STATE.active.get() = true;
            let buf = &mut *STATE.buf.get();
            let mut w = super::TruncWriter::new(buf);
            let _ = match info.location() {
                Some(l) => write!(
                    w,
                    "panicked at {}:{}:{}: {}",
                    l.file(),
                    l.line(),
                    l.column(),
                    info.message()
                ),
                None => write!(w, "panicked: {}", info.message()),
            };
            super::env::revert(w.as_bytes())
        }
    }
}

/// The SDK's global allocator (feature `global-allocator`, on by default, wasm32 only).
///
/// Without the `alloc` feature it refuses every allocation by reverting with a message saying
/// so: a contract that never allocates carries none of this code (it is removed as dead code).
/// With `alloc` it is a bump allocator over the memory after the static data (`__heap_base`),
/// growing memory by whole pages; freeing only reclaims the most recent allocation. Memory is
/// fresh for each call, so nothing leaks across calls.
pub struct KeelAllocator {
    #[cfg(feature = "alloc")]
    next: core::cell::UnsafeCell<usize>,
}

impl KeelAllocator {
    /// A fresh allocator.
    pub const fn new() -> Self {
        KeelAllocator {
            #[cfg(feature = "alloc")]
            next: core::cell::UnsafeCell::new(0),
        }
    }
}

impl Default for KeelAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: wasm32 contracts are single-threaded.
unsafe impl Sync for KeelAllocator {}

#[cfg(all(target_arch = "wasm32", not(feature = "alloc")))]
// SAFETY: never hands out memory.
unsafe impl core::alloc::GlobalAlloc for KeelAllocator {
    unsafe fn alloc(&self, _layout: core::alloc::Layout) -> *mut u8 {
        env::revert_str("keel-sdk: this contract allocates; enable keel-sdk's `alloc` feature")
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: core::alloc::Layout) {}
}

#[cfg(all(target_arch = "wasm32", feature = "alloc"))]
mod bump {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;

    const PAGE: usize = 65536;

    unsafe extern "C" {
        static __heap_base: u8;
    }

    // SAFETY: single-threaded; returns null when memory cannot grow, as GlobalAlloc requires.
    unsafe impl GlobalAlloc for super::KeelAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded access to the bump pointer.
            let next = unsafe { &mut *self.next.get() };
            if *next == 0 {
                *next = &raw const __heap_base as usize;
            }
            let start = match next.checked_add(layout.align() - 1) {
                Some(v) => v & !(layout.align() - 1),
                None => return core::ptr::null_mut(),
            };
            let Some(end) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            let have = wasm32::memory_size(0) * PAGE;
            if end > have {
                let pages = (end - have).div_ceil(PAGE);
                if wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
            }
            *next = end;
            start as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: single-threaded access to the bump pointer.
            let next = unsafe { &mut *self.next.get() };
            if ptr as usize + layout.size() == *next {
                *next = ptr as usize;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: single-threaded access to the bump pointer.
            let next = unsafe { &mut *self.next.get() };
            if ptr as usize + layout.size() == *next && new_size >= layout.size() {
                // The last allocation grows in place.
                let end = ptr as usize + new_size;
                let have = wasm32::memory_size(0) * PAGE;
                if end > have && wasm32::memory_grow(0, (end - have).div_ceil(PAGE)) == usize::MAX {
                    return core::ptr::null_mut();
                }
                *next = end;
                return ptr;
            }
            // SAFETY: the caller's layout contract is passed through.
            let new =
                unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the copied length and do not overlap.
                unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            }
            new
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "global-allocator"))]
#[global_allocator]
static ALLOCATOR: KeelAllocator = KeelAllocator::new();

// On the host the allocator never runs, but a host build with `alloc` (a test that links a
// contract using it) still has the field: reading it here keeps that build warning-free. At the
// end of the file, so no panic location above moves.
#[cfg(all(feature = "alloc", not(target_arch = "wasm32")))]
impl KeelAllocator {
    /// The next free address (0 until the first allocation; always 0 on the host).
    pub fn next_free(&self) -> usize {
        // SAFETY: a plain read; the host never allocates through this allocator.
        unsafe { *self.next.get() }
    }
}
