//! The host ABI, transactions, blocks and receipts, end to end through `execute_block`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{
    Action, BlockContext, Engine, EngineConfig, InvalidReason, Receipt, Status, Transaction,
    TrapKind, contract_address,
};
use keel_state::{MemStore, StateRead, StateStore};
use parity_scale_codec::Encode;
use sha2::Digest;

fn balance(c: &Chain, token: [u8; 32], who: [u8; 32]) -> u64 {
    let r = c
        .engine
        .query(&c.store, &c.ctx, ALICE, token, "balance", who.to_vec(), GAS)
        .unwrap();
    assert_eq!(r.status, Status::Success, "{r:?}");
    u64::from_le_bytes(r.return_data.try_into().unwrap())
}

#[test]
fn token_transfer_moves_balances_and_emits_an_event() {
    let mut c = Chain::new();
    let t = c.deploy("token", 1_000u64.to_le_bytes().to_vec());
    assert_eq!(balance(&c, t, ALICE), 1_000);
    let r = c.call(ALICE, t, "transfer", transfer_args(BOB, 300));
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].contract, t);
    assert_eq!(&r.events[0].topics[0][..8], b"transfer");
    assert_eq!(r.events[0].data, transfer_args(BOB, 300));
    assert_eq!(balance(&c, t, ALICE), 700);
    assert_eq!(balance(&c, t, BOB), 300);
    // Storage is namespaced: 0x04 ‖ contract ‖ "b" ‖ account.
    let mut key = vec![0x04];
    key.extend_from_slice(&t);
    key.push(b'b');
    key.extend_from_slice(&BOB);
    assert_eq!(
        c.store.get(&key).unwrap(),
        Some(300u64.to_le_bytes().to_vec())
    );
}

#[test]
fn revert_rolls_back_and_keeps_the_message_and_bumps_the_nonce() {
    let mut c = Chain::new();
    let t = c.deploy("token", 10u64.to_le_bytes().to_vec());
    let root = c.store.root();
    let r = c.call(BOB, t, "transfer", transfer_args(ALICE, 5));
    assert_eq!(r.status, Status::Reverted(b"insufficient".to_vec()));
    assert!(r.events.is_empty());
    assert!(r.gas_used > 0);
    assert_eq!(balance(&c, t, ALICE), 10);
    // Only Bob's nonce changed.
    assert_ne!(c.store.root(), root);
    let mut nkey = vec![0x03];
    nkey.extend_from_slice(&BOB);
    assert_eq!(c.store.get(&nkey).unwrap(), Some(1u64.encode()));
}

#[test]
fn probe_reads_the_rest_of_the_abi() {
    let config = EngineConfig {
        record_logs: true,
        ..EngineConfig::default()
    };
    let mut c = Chain::with_config(config);
    let p = c.deploy("probe", vec![]);
    let r = c.call(BOB, p, "probe", vec![]);
    assert_eq!(r.status, Status::Success, "{r:?}");
    let d = r.return_data;
    assert_eq!(d.len(), 152);
    assert_eq!(&d[0..32], sha2::Sha256::digest(b"abc").as_slice());
    assert_eq!(&d[32..64], blake3::hash(b"abc").as_bytes());
    assert_eq!(&d[64..72], &7u64.to_le_bytes());
    assert_eq!(&d[72..80], &1_700_000_000_000u64.to_le_bytes());
    assert_eq!(&d[80..112], &BOB);
    assert_eq!(&d[112..144], &p);
    assert_eq!(&d[144..148], &0i32.to_le_bytes());
    assert_eq!(&d[148..152], &(b"b".to_vec(), b"2".to_vec()).encode()[..]);
    assert_eq!(r.logs, vec!["hello".to_string()]);
}

#[test]
fn debug_logs_never_change_gas_or_results() {
    let run = |record_logs: bool| {
        let config = EngineConfig {
            record_logs,
            ..EngineConfig::default()
        };
        let mut c = Chain::with_config(config);
        let p = c.deploy("probe", vec![]);
        let r = c.call(BOB, p, "probe", vec![]);
        (r, c.store.root())
    };
    let (with, root_with) = run(true);
    let (without, root_without) = run(false);
    assert_eq!(with.logs.len(), 1);
    assert!(without.logs.is_empty());
    assert_eq!(with.gas_used, without.gas_used);
    assert_eq!(with.return_data, without.return_data);
    assert_eq!(root_with, root_without);
}

fn proxy_args(target: [u8; 32], method: &str) -> Vec<u8> {
    let mut a = target.to_vec();
    a.extend_from_slice(method.as_bytes());
    a
}

fn status_of(r: &Receipt) -> (i32, Vec<u8>) {
    assert_eq!(r.status, Status::Success, "{r:?}");
    let code = i32::from_le_bytes(r.return_data[..4].try_into().unwrap());
    (code, r.return_data[4..].to_vec())
}

fn proxy_storage(c: &Chain, contract: [u8; 32]) -> Option<Vec<u8>> {
    let mut key = vec![0x04];
    key.extend_from_slice(&contract);
    key.push(b'k');
    c.store.get(&key).unwrap()
}

#[test]
fn nested_calls_report_status_and_roll_back_failed_frames() {
    let mut c = Chain::new();
    let outer = c.deploy("proxy", vec![]);
    let hash = c.upload(fixture("proxy"));
    let inner = c.instantiate(hash, b"inner", vec![]);

    let r = c.call(ALICE, outer, "proxy", proxy_args(inner, "write"));
    assert_eq!(status_of(&r), (0, vec![]));
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].contract, inner);
    assert_eq!(proxy_storage(&c, inner), Some(b"v".to_vec()));

    let r = c.call(
        ALICE,
        outer,
        "proxy",
        proxy_args(inner, "write_then_revert"),
    );
    assert_eq!(status_of(&r), (1, b"no".to_vec()));
    assert!(r.events.is_empty(), "a reverted frame's events are dropped");
    assert_eq!(proxy_storage(&c, inner), Some(b"v".to_vec()));

    let r = c.call(ALICE, outer, "proxy", proxy_args(inner, "write_then_trap"));
    assert_eq!(status_of(&r), (2, vec![]));
    assert_eq!(proxy_storage(&c, inner), Some(b"v".to_vec()));

    let r = c.call(ALICE, outer, "proxy", proxy_args(inner, "no_such_method"));
    assert_eq!(status_of(&r), (3, vec![]));
    let r = c.call(ALICE, outer, "proxy", proxy_args([9; 32], "write"));
    assert_eq!(status_of(&r), (3, vec![]));
}

#[test]
fn out_of_gas_in_a_nested_call_ends_the_whole_transaction() {
    let mut c = Chain::new();
    let outer = c.deploy("proxy", vec![]);
    let hash = c.upload(fixture("proxy"));
    let inner = c.instantiate(hash, b"inner", vec![]);
    let r = c.call_gas(ALICE, outer, "proxy", proxy_args(inner, "spin"), 500_000);
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, 500_000);
    assert!(r.return_data.is_empty());
}

#[test]
fn reentry_is_refused_unless_the_callee_opts_in() {
    let mut c = Chain::new();
    let plain = c.deploy("proxy", vec![]);
    let r = c.call(ALICE, plain, "reenter", vec![]);
    assert_eq!(status_of(&r).0, 3);
    assert_eq!(proxy_storage(&c, plain), None);

    let reentrant = c.deploy("proxy_reentrant", vec![]);
    let r = c.call(ALICE, reentrant, "reenter", vec![]);
    assert_eq!(status_of(&r).0, 0);
    assert_eq!(proxy_storage(&c, reentrant), Some(b"v".to_vec()));
}

#[test]
fn call_depth_is_limited() {
    for depth in [1u32, 3, EngineConfig::default().limits.max_call_depth] {
        let mut config = EngineConfig::default();
        config.limits.max_call_depth = depth;
        let mut c = Chain::with_config(config);
        let a = c.deploy("call_depth", vec![]);
        let r = c.call_gas(ALICE, a, "down", vec![], 100_000_000);
        assert_eq!(r.status, Status::Success, "{r:?}");
        let mut key = vec![0x04];
        key.extend_from_slice(&a);
        key.push(b'n');
        let n = c.store.get(&key).unwrap().unwrap();
        assert_eq!(u64::from_le_bytes(n.try_into().unwrap()), u64::from(depth));
    }
}

#[test]
fn invalid_transactions_change_nothing() {
    let mut c = Chain::new();
    let t = c.deploy("token", 10u64.to_le_bytes().to_vec());
    let root = c.store.root();
    let bad_nonce = Transaction {
        sender: ALICE,
        nonce: 99,
        gas_limit: GAS,
        action: Action::Call {
            contract: t,
            method: "transfer".into(),
            args: transfer_args(BOB, 1),
        },
    };
    let unknown_contract = c.make_tx(
        BOB,
        GAS,
        Action::Call {
            contract: [7; 32],
            method: "x".into(),
            args: vec![],
        },
    );
    let unknown_code = c.make_tx(
        BOB,
        GAS,
        Action::Instantiate {
            code_hash: [7; 32],
            salt: vec![],
            args: vec![],
        },
    );
    let out = c
        .engine
        .execute_block(
            &mut c.store,
            &c.ctx,
            &[bad_nonce, unknown_contract, unknown_code],
        )
        .unwrap();
    let statuses: Vec<_> = out.receipts.iter().map(|r| r.status.clone()).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Invalid(InvalidReason::BadNonce {
                expected: 2,
                got: 99
            }),
            Status::Invalid(InvalidReason::UnknownContract),
            Status::Invalid(InvalidReason::UnknownCode),
        ]
    );
    assert!(out.receipts.iter().all(|r| r.gas_used == 0));
    assert_eq!(out.state_root, root);
}

#[test]
fn instantiating_twice_at_one_address_is_invalid() {
    let mut c = Chain::new();
    let hash = c.upload(fixture("burn"));
    let a = c.instantiate(hash, b"s", vec![]);
    assert_eq!(a, contract_address(&ALICE, &hash, b"s"));
    let r = c.run(
        ALICE,
        GAS,
        Action::Instantiate {
            code_hash: hash,
            salt: b"s".to_vec(),
            args: vec![],
        },
    );
    assert_eq!(r.status, Status::Invalid(InvalidReason::AddressInUse));
}

#[test]
fn raw_garbage_transactions_become_invalid_receipts() {
    let mut engine = Engine::default();
    let mut store = MemStore::new();
    let ctx = BlockContext::default();
    let good = Transaction {
        sender: ALICE,
        nonce: 0,
        gas_limit: GAS,
        action: Action::Deploy {
            code: fixture("burn"),
        },
    }
    .encode();
    let mut trailing = good.clone();
    trailing.push(0);
    let txs: Vec<Vec<u8>> = vec![vec![], vec![0xff; 7], trailing, good];
    let out = engine.execute_block_raw(&mut store, &ctx, &txs).unwrap();
    let s: Vec<_> = out.receipts.iter().map(|r| r.status.clone()).collect();
    assert_eq!(
        s,
        vec![
            Status::Invalid(InvalidReason::Undecodable),
            Status::Invalid(InvalidReason::Undecodable),
            Status::Invalid(InvalidReason::Undecodable),
            Status::Success,
        ]
    );
}

#[test]
fn simulate_gives_exactly_the_gas_of_execution_and_commits_nothing() {
    let mut c = Chain::new();
    let t = c.deploy("token", 1_000u64.to_le_bytes().to_vec());
    let tx = c.make_tx(
        ALICE,
        GAS,
        Action::Call {
            contract: t,
            method: "transfer".into(),
            args: transfer_args(BOB, 1),
        },
    );
    let root = c.store.root();
    let sim = c.engine.simulate(&c.store, &c.ctx, &tx).unwrap();
    assert_eq!(c.store.root(), root);
    let real = c
        .engine
        .execute_block(&mut c.store, &c.ctx, std::slice::from_ref(&tx))
        .unwrap()
        .receipts
        .remove(0);
    assert_eq!(sim, real);
}

#[test]
fn module_cache_hits_and_misses_charge_the_same_gas() {
    let run = |capacity: usize| {
        let config = EngineConfig {
            module_cache_capacity: capacity,
            ..EngineConfig::default()
        };
        let mut c = Chain::with_config(config);
        let t = c.deploy("token", 1_000u64.to_le_bytes().to_vec());
        // A fresh engine on the same store: every module load is a miss.
        let mut fresh = Chain::with_config(c.engine.config().clone());
        fresh.store = c.store.clone();
        fresh.nonces = c.nonces.clone();
        let cold = fresh.call(ALICE, t, "transfer", transfer_args(BOB, 1));
        let warm = c.call(ALICE, t, "transfer", transfer_args(BOB, 1));
        (cold, warm, c.engine.cached_modules())
    };
    let (cold, warm, cached) = run(16);
    assert_eq!(cached, 1);
    assert_eq!(cold, warm);
    let (cold0, warm0, cached0) = run(0);
    assert_eq!(cached0, 0);
    assert_eq!(cold0, warm0);
    assert_eq!(cold0, cold);
}

#[test]
fn gas_limit_below_intrinsic_cost_is_out_of_gas() {
    let mut c = Chain::new();
    let r = c.run(
        ALICE,
        100,
        Action::Deploy {
            code: fixture("burn"),
        },
    );
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, 100);
    // The nonce was bumped.
    assert_eq!(c.nonces[&ALICE], 1);
    let r = c.run(
        ALICE,
        GAS,
        Action::Deploy {
            code: fixture("burn"),
        },
    );
    assert_eq!(r.status, Status::Success);
}

#[test]
fn a_trap_is_a_status_not_an_error() {
    let mut c = Chain::new();
    let a = c.deploy("proxy", vec![]);
    let r = c.call(ALICE, a, "write_then_trap", vec![]);
    assert_eq!(r.status, Status::Trapped(TrapKind::Unreachable));
    assert_eq!(proxy_storage(&c, a), None);
}

#[test]
fn the_deepest_call_chain_fits_a_small_native_stack() {
    // Nested calls recurse on the native stack (host `call` -> wasmi -> host ...). At the
    // default depth limit, a debug build must fit in 1 MiB (release needs less).
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let mut c = Chain::new();
            let a = c.deploy("call_depth", vec![]);
            let r = c.call_gas(ALICE, a, "down", vec![], 100_000_000);
            assert_eq!(r.status, Status::Success, "{r:?}");
            // Deep wasm recursion inside the deepest frame as well.
            let d = c.deploy("deep_recursion", vec![]);
            let r = c.call_gas(ALICE, d, "run", vec![], 100_000_000);
            assert_eq!(r.status, Status::Trapped(TrapKind::StackOverflow));
        })
        .unwrap();
    handle.join().unwrap();
}
