//! A global allocator wrapper that measures allocations made by the current thread inside
//! [`measure`], so the decode target can check that decoding never allocates far more than its
//! input justifies (a SCALE length prefix of 2^30 must not reserve gigabytes).
//!
//! It only measures when a binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: keel_fuzz::alloc_guard::TrackingAlloc = keel_fuzz::alloc_guard::TrackingAlloc;
//! ```
//!
//! Without that, [`measure`] returns `None` for the statistics and the check is skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The tracking allocator: [`System`] plus per-thread counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackingAlloc;

static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            let _ = TOTAL.try_with(|t| t.set(t.get().saturating_add(size)));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are thread-local `Cell`s with `const` initialisers, which never allocate.
unsafe impl GlobalAlloc for TrackingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What the current thread allocated inside one [`measure`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocStats {
    /// The largest single allocation or reallocation, in bytes.
    pub largest: usize,
    /// The sum of all allocation and reallocation sizes, in bytes.
    pub total: usize,
}

/// Runs `f`, returning its result and, if [`TrackingAlloc`] is the global allocator, what this
/// thread allocated meanwhile.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<AllocStats>) {
    LARGEST.with(|l| l.set(0));
    TOTAL.with(|t| t.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    let stats = AllocStats {
        largest: LARGEST.with(Cell::get),
        total: TOTAL.with(Cell::get),
    };
    (r, INSTALLED.load(Ordering::Relaxed).then_some(stats))
}
