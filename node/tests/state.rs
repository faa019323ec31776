//! The node state without the network: committing decided blocks, their index, divergence
//! detection, block checks and the testnet files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use keel_chain::tx::{SignedTx, TxPayload};
use keel_engine::{Action, Status};
use keel_node::NodeError;
use keel_node::block::{Block, BlockError};
use keel_node::context::Address;
use keel_node::genesis::{Genesis, TestnetOptions, testnet};
use keel_node::state::NodeState;
use keel_state::StateStore;
use parity_scale_codec::Encode;

fn genesis(dir: &std::path::Path) -> Genesis {
    testnet(&TestnetOptions {
        validators: 4,
        home: dir.to_path_buf(),
        base_port: 40000,
        ports: None,
        chain_id: "c".into(),
        block_time_ms: 0,
        contracts: Vec::new(),
        deployer: None,
    })
    .unwrap()
}

fn tx(key: &SigningKey, chain: &str, nonce: u64) -> Vec<u8> {
    SignedTx::sign(
        TxPayload {
            chain_id: chain.into(),
            nonce,
            gas_limit: 10_000_000,
            action: Action::Deploy {
                code: keel_contracts::COUNTER.to_vec(),
            },
        },
        key,
    )
    .encode()
}

#[test]
fn testnet_writes_a_genesis_and_one_home_per_validator() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(dir.path());
    assert_eq!(g.validators.len(), 4);
    assert_eq!(g.validator_set().unwrap().validators.len(), 4);
    for k in 0..4 {
        let home = dir.path().join(format!("node{k}"));
        assert_eq!(Genesis::load(&home.join("genesis.json")).unwrap(), g);
        assert!(home.join("key.json").exists() && home.join("node.json").exists());
    }
    assert_eq!(g.validators[1].api, "127.0.0.1:40003");
}

#[test]
fn decided_blocks_commit_with_their_index_and_a_wrong_prev_root_is_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(dir.path());
    let mut s = NodeState::open(&dir.path().join("data"), g.clone(), Address([1; 32])).unwrap();
    let alice = SigningKey::from_bytes(&[5; 32]);
    let t0 = tx(&alice, "c", 0);
    let genesis_root = s.store.root();
    let block = Block {
        height: 1,
        timestamp: 10,
        prev_root: genesis_root,
        proposer: [1; 32],
        txs: vec![t0.clone(), b"garbage".to_vec()],
    };
    // The garbage transaction makes the proposal invalid…
    let bytes = block.to_bytes();
    assert!(matches!(
        block.check(&g, 1, genesis_root, 0, bytes.len()),
        Err(BlockError::BadTx(1, _))
    ));
    // …but a decided block always executes: garbage gets an Invalid receipt.
    let c = s.commit_decided(&bytes, b"cert").unwrap();
    assert_eq!((c.height, c.txs), (1, 2));
    assert_eq!(s.height(), 1);
    let receipts = s.receipts(1).unwrap().unwrap();
    assert_eq!(receipts[0].status, Status::Success);
    assert!(matches!(receipts[1].status, Status::Invalid(_)));
    let loc = s
        .tx_location(&keel_chain::tx::tx_hash(&t0))
        .unwrap()
        .unwrap();
    assert_eq!((loc.height, loc.index), (1, 0));
    assert_eq!(s.block(1).unwrap().unwrap(), block);
    assert_eq!(s.certificate(1).unwrap().unwrap(), b"cert");

    // A block built on another root is divergence, and nothing is written.
    let other = Block {
        height: 2,
        timestamp: 11,
        prev_root: genesis_root,
        proposer: [1; 32],
        txs: vec![],
    };
    let root = s.store.root();
    match s.commit_decided(&other.to_bytes(), b"") {
        Err(NodeError::Diverged {
            height: 1,
            ours,
            theirs,
        }) => {
            assert_eq!((ours, theirs), (root, genesis_root));
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert_eq!(s.height(), 1);
    assert_eq!(s.store.root(), root);
    // Proposal checks: prev_root, height, timestamp, gas.
    let good = Block {
        height: 2,
        timestamp: 11,
        prev_root: root,
        proposer: [1; 32],
        txs: vec![tx(&alice, "c", 1)],
    };
    let n = good.to_bytes().len();
    assert!(good.check(&g, 2, root, 10, n).is_ok());
    assert!(matches!(
        other.check(&g, 2, root, 10, n),
        Err(BlockError::PrevRoot { .. })
    ));
    assert!(matches!(
        good.check(&g, 3, root, 10, n),
        Err(BlockError::Height { .. })
    ));
    assert!(matches!(
        good.check(&g, 2, root, 12, n),
        Err(BlockError::Timestamp)
    ));
    let wrong_chain = Block {
        txs: vec![tx(&alice, "d", 1)],
        ..good.clone()
    };
    assert!(matches!(
        wrong_chain.check(&g, 2, root, 10, n),
        Err(BlockError::BadTx(0, _))
    ));
    drop(s);
    // Reopening finds height 1 and its block.
    let s = NodeState::open(&dir.path().join("data"), g, Address([1; 32])).unwrap();
    assert_eq!(s.height(), 1);
    assert_eq!(s.last_timestamp().unwrap(), 10);
}

#[test]
fn genesis_contracts_are_deployed_named_and_bound_before_height_1() {
    let dir = tempfile::tempdir().unwrap();
    let admin = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let g = testnet(&TestnetOptions {
        validators: 2,
        home: dir.path().join("net"),
        base_port: 41000,
        ports: None,
        chain_id: "c".into(),
        block_time_ms: 0,
        contracts: vec![
            ("token".into(), keel_contracts::TOKEN.to_vec(), Vec::new()),
            (
                "counter".into(),
                keel_contracts::COUNTER.to_vec(),
                Vec::new(),
            ),
        ],
        deployer: Some(admin),
    })
    .unwrap();
    // The genesis file records the code, its hash, the address and the root to reach.
    assert_eq!(g.contracts.len(), 2);
    let token = keel_engine::contract_address(
        &admin,
        &keel_engine::code_hash(keel_contracts::TOKEN),
        b"token",
    );
    assert_eq!(g.contracts[0].address, hex::encode(token));
    let want_root = g.genesis_root.clone().unwrap();
    // Two validators' data dirs: the same genesis state, at height 0, named.
    let mut roots = Vec::new();
    for k in 0..2 {
        let s = NodeState::open(
            &dir.path().join(format!("d{k}")),
            g.clone(),
            Address([1; 32]),
        )
        .unwrap();
        assert_eq!(s.height(), 0);
        assert_eq!(hex::encode(s.store.root()), want_root);
        assert_ne!(s.store.root(), keel_state::MemStore::new().root());
        assert_eq!(s.address_of("token").unwrap(), Some(token));
        assert_eq!(s.name_of(&token).unwrap().as_deref(), Some("token"));
        assert_eq!(s.nonce(&admin).unwrap(), 4);
        // The admin is the token's admin (its init ran with the deployer as caller).
        let ctx = keel_engine::BlockContext {
            height: 1,
            timestamp: 0,
        };
        let r = s
            .engine
            .query(&s.store, &ctx, admin, token, "admin", vec![], 10_000_000)
            .unwrap();
        assert_eq!(r.return_data, Some(admin).encode());
        roots.push(s.store.root());
    }
    assert_eq!(roots[0], roots[1]);
    // Block 1 must carry the genesis root.
    let mut s = NodeState::open(&dir.path().join("d0"), g.clone(), Address([1; 32])).unwrap();
    let b1 = Block {
        height: 1,
        timestamp: 5,
        prev_root: keel_state::MemStore::new().root(),
        proposer: [1; 32],
        txs: vec![],
    };
    assert!(matches!(
        b1.check(&g, 1, s.store.root(), 0, 100),
        Err(BlockError::PrevRoot { .. })
    ));
    assert!(matches!(
        s.commit_decided(&b1.to_bytes(), b""),
        Err(NodeError::Diverged { height: 0, .. })
    ));
    let b1 = Block {
        prev_root: s.store.root(),
        ..b1
    };
    s.commit_decided(&b1.to_bytes(), b"").unwrap();
    assert_eq!(s.height(), 1);
    drop(s);
    // Another chain's genesis does not open this data dir.
    let mut other = g.clone();
    other.chain_id = "d".into();
    match NodeState::open(&dir.path().join("d0"), other, Address([1; 32])) {
        Err(NodeError::Config(m)) => assert!(m.contains("another chain's genesis"), "{m}"),
        r => panic!("expected a config error, got {:?}", r.err()),
    }
    // A genesis whose recorded hash, address or root does not follow is refused.
    for bad in 0..3 {
        let mut g2 = g.clone();
        match bad {
            0 => g2.contracts[1].code_hash = "00".repeat(32),
            1 => g2.contracts[0].address = "11".repeat(32),
            _ => g2.genesis_root = Some("22".repeat(32)),
        }
        let r = NodeState::open(&dir.path().join(format!("bad{bad}")), g2, Address([1; 32]));
        assert!(matches!(r, Err(NodeError::Config(_))), "case {bad}");
    }
}
