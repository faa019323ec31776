//! [`Base`]: the node's state as the store data of a call frame holds it.
//!
//! wasmi's intended pattern is one `Linker`, built once per wasmi engine and shared by every
//! store, with a fresh `Store` per call. A `Linker<T>` is tied to its store-data type `T`, so
//! `T` (the engine's `Frame`) cannot carry the lifetime of the node's state borrow (the `&S`
//! of `Engine::simulate`, the `&mut S` of `Engine::execute_block`): a `Frame<'s>` would need a
//! `Linker<Frame<'s>>` built anew for every borrow, which is the per-call import wrapping this
//! replaces. The frame data owns everything else it needs (the block's overlay, events, logs
//! and call stack are moved into each frame's store and handed back when it ends), but host
//! functions must still read the node's state, and a borrow cannot be moved into a value
//! without its lifetime. `Base` is that borrow with its lifetime erased.
//!
//! This is the engine's only `unsafe` code. Its soundness rests on one rule, kept by the two
//! callers of [`Base::new`] (`Engine::run_block` and `Engine::simulate`):
//!
//! Invariant: a [`Base`] never outlives the borrow it was made from. It is neither `Clone`
//! nor `Send`: the one value lives in the block's (or simulation's) `TxEnv`, moves with it
//! into each frame's wasmi store and back, and is dropped when the `TxEnv` is consumed, before
//! `run_block` commits (which needs the store mutably) or `simulate` returns. Nothing in it is
//! dereferenced on drop, so unwinding through a frame is sound too.

use std::ops::Bound;
use std::ptr::NonNull;

use keel_state::{Entry, StateError, StateRead};

/// The node's state, borrowed for one block or simulation; see the module docs.
pub(crate) struct Base {
    /// `None` only in the placeholder a frame holds while it has lent the block's `TxEnv` to
    /// a nested call (see `Base::lent`); never read then, since that frame is suspended.
    state: Option<NonNull<dyn StateRead + 'static>>,
}

impl Base {
    /// Wraps `state`.
    ///
    /// # Safety
    ///
    /// The caller must keep `state` borrowed (neither drop, move nor mutate it) until the
    /// returned `Base` is dropped.
    pub(crate) unsafe fn new<'s>(state: &'s (dyn StateRead + 's)) -> Self {
        let state: NonNull<dyn StateRead + 's> = NonNull::from(state);
        // SAFETY: only the trait object's lifetime bound changes (same pointer, same vtable);
        // the caller keeps the referent alive and unchanged for as long as `Self` lives.
        let state = unsafe {
            std::mem::transmute::<NonNull<dyn StateRead + 's>, NonNull<dyn StateRead + 'static>>(
                state,
            )
        };
        Self { state: Some(state) }
    }

    /// The placeholder left in a frame's store data while its `TxEnv` is lent to a nested
    /// frame. Reading it is an engine bug and fails as a store error, never as UB.
    pub(crate) fn lent() -> Self {
        Self { state: None }
    }

    fn get_ref(&self) -> Result<&dyn StateRead, StateError> {
        match self.state {
            // SAFETY: `new`'s contract: the referent is alive and not mutated while `self`
            // lives.
            Some(state) => Ok(unsafe { state.as_ref() }),
            None => Err(StateError::Corrupted(
                "engine bug: state read through a lent frame environment".into(),
            )),
        }
    }
}

impl StateRead for Base {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_ref()?.get(key)
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<Entry>, StateError> {
        self.get_ref()?.next_entry(lower, upper)
    }
}
