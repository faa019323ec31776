//! Target `decode`: arbitrary bytes decoded into every SCALE type that crosses a trust
//! boundary.
//!
//! For every type (proofs, compressed proofs, change sets, and the engine's node-boundary
//! types): decoding returns a typed error or a value, never panics; decoding with a depth
//! limit behaves the same; a decoded value re-encodes to bytes that decode to an equal
//! value; and (when [`crate::alloc_guard::TrackingAlloc`] is the global allocator) decoding
//! never makes an allocation far larger than the input justifies, whatever a length prefix
//! claims. Decoded proofs are also verified against arbitrary roots and keys, which must not
//! panic either.

use std::fmt::Debug;

use parity_scale_codec::{Decode, DecodeAll, DecodeLimit, Encode};

use keel_engine::{
    Action, BlockContext, BlockOutcome, ContractInfo, Engine, Event, InvalidReason, Receipt,
    Status, Transaction,
};
use keel_state::proof::{CompressedProof, ProofTerminal};
use keel_state::{ChangeSet, MemStore, Proof};

use crate::alloc_guard;

/// The nesting depth limit used with [`DecodeLimit`]. Keel's types nest only a few levels.
pub const DEPTH_LIMIT: u32 = 32;

/// The largest single allocation decoding `len` input bytes may make: a fixed allowance for
/// SCALE's first chunk (16 KiB of items) plus a generous multiple of the input.
pub fn allocation_bound(len: usize) -> usize {
    64 * 1024 + 512 * len
}

/// Decodes `data` as `T` every way a node might, checking the invariants. Returns the value
/// from a plain `decode` (which may leave trailing bytes), if any.
pub fn check<T: Decode + Encode + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let (plain, stats) = alloc_guard::measure(|| T::decode(&mut &data[..]));
    if let Some(stats) = stats {
        assert!(
            stats.largest <= allocation_bound(data.len()),
            "decoding {} from {} bytes allocated {} bytes at once",
            std::any::type_name::<T>(),
            data.len(),
            stats.largest
        );
    }
    let all = T::decode_all(&mut &data[..]);
    let limited = T::decode_all_with_depth_limit(DEPTH_LIMIT, &mut &data[..]);
    // The depth limit is far above Keel's nesting: it must never change the outcome.
    match (&all, &limited) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "depth-limited decode differs"),
        (Err(_), Err(_)) => {}
        _ => panic!("depth limit changed the outcome: {all:?} vs {limited:?}"),
    }
    if let Ok(value) = &all {
        assert_eq!(
            plain.as_ref().ok(),
            Some(value),
            "decode_all ok but decode differs"
        );
    }
    let value = plain.ok()?;
    let encoded = value.encode();
    let again = T::decode_all(&mut &encoded[..])
        .unwrap_or_else(|e| panic!("re-encoded {value:?} does not decode: {e}"));
    assert_eq!(again, value, "decode(encode(v)) != v");
    assert_eq!(again.encode(), encoded, "encoding is not stable");
    Some(value)
}

/// The fuzz target.
pub fn run(data: &[u8]) {
    // The first byte picks which types to try, so the fuzzer can specialise; every type is
    // also tried on the whole input.
    let (selector, rest) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    for input in [data, rest] {
        if let Some(proof) = check::<Proof>(input) {
            // Verification of a hostile proof: an error or Ok, never a panic.
            let root = rest.get(..32).and_then(|r| <[u8; 32]>::try_from(r).ok());
            let root = root.unwrap_or([selector; 32]);
            let _ = proof.verify(&root, rest, Some(data));
            let _ = proof.verify(&root, rest, None);
            let _ = proof.root_for(&root);
            let _ = proof.proven_value_hash(&root);
        }
        if let Some(c) = check::<CompressedProof>(input) {
            // Decompression is strict: whatever it accepts compresses back to the same bytes.
            if let Ok(p) = c.decompress() {
                assert_eq!(p.compress(), c, "decompress/compress round trip");
            }
            let _ = c.verify(&[selector; 32], rest, Some(data));
        }
        check::<ProofTerminal>(input);
        check::<ChangeSet>(input);
        check::<Vec<Proof>>(input);
        // The node boundary: transactions, blocks of them, contexts, receipts, outcomes.
        check::<Transaction>(input);
        check::<Action>(input);
        check::<Vec<Transaction>>(input);
        check::<Vec<Vec<u8>>>(input);
        check::<BlockContext>(input);
        check::<Receipt>(input);
        check::<Status>(input);
        check::<Event>(input);
        check::<BlockOutcome>(input);
        check::<ContractInfo>(input);
    }
    raw_transaction(rest);
}

/// The engine's own entry for untrusted transaction bytes: `execute_block_raw` must answer
/// `Invalid(Undecodable)` exactly when the bytes are not one whole SCALE `Transaction`, and
/// otherwise produce a receipt, never panic.
fn raw_transaction(bytes: &[u8]) {
    thread_local! {
        static ENGINE: std::cell::RefCell<Engine> = std::cell::RefCell::new(Engine::default());
    }
    let decodes = Transaction::decode_all(&mut &bytes[..]).is_ok();
    let ctx = BlockContext {
        height: 1,
        timestamp: 0,
    };
    let out = ENGINE.with(|e| {
        let mut store = MemStore::new();
        e.borrow_mut()
            .execute_block_raw(&mut store, &ctx, &[bytes, bytes])
            .unwrap()
    });
    assert_eq!(out.receipts.len(), 2);
    let undecodable = Status::Invalid(InvalidReason::Undecodable);
    assert_eq!(
        out.receipts[0].status != undecodable,
        decodes,
        "execute_block_raw disagrees with decode_all"
    );
    for r in &out.receipts {
        if let Ok(tx) = Transaction::decode_all(&mut &bytes[..]) {
            assert!(r.gas_used <= tx.gas_limit, "gas_used above the limit");
        } else {
            assert_eq!(r.gas_used, 0);
        }
    }
}
