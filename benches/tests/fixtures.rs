//! The benchmark fixtures do what the benchmarks claim: every system runs the same workload
//! and gets the same answer. Small sizes, so that `cargo test --workspace` stays fast.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use keel_benches::keel::{
    Chain, change_set, empty_module, fill, storage_module, synthetic_module, updates,
};
use keel_benches::raw::RawDb;
use keel_benches::wasm::PlainWasm;
use keel_engine::{Action, BlockContext, Engine};
use keel_state::{MemStore, StateRead, StateStore};
use parity_scale_codec::{Decode, Encode};

#[test]
fn keel_token_transfers_succeed() {
    let mut chain = Chain::token(MemStore::new());
    let txs = chain.transfers(20, 5);
    let out = chain.block_ok(&txs);
    assert_eq!(out.receipts.len(), 20);
}

#[test]
fn plain_wasmi_and_keel_compute_the_same() {
    let chain = Chain::deploy(MemStore::new(), keel_contracts::COMPUTE, Vec::new());
    let ctx = BlockContext {
        height: 9,
        timestamp: 0,
    };
    for fuel in [false, true] {
        let plain = PlainWasm::new(keel_contracts::COMPUTE, fuel);
        for (method, n) in [
            ("fib", 50u32),
            ("mix_loop", 50),
            ("hash_loop", 3),
            ("sha256_loop", 3),
        ] {
            let tx = chain.tx(Action::Call {
                contract: chain.contract,
                method: method.into(),
                args: n.encode(),
            });
            let keel = chain.engine.simulate(&chain.store, &ctx, &tx).unwrap();
            assert!(keel.is_success(), "{method}: {keel:?}");
            let (ret, used) = plain.call(method, &n.encode());
            assert_eq!(keel.return_data, ret, "{method}");
            assert_eq!(used > 0, fuel);
        }
    }
    let plain = PlainWasm::new(keel_contracts::COMPUTE, false);
    let fib = u64::decode(&mut plain.call("fib", &10u32.encode()).0.as_slice()).unwrap();
    assert_eq!(fib, 55);
}

#[test]
fn empty_and_storage_modules_run() {
    let code = empty_module();
    let chain = Chain::deploy(MemStore::new(), &code, Vec::new());
    let ctx = BlockContext::default();
    let tx = chain.tx(Action::Call {
        contract: chain.contract,
        method: "noop".into(),
        args: Vec::new(),
    });
    assert!(
        chain
            .engine
            .simulate(&chain.store, &ctx, &tx)
            .unwrap()
            .is_success()
    );
    PlainWasm::new(&code, false).call("noop", &[]);

    let mut chain = Chain::deploy(MemStore::new(), &storage_module(), Vec::new());
    let before = chain.store.root();
    let tx = chain.call_tx("write_n", 10u32.encode());
    chain.block_ok(&[tx]);
    assert_ne!(chain.store.root(), before);
}

#[test]
fn synthetic_modules_have_the_size_asked_and_validate() {
    let engine = Engine::default();
    for target in [10 * 1024, 30 * 1024] {
        let code = synthetic_module(target);
        assert!(
            code.len() >= target && code.len() < target + 4 * 1024,
            "{}",
            code.len()
        );
        engine.check(&code).unwrap();
    }
}

#[test]
fn merkle_and_raw_stores_get_the_same_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let mut mem = MemStore::new();
    fill(&mut mem, 500, 200);
    let raw = RawDb::open(&dir.path().join("raw"));
    raw.fill(500, 200);
    let pairs = updates(500, 50, 1);
    mem.commit(&change_set(&pairs)).unwrap();
    raw.write(&pairs);
    for (k, _) in &pairs {
        assert_eq!(mem.get(k).unwrap(), raw.get(k));
    }
}

#[cfg(feature = "revm")]
#[test]
fn revm_erc20_and_value_transfers_succeed() {
    let mut evm = keel_benches::evm::EvmChain::new();
    let txs = evm.erc20_transfers(10, 3);
    evm.run(txs);
    let txs = evm.value_transfers(10, 3);
    evm.run(txs);
    assert_eq!(evm.nonce, 21);
}
