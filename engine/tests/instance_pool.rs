//! The instance pool (`EngineConfig::instance_pool`): a reused instance is indistinguishable
//! from a fresh one. A contract that dirties its memory and mutable globals (and grows its
//! memory) in one call sees the state of a fresh instantiation in the next, after a success, a
//! revert, a trap and an out-of-gas, and in a nested re-entrant call while its own instance is
//! in use; every receipt and root is the same with the pool on and off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, Engine, EngineConfig, Receipt, Status, Transaction};
use keel_state::{MemStore, StateStore};

/// `observe` returns (global $g: i64, memory[200..208]: i64, memory[100]: u32, memory.size:
/// u32), 24 bytes. `dirty` sets $g, writes memory[200..208] and memory[100], then ends as its
/// one input byte says: 0 return, 1 trap, 2 loop until out of gas, 3 grow the memory and
/// return, 4 revert. `reenter` dirties, then calls its own `observe` and returns that result.
const DIRTY: &str = r#"(module
  (import "keel" "set_return" (func $ret (param i32 i32)))
  (import "keel" "revert" (func $revert (param i32 i32)))
  (import "keel" "input" (func $input (param i32 i32) (result i32)))
  (import "keel" "self_address" (func $self (param i32)))
  (import "keel" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "keel" "call_result" (func $result (param i32 i32) (result i32)))
  (memory (export "memory") 1 4)
  (global $g (mut i64) (i64.const 7))
  (global $h (mut i32) (i32.const 5))
  (data (i32.const 100) "\2a")
  (data (i32.const 400) "observe")
  (func $observe (export "observe")
    (i64.store (i32.const 1000) (i64.add (global.get $g) (i64.extend_i32_u (global.get $h))))
    (i64.store (i32.const 1008) (i64.load (i32.const 200)))
    (i32.store (i32.const 1016) (i32.load8_u (i32.const 100)))
    (i32.store (i32.const 1020) (memory.size))
    (call $ret (i32.const 1000) (i32.const 24)))
  (func $dirty
    (global.set $g (i64.const 99))
    (global.set $h (i32.const 0))
    (i64.store (i32.const 200) (i64.const -1))
    (i32.store8 (i32.const 100) (i32.const 0))
    (i32.store8 (i32.const 406) (i32.const 0x21)))
  (func (export "dirty")
    (local $mode i32)
    (call $dirty)
    (drop (call $input (i32.const 300) (i32.const 1)))
    (local.set $mode (i32.load8_u (i32.const 300)))
    (if (i32.eq (local.get $mode) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $mode) (i32.const 2)) (then (loop $l (br $l))))
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then (drop (memory.grow (i32.const 2)))
            (i32.store (i32.const 131072) (i32.const 1))))
    (if (i32.eq (local.get $mode) (i32.const 4)) (then (call $revert (i32.const 0) (i32.const 0)))))
  (func (export "reenter")
    (call $dirty)
    ;; the method name at 400 was dirtied to "observ!": put it back for the call
    (i32.store8 (i32.const 406) (i32.const 0x65))
    (call $self (i32.const 500))
    (drop (call $call (i32.const 500) (i32.const 400) (i32.const 7) (i32.const 0) (i32.const 0)
      (i64.const 0)))
    (drop (call $result (i32.const 600) (i32.const 24)))
    (call $ret (i32.const 600) (i32.const 24)))
  (func (export "keel_reentrant")))"#;

/// A table-mutating module (`table.set`): its instances cannot be reset, so it is never pooled.
const TABLE: &str = r#"(module
  (import "keel" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (table $t 2 funcref)
  (elem declare func $f)
  (func $f)
  (func (export "run")
    (table.set $t (i32.const 0) (ref.func $f))
    (call $ret (i32.const 0) (i32.const 4))))"#;

fn fresh_observation() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&12i64.to_le_bytes());
    v.extend_from_slice(&0i64.to_le_bytes());
    v.extend_from_slice(&42u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v
}

fn chain(pool: bool) -> Chain {
    Chain::with_config(EngineConfig {
        instance_pool: pool,
        ..EngineConfig::default()
    })
}

/// Runs the dirty/observe script; returns every receipt and root.
fn script(pool: bool) -> (Vec<(Receipt, [u8; 32])>, Engine) {
    let mut c = chain(pool);
    let hash = c.upload(wat::parse_str(DIRTY).unwrap());
    let d = c.instantiate(hash, b"", vec![]);
    let mut out = Vec::new();
    let mut call = |c: &mut Chain, method: &str, args: Vec<u8>, gas: u64| {
        let r = c.run_with_root(
            ALICE,
            gas,
            Action::Call {
                contract: d,
                method: method.into(),
                args,
            },
        );
        out.push(r.clone());
        r.0
    };
    let r = call(&mut c, "observe", vec![], GAS);
    assert_eq!(r.return_data, fresh_observation(), "{r:?}");
    let ends = [
        (0u8, Status::Success),
        (1, Status::Trapped(keel_engine::TrapKind::Unreachable)),
        (2, Status::OutOfGas),
        (3, Status::Success),
        (4, Status::Reverted(Vec::new())),
    ];
    for (mode, status) in ends {
        let r = call(&mut c, "dirty", vec![mode], 200_000);
        assert_eq!(r.status, status, "mode {mode}: {r:?}");
        let r = call(&mut c, "observe", vec![], GAS);
        assert_eq!(r.status, Status::Success, "after mode {mode}: {r:?}");
        assert_eq!(r.return_data, fresh_observation(), "after mode {mode}");
    }
    // Re-entry: the inner frame gets another instance (the outer one is in use), fresh.
    let r = call(&mut c, "reenter", vec![], GAS);
    assert_eq!(r.status, Status::Success, "{r:?}");
    assert_eq!(r.return_data, fresh_observation());
    let r = call(&mut c, "observe", vec![], GAS);
    assert_eq!(r.return_data, fresh_observation());
    (out, c.engine)
}

#[test]
fn a_reused_instance_sees_the_state_of_a_fresh_one_after_every_kind_of_end() {
    let (with, engine) = script(true);
    let stats = engine.stats();
    assert!(stats.instance_reuses >= 10, "{stats:?}");
    let (without, engine) = script(false);
    assert_eq!(engine.stats().instance_reuses, 0);
    // Gas, status, return data and roots: identical with and without the pool.
    assert_eq!(with, without);
}

#[test]
fn a_grown_memory_is_never_reused() {
    let mut c = chain(true);
    let hash = c.upload(wat::parse_str(DIRTY).unwrap());
    let d = c.instantiate(hash, b"", vec![]);
    c.call(ALICE, d, "observe", vec![]);
    let before = c.engine.stats();
    // This frame reuses the idle instance and grows its memory: it is dropped afterwards.
    c.call(ALICE, d, "dirty", vec![3]);
    let mid = c.engine.stats();
    assert_eq!(mid.instance_reuses, before.instance_reuses + 1);
    // So the next frame instantiates afresh.
    let r = c.call(ALICE, d, "observe", vec![]);
    assert_eq!(r.return_data, fresh_observation());
    let after = c.engine.stats();
    assert_eq!(after.instantiations, mid.instantiations + 1, "{after:?}");
    assert_eq!(after.instance_reuses, mid.instance_reuses);
}

#[test]
fn a_module_that_changes_its_table_is_never_pooled() {
    let mut c = chain(true);
    let hash = c.upload(wat::parse_str(TABLE).unwrap());
    let t = c.instantiate(hash, b"", vec![]);
    let before = c.engine.stats();
    for _ in 0..3 {
        let r = c.call(ALICE, t, "run", vec![]);
        assert_eq!(r.status, Status::Success, "{r:?}");
    }
    let after = c.engine.stats();
    assert_eq!(after.instance_reuses, before.instance_reuses);
    assert_eq!(after.instantiations, before.instantiations + 3);
}

/// A block of many transactions to one contract, and simulations: same receipts and root with
/// the pool on and off; with it on, the block instantiates the module at most once per frame
/// that runs while another of its instances is in use.
#[test]
fn a_block_reuses_instances_and_gets_the_same_receipts_and_root() {
    let run = |pool: bool| {
        let mut c = chain(pool);
        let hash = c.upload(wat::parse_str(DIRTY).unwrap());
        let d = c.instantiate(hash, b"", vec![]);
        let mut store: MemStore = c.store.clone();
        let nonce = c.nonces.get(&ALICE).copied().unwrap_or(0);
        let txs: Vec<Transaction> = (0..40u64)
            .map(|i| Transaction {
                sender: ALICE,
                nonce: nonce + i,
                gas_limit: 200_000,
                action: Action::Call {
                    contract: d,
                    method: ["dirty", "observe", "reenter"][(i % 3) as usize].into(),
                    args: vec![(i % 5) as u8],
                },
            })
            .collect();
        let before = c.engine.stats();
        let out = c.engine.execute_block(&mut store, &c.ctx, &txs).unwrap();
        let after = c.engine.stats();
        let sim = c.engine.simulate(&store, &c.ctx, &txs[0]).unwrap();
        (
            out.receipts,
            out.state_root,
            store.root(),
            sim,
            after.instantiations - before.instantiations,
        )
    };
    let (r1, root1, s1, sim1, inst1) = run(true);
    let (r2, root2, s2, sim2, inst2) = run(false);
    assert_eq!(r1, r2);
    assert_eq!((root1, s1), (root2, s2));
    assert_eq!(sim1, sim2);
    for (i, r) in r1.iter().enumerate() {
        if i % 3 != 0 {
            assert_eq!(r.return_data, fresh_observation(), "tx {i}: {r:?}");
        }
    }
    // Without the pool: one instantiation per frame (40 + 13 nested); with it, a handful.
    assert_eq!(inst2, 40 + 13);
    assert!(inst1 <= 6, "{inst1} instantiations with the pool");
}
