//! The node's block API: executing without committing, then committing the same result, gives
//! exactly what `execute_block` gives; a pending block is refused on a state that moved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_engine::{Action, BlockContext, Engine, EngineError, Transaction, nonce, receipts_root};
use keel_state::{MemStore, StateStore};

fn txs() -> Vec<Transaction> {
    let wasm = wat::parse_str(
        r#"(module
        (import "keel" "storage_set" (func $set (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "kv")
        (func (export "init") (call $set (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1))))"#,
    )
    .unwrap();
    let alice = [7u8; 32];
    let code_hash = keel_engine::code_hash(&wasm);
    vec![
        Transaction {
            sender: alice,
            nonce: 0,
            gas_limit: 50_000_000,
            action: Action::Deploy { code: wasm },
        },
        Transaction {
            sender: alice,
            nonce: 1,
            gas_limit: 50_000_000,
            action: Action::Instantiate {
                code_hash,
                salt: vec![],
                args: vec![],
            },
        },
        // A replay: Invalid, still a receipt.
        Transaction {
            sender: alice,
            nonce: 1,
            gas_limit: 1,
            action: Action::Deploy { code: vec![] },
        },
    ]
}

#[test]
fn pending_then_commit_equals_execute_block() {
    let ctx = BlockContext {
        height: 1,
        timestamp: 1000,
    };
    let mut a = MemStore::new();
    let mut b = MemStore::new();
    let direct = Engine::default()
        .execute_block(&mut a, &ctx, &txs())
        .unwrap();

    let mut engine = Engine::default();
    let pending = engine.execute_pending(&b, &ctx, &txs()).unwrap();
    assert_eq!(b.version(), 0, "execute_pending commits nothing");
    assert_eq!(pending.receipts, direct.receipts);
    let committed = engine.commit_pending(&mut b, pending).unwrap();
    assert_eq!(committed, direct);
    assert_eq!(b.root(), a.root());
    assert_eq!(nonce(&b, &[7u8; 32]).unwrap(), 2);
    assert_eq!(nonce(&b, &[8u8; 32]).unwrap(), 0);
    assert_ne!(receipts_root(&committed.receipts), [0; 32]);
}

#[test]
fn a_pending_block_is_refused_on_a_state_that_moved() {
    let ctx = BlockContext {
        height: 1,
        timestamp: 1000,
    };
    let mut s = MemStore::new();
    let mut engine = Engine::default();
    let pending = engine.execute_pending(&s, &ctx, &txs()).unwrap();
    engine.execute_block(&mut s, &ctx, &txs()[..1]).unwrap();
    let root = s.root();
    match engine.commit_pending(&mut s, pending) {
        Err(EngineError::Internal(_)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(s.root(), root);
    assert_eq!(s.version(), 1);
}
