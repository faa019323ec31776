//! How Keel's costs grow:
//! - `scaling_state`: with state size (10k, 100k, 1M existing keys in a RocksDB `Store`):
//!   a Merkle commit of 1k updates, a 1k-tx block of token transfers with its commit, a point
//!   read, a proof;
//! - `scaling_block`: with block size (100, 1k, 10k token transfers per block, at 100k keys).
//!
//! Peak memory is measured by the `keel-bench-mem` binary (see BENCHMARKS.md).
//!
//! Run: `cargo bench -p keel-benches --bench scaling`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keel_benches::keel::{Chain, change_set, fill, filler_key, updates};
use keel_state::{StateRead, StateStore, Store};
use parity_scale_codec::Encode;

const RECIPIENTS: u64 = 1_000;

fn setup(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
}

/// A RocksDB store with `keys` filler keys and the token deployed, its recipients funded.
fn chain_with(dir: &std::path::Path, keys: u64) -> Chain<Store> {
    let mut store = Store::open(dir).unwrap();
    let t = Instant::now();
    fill(&mut store, keys, 20_000);
    eprintln!("filled {keys} keys in {:.1?}", t.elapsed());
    let mut chain = Chain::token(store);
    let warm = chain.transfers(1_000, RECIPIENTS);
    chain.block_ok(&warm);
    chain
}

fn state_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling_state");
    setup(&mut g);
    let mut round = 1_000_000u64;
    for keys in [10_000u64, 100_000, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = chain_with(dir.path(), keys);

        g.throughput(Throughput::Elements(1_000));
        g.bench_function(BenchmarkId::new("commit_1k_updates", keys), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let cs = change_set(&updates(keys, 1_000, round));
                    let t = Instant::now();
                    chain.store.commit(&cs).unwrap();
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("token_block1k", keys), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs = chain.transfers(1_000, RECIPIENTS);
                    let t = Instant::now();
                    chain.block_ok(&txs);
                    total += t.elapsed();
                }
                total
            })
        });
        g.throughput(Throughput::Elements(1));
        let mut i = 0u64;
        g.bench_function(BenchmarkId::new("get", keys), |b| {
            b.iter(|| {
                i = (i + 7_919) % keys;
                chain.store.get(black_box(&filler_key(i))).unwrap()
            })
        });
        let version = chain.store.version();
        // Proof sizes (SCALE-encoded) over 1,000 existing keys: printed, not timed.
        let sizes: Vec<usize> = (0..1_000u64)
            .map(|j| {
                let k = filler_key(j * (keys / 1_000));
                chain.store.prove(&k, version).unwrap().encode().len()
            })
            .collect();
        eprintln!(
            "proof_size keys={keys} mean_bytes={:.0} max_bytes={}",
            sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
            sizes.iter().max().unwrap()
        );
        g.bench_function(BenchmarkId::new("prove", keys), |b| {
            b.iter(|| {
                i = (i + 7_919) % keys;
                chain
                    .store
                    .prove(black_box(&filler_key(i)), version)
                    .unwrap()
            })
        });
        drop(chain);
    }
    g.finish();
}

fn block_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling_block");
    setup(&mut g);
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain_with(dir.path(), 100_000);
    for size in [100usize, 1_000, 10_000] {
        g.throughput(Throughput::Elements(size as u64));
        g.bench_function(BenchmarkId::new("token_rocksdb_100k_keys", size), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs = chain.transfers(size, RECIPIENTS);
                    let t = Instant::now();
                    chain.block_ok(&txs);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, state_size, block_size);
criterion_main!(benches);
