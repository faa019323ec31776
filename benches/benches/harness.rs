//! Per-test latency of keel-testkit: a typical contract test, from a fresh chain through a
//! deploy and 10 calls, on both store kinds. Contract authors judge a harness by this number.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use keel_testkit::{StoreKind, TestChain, account};

/// Deploys the example token (alice is admin) and mints `supply` to alice.
fn token(chain: &mut TestChain, supply: u128) -> keel_testkit::Address {
    let alice = account("alice");
    let t = chain.deploy_example(alice, "token", ()).unwrap();
    chain
        .call(alice, t, "mint", (alice, supply))
        .unwrap()
        .assert_success();
    t
}

/// One "typical test": new chain, deploy the token, mint, 10 transfers, 1 query.
fn typical_test(kind: StoreKind) {
    let alice = account("alice");
    let bob = account("bob");
    let mut chain = TestChain::with_store(kind).unwrap();
    let token = token(&mut chain, 1_000_000);
    for i in 0..10u128 {
        chain
            .call(alice, token, "transfer", (bob, i + 1))
            .unwrap()
            .assert_success();
    }
    let b: u128 = chain.query(alice, token, "balance_of", bob).unwrap();
    assert_eq!(b, 55);
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness");
    g.sample_size(20);
    g.bench_function("typical_test/memory", |b| {
        b.iter(|| typical_test(StoreKind::Memory))
    });
    g.bench_function("typical_test/rocksdb", |b| {
        b.iter(|| typical_test(StoreKind::RocksDb))
    });
    // The pieces: creating a chain, and one call on a warm chain.
    g.bench_function("new_chain/memory", |b| b.iter(TestChain::in_memory));
    g.bench_function("new_chain/rocksdb", |b| {
        b.iter(|| TestChain::with_store(StoreKind::RocksDb).unwrap())
    });
    for kind in [StoreKind::Memory, StoreKind::RocksDb] {
        let alice = account("alice");
        let bob = account("bob");
        let mut chain = TestChain::with_store(kind).unwrap();
        let token = token(&mut chain, u128::MAX);
        let name = match kind {
            StoreKind::Memory => "call/memory",
            StoreKind::RocksDb => "call/rocksdb",
        };
        g.bench_function(name, |b| {
            b.iter(|| chain.call(alice, token, "transfer", (bob, 1u128)).unwrap())
        });
    }
    // Snapshot and restore of a chain holding a token with 100 holders.
    for kind in [StoreKind::Memory, StoreKind::RocksDb] {
        let alice = account("alice");
        let mut chain = TestChain::with_store(kind).unwrap();
        let token = token(&mut chain, u128::MAX);
        for i in 0..100u32 {
            let to = account(&format!("holder-{i}"));
            chain
                .call(alice, token, "transfer", (to, 1u128))
                .unwrap()
                .assert_success();
        }
        let name = match kind {
            StoreKind::Memory => "snapshot_restore/memory",
            StoreKind::RocksDb => "snapshot_restore/rocksdb",
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let snap = chain.snapshot().unwrap();
                chain.restore(&snap).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
