//! keel-testkit's own guarantees: production gas, both stores agree, snapshots, inspection,
//! proofs, time, the gas report and the assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use keel_engine::{Action, BlockContext, Engine, EngineConfig, Status, Transaction};
use keel_state::{StateStore, Store};
use keel_testkit::{Address, StoreKind, TestChain, account, engine_config};
use parity_scale_codec::Encode;

const KINDS: [StoreKind; 2] = [StoreKind::Memory, StoreKind::RocksDb];

/// Deploys the example token with `admin` as admin and mints `supply` to it.
fn token(chain: &mut TestChain, admin: Address, supply: u128) -> Address {
    let t = chain.deploy_example(admin, "token", ()).unwrap();
    chain
        .call(admin, t, "mint", (admin, supply))
        .unwrap()
        .assert_success();
    t
}

fn tx(sender: Address, nonce: u64, action: Action) -> Transaction {
    Transaction {
        sender: sender.into(),
        nonce,
        gas_limit: keel_testkit::DEFAULT_GAS_LIMIT,
        action,
    }
}

/// Runs each action as its own block at height 1 through a bare engine with the default
/// configuration, as a node would.
fn run_node<S: StateStore>(
    store: &mut S,
    actions: Vec<(Address, Action)>,
) -> Vec<keel_engine::Receipt> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut nonces = std::collections::BTreeMap::new();
    let mut receipts = Vec::new();
    for (from, action) in actions {
        let n = nonces.entry(from).or_insert(0u64);
        let t = tx(from, *n, action);
        *n += 1;
        let ctx = BlockContext {
            height: 1,
            timestamp: 1_000,
        };
        let mut out = engine.execute_block(store, &ctx, &[t]).unwrap();
        receipts.push(out.receipts.remove(0));
    }
    receipts
}

/// The same transactions through a TestChain and through a bare `Engine` over a bare store
/// (the node's path, with the node's default configuration) give identical receipts (logs
/// aside: the node does not record them), gas and roots.
#[test]
fn gas_and_receipts_are_exactly_the_nodes() {
    let alice = account("alice");
    let bob = account("bob");
    let token = keel_contracts::TOKEN;

    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        let mut tk_receipts = Vec::new();
        let up = chain
            .execute(
                alice,
                Action::Deploy {
                    code: token.to_vec(),
                },
            )
            .unwrap();
        let code_hash: [u8; 32] = up.decode().unwrap();
        tk_receipts.push(up.into_receipt());
        let inst = chain
            .execute(
                alice,
                Action::Instantiate {
                    code_hash,
                    salt: vec![7],
                    args: vec![],
                },
            )
            .unwrap();
        let addr: [u8; 32] = inst.decode().unwrap();
        tk_receipts.push(inst.into_receipt());
        let calls = [
            (alice, "mint", (alice, 1_000u128).encode()),
            (alice, "transfer", (bob, 10u128).encode()),
            (bob, "transfer", (alice, 1_000_000u128).encode()), // reverts
            (alice, "balance_of", bob.encode()),
        ];
        for (from, m, args) in &calls {
            let o = chain
                .execute(
                    *from,
                    Action::Call {
                        contract: addr,
                        method: m.to_string(),
                        args: args.clone(),
                    },
                )
                .unwrap();
            tk_receipts.push(o.into_receipt());
        }

        // The node: default config, its own RocksDB store, blocks at the same heights.
        let mut actions = vec![
            (
                alice,
                Action::Deploy {
                    code: token.to_vec(),
                },
            ),
            (
                alice,
                Action::Instantiate {
                    code_hash,
                    salt: vec![7],
                    args: vec![],
                },
            ),
        ];
        for (from, m, args) in &calls {
            actions.push((
                *from,
                Action::Call {
                    contract: addr,
                    method: m.to_string(),
                    args: args.clone(),
                },
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut node = Store::open(dir.path()).unwrap();
        let node_receipts = run_node(&mut node, actions);

        assert_eq!(tk_receipts.len(), node_receipts.len());
        for (a, b) in tk_receipts.iter().zip(&node_receipts) {
            let mut a = a.clone();
            a.logs.clear();
            assert_eq!(&a, b, "{kind:?}");
        }
        assert!(tk_receipts[..4].iter().all(|r| r.status == Status::Success));
        assert!(matches!(tk_receipts[4].status, Status::Reverted(_)));
        assert_eq!(tk_receipts[5].return_data, 10u128.encode());
        assert_eq!(chain.root(), node.root(), "{kind:?}");
    }
}

/// The harness's configuration is the node's default, plus log recording (which the engine
/// guarantees never changes gas).
#[test]
fn harness_config_is_the_default_plus_logs() {
    assert!(engine_config().record_logs);
    assert_eq!(
        EngineConfig {
            record_logs: false,
            ..engine_config()
        },
        EngineConfig::default()
    );
}

#[test]
fn memory_and_rocksdb_agree() {
    let alice = account("alice");
    let bob = account("bob");
    let mut roots = Vec::new();
    let mut gas = Vec::new();
    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        assert_eq!(chain.store_kind(), kind);
        let token = token(&mut chain, alice, 500u128);
        let o = chain.call(alice, token, "transfer", (bob, 5u128)).unwrap();
        o.assert_success();
        gas.push(o.gas_used());
        roots.push(chain.root());
    }
    assert_eq!(roots[0], roots[1]);
    assert_eq!(gas[0], gas[1]);
}

#[test]
fn snapshots_restore_state_height_and_time() {
    let alice = account("alice");
    let bob = account("bob");
    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        let token = token(&mut chain, alice, 100u128);
        chain.advance(5);
        let snap = chain.snapshot().unwrap();
        let (root, height, ts) = (chain.root(), chain.height(), chain.timestamp());

        chain
            .call(alice, token, "transfer", (bob, 60u128))
            .unwrap()
            .assert_success();
        chain.advance(3);
        assert_ne!(chain.root(), root);
        let b: u128 = chain.query(alice, token, "balance_of", bob).unwrap();
        assert_eq!(b, 60);

        chain.restore(&snap).unwrap();
        assert_eq!(chain.root(), root, "{kind:?}");
        assert_eq!((chain.height(), chain.timestamp()), (height, ts));
        let b: u128 = chain.query(alice, token, "balance_of", bob).unwrap();
        assert_eq!(b, 0);

        // The snapshot stays valid: diverge again, restore again.
        chain
            .call(alice, token, "transfer", (bob, 1u128))
            .unwrap()
            .assert_success();
        chain.restore(&snap).unwrap();
        assert_eq!(chain.root(), root);
        // And the restored chain keeps working.
        chain
            .call(alice, token, "transfer", (bob, 2u128))
            .unwrap()
            .assert_success();
    }
    // A snapshot of one kind cannot be restored into the other.
    let mem = TestChain::in_memory();
    let mut rocks = TestChain::rocksdb().unwrap();
    assert!(rocks.restore(&mem.snapshot().unwrap()).is_err());
}

#[test]
fn storage_inspection_and_proofs() {
    let alice = account("alice");
    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        let token = token(&mut chain, alice, 100u128);
        // The contract's info record exists under 0x02 ‖ address, and proves.
        let info_key = keel_testkit::engine::contract_key(&token.0);
        assert!(chain.get_raw(&info_key).unwrap().is_some());
        let (proof, root, _) = chain.prove_raw(&info_key).unwrap();
        let value = chain.get_raw(&info_key).unwrap();
        proof.verify(&root, &info_key, value.as_deref()).unwrap();

        // A contract storage key: prove presence or absence, and the proof checks out.
        let p = chain.prove(token, b"no such key").unwrap();
        assert_eq!(p.value, None);
        p.verify().unwrap();
        assert_eq!(p.root, chain.root());
        // A tampered claim does not verify.
        let mut bad = p.clone();
        bad.value = Some(b"x".to_vec());
        assert!(bad.verify().is_err());
        assert_eq!(chain.storage(token, b"no such key").unwrap(), None);
    }
}

#[test]
fn nonces_come_from_state() {
    let alice = account("alice");
    let mut chain = TestChain::in_memory();
    assert_eq!(chain.nonce(alice).unwrap(), 0);
    token(&mut chain, alice, 1u128);
    assert_eq!(chain.nonce(alice).unwrap(), 3, "deploy, instantiate, mint");
}

#[test]
fn time_moves_only_when_told() {
    let mut chain = TestChain::in_memory();
    let (h, t) = (chain.height(), chain.timestamp());
    token(&mut chain, account("a"), 1u128);
    assert_eq!((chain.height(), chain.timestamp()), (h, t));
    chain.advance(10);
    assert_eq!(chain.height(), h + 10);
    assert_eq!(chain.timestamp(), t + 10_000);
    chain.set_block_time(500);
    chain.advance(2);
    assert_eq!(chain.timestamp(), t + 11_000);
    // The clock never goes backwards: not before the last block's timestamp (t), as on a node.
    assert!(matches!(
        chain.set_timestamp(t - 1),
        Err(keel_testkit::Error::Clock(_))
    ));
    chain.set_timestamp(t + 42).unwrap();
    chain.set_height(7);
    assert_eq!(
        chain.block_context(),
        BlockContext {
            height: 7,
            timestamp: t + 42
        }
    );
    chain.set_auto_advance(true);
    token(&mut chain, account("a"), 1u128);
    assert_eq!(
        chain.height(),
        10,
        "upload, instantiate and mint are a block each"
    );
}

#[test]
fn gas_report_counts_every_call() {
    let alice = account("alice");
    let bob = account("bob");
    let mut chain = TestChain::in_memory();
    let token = token(&mut chain, alice, 100u128);
    let mut used = Vec::new();
    for i in 1..=3u128 {
        used.push(
            chain
                .call(alice, token, "transfer", (bob, i))
                .unwrap()
                .gas_used(),
        );
    }
    let s = chain.gas_report().get("token", "transfer").unwrap();
    assert_eq!(s.calls, 3);
    assert_eq!(s.min, *used.iter().min().unwrap());
    assert_eq!(s.max, *used.iter().max().unwrap());
    let table = chain.gas_report().to_string();
    assert!(
        table.contains("token") && table.contains("transfer"),
        "{table}"
    );
    // Deploys are rows of the contract they made: its code's upload and its instantiation.
    assert!(chain.gas_report().get("token", "(upload)").is_some());
    assert!(chain.gas_report().get("token", "(instantiate)").is_some());
    // Outcomes are separate rows: a revert and an invalid attempt never mix with successes.
    chain
        .call(bob, token, "transfer", (alice, 1_000_000u128))
        .unwrap()
        .assert_reverted();
    chain
        .call(alice, token, "no_such_method", ())
        .unwrap()
        .assert_invalid(Some("UnknownMethod"));
    let r = chain.gas_report();
    use keel_testkit::GasOutcome;
    assert_eq!(
        r.get_outcome("token", "transfer", GasOutcome::Success)
            .unwrap()
            .calls,
        3
    );
    assert_eq!(
        r.get_outcome("token", "transfer", GasOutcome::Reverted)
            .unwrap()
            .calls,
        1
    );
    assert_eq!(
        r.get_outcome("token", "no_such_method", GasOutcome::Invalid)
            .unwrap()
            .max,
        0
    );
    assert!(
        r.to_json()
            .contains(r#""method":"transfer","outcome":"reverted","calls":1"#)
    );
    // A baseline: equal to itself, and a new call shows as a difference.
    let dir = std::env::temp_dir().join(format!("keel-gas-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gas.txt");
    let _ = std::fs::remove_file(&file);
    r.check_baseline(&file).unwrap(); // written
    r.check_baseline(&file).unwrap(); // equal
    chain.call(alice, token, "transfer", (bob, 1u128)).unwrap();
    let err = chain.gas_report().check_baseline(&file).unwrap_err();
    assert!(
        err.contains("~ token transfer success calls 3 -> 4"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // Queries are not recorded.
    let _: u128 = chain.query(alice, token, "balance_of", bob).unwrap();
    assert!(chain.gas_report().get("token", "balance_of").is_none());
    chain.reset_gas_report();
    assert!(chain.gas_report().is_empty());
}

#[test]
fn out_of_gas_and_failures_are_outcomes() {
    let alice = account("alice");
    let bob = account("bob");
    let mut chain = TestChain::in_memory();
    let token = token(&mut chain, alice, 100u128);
    chain.set_gas_limit(10);
    let o = chain.call(alice, token, "transfer", (bob, 1u128)).unwrap();
    o.assert_out_of_gas();
    assert_eq!(o.gas_used(), 10);
    chain.set_gas_limit(keel_testkit::DEFAULT_GAS_LIMIT);
    // A failed deploy is an error that carries the outcome.
    let e = chain.deploy(alice, b"not wasm", ()).unwrap_err();
    assert!(matches!(e, keel_testkit::Error::Failed { .. }), "{e}");
    assert!(e.to_string().contains("deploy failed"), "{e}");
    // Unknown examples are errors too.
    assert!(chain.deploy_example(alice, "nope", ()).is_err());
}

#[test]
#[should_panic(expected = "expected success")]
fn assert_success_panics_with_the_status() {
    let alice = account("alice");
    let mut chain = TestChain::in_memory();
    let token = token(&mut chain, alice, 1u128);
    chain
        .call(alice, token, "transfer", (account("bob"), 2u128))
        .unwrap()
        .assert_success();
}

#[test]
fn rocksdb_chain_persists_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let alice = account("alice");
    let (token, root) = {
        let mut chain = TestChain::open(&path).unwrap();
        let token = token(&mut chain, alice, 9u128);
        (token, chain.root())
    };
    let chain = TestChain::open(&path).unwrap();
    assert_eq!(chain.root(), root);
    assert_eq!(chain.height(), chain.version() + 1);
    let b: u128 = chain.query(alice, token, "balance_of", alice).unwrap();
    assert_eq!(b, 9);
    // While it is open, a second open fails cleanly (locked).
    assert!(Store::open(&path).is_err());
}

/// A contract that logs and reports the block it runs in: `now() -> (u64, u64)`.
const CLOCK: &str = r#"(module
    (import "keel" "debug_log" (func $log (param i32 i32)))
    (import "keel" "block_height" (func $height (result i64)))
    (import "keel" "block_timestamp" (func $ts (result i64)))
    (import "keel" "set_return" (func $ret (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 64) "tick")
    (func (export "now")
        (call $log (i32.const 64) (i32.const 4))
        (i64.store (i32.const 0) (call $height))
        (i64.store (i32.const 8) (call $ts))
        (call $ret (i32.const 0) (i32.const 16))))"#;

#[test]
fn logs_are_recorded_and_time_is_what_the_chain_says() {
    let alice = account("alice");
    let code = wat::parse_str(CLOCK).unwrap();
    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        let clock = chain.deploy(alice, &code, ()).unwrap();
        chain.set_label(clock, "clock");
        let out = chain.call(alice, clock, "now", ()).unwrap();
        out.assert_success();
        assert_eq!(out.logs(), vec!["tick".to_string()]);

        // A node (logs off) charges exactly the same gas for the same transactions.
        let code_hash = keel_engine::code_hash(&code);
        let salt = 1u64.to_le_bytes().to_vec();
        let node = run_node(
            &mut keel_state::MemStore::new(),
            vec![
                (alice, Action::Deploy { code: code.clone() }),
                (
                    alice,
                    Action::Instantiate {
                        code_hash,
                        salt,
                        args: vec![],
                    },
                ),
                (
                    alice,
                    Action::Call {
                        contract: clock.into(),
                        method: "now".into(),
                        args: vec![],
                    },
                ),
            ],
        );
        assert!(node[2].logs.is_empty());
        assert_eq!(node[2].gas_used, out.gas_used());
        assert_eq!(node[2].return_data, out.return_data());
        assert_eq!(out.decode::<(u64, u64)>().unwrap(), (1, 1_000));
        assert_eq!(out.label, "clock.now");

        chain.advance(41);
        let (h, t): (u64, u64) = chain.query(alice, clock, "now", ()).unwrap();
        assert_eq!((h, t), (42, 42_000));
        chain.set_timestamp(1_700_000_000_000).unwrap();
        let (h, t): (u64, u64) = chain.call_decoded(alice, clock, "now", ()).unwrap();
        assert_eq!((h, t), (42, 1_700_000_000_000));
        assert!(chain.gas_report().get("clock", "now").is_some());
    }
}

#[test]
fn forks_are_independent() {
    let (alice, bob) = (account("alice"), account("bob"));
    for kind in KINDS {
        let mut chain = TestChain::with_store(kind).unwrap();
        let t = token(&mut chain, alice, 10u128);
        chain.advance(3);
        let mut fork = chain.fork().unwrap();
        assert_eq!(fork.root(), chain.root());
        assert_eq!(fork.height(), chain.height());
        fork.call(alice, t, "transfer", (bob, 4u128))
            .unwrap()
            .assert_success();
        assert_ne!(fork.root(), chain.root());
        let on_fork: u128 = fork.query(alice, t, "balance_of", bob).unwrap();
        let on_main: u128 = chain.query(alice, t, "balance_of", bob).unwrap();
        assert_eq!((on_fork, on_main), (4, 0));
        assert_eq!(fork.label_of(&t), "token");
    }
}

/// Every RocksDB chain after the first in a process starts from the in-memory template of a
/// fresh store: it must be exactly a fresh store (version 0, the empty root, independent).
#[test]
fn templated_rocksdb_chains_are_fresh_and_independent() {
    let alice = account("alice");
    let mem = TestChain::in_memory();
    let mut chains: Vec<TestChain> = (0..3).map(|_| TestChain::rocksdb().unwrap()).collect();
    for c in &chains {
        assert_eq!(c.version(), 0);
        assert_eq!(c.root(), mem.root());
    }
    let t = token(&mut chains[0], alice, 5u128);
    assert_eq!(chains[1].version(), 0, "chains share nothing");
    let t1 = token(&mut chains[1], alice, 5u128);
    assert_eq!(t, t1);
    assert_eq!(chains[0].root(), chains[1].root());
    let dir = tempfile::tempdir().unwrap();
    let plain = Store::open(dir.path().join("s")).unwrap();
    assert_eq!(plain.root(), chains[2].root());
}
