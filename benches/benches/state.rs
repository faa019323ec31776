//! keel-state benchmarks: Merkle commits vs a raw RocksDB `WriteBatch`, point reads, proof
//! generation and verification, proof size — all on a store of 1M keys built once per run.
//!
//! Run: `cargo bench -p keel-benches --bench state`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::ops::Bound;
use std::time::Instant;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keel_state::{ChangeSet, MemStore, StateRead, StateStore, Store};
use parity_scale_codec::Encode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BASE_KEYS: u64 = 1_000_000;
const CHUNK: u64 = 10_000;

/// Key `i`: a storage-shaped key (prefix 0x04, a 32-byte address, an 8-byte slot).
fn key(i: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(41);
    k.push(4);
    let h = blake3_like(i);
    k.extend_from_slice(&h);
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// A deterministic 32-byte spread of `i`.
fn blake3_like(i: u64) -> [u8; 32] {
    keel_state::proof::key_hash(&i.to_le_bytes())
}

fn value(rng: &mut StdRng) -> Vec<u8> {
    let mut v = vec![0u8; 32];
    rng.fill(&mut v[..]);
    v
}

/// `n` random updates: 80% overwrite existing keys, 20% insert new keys.
fn updates(rng: &mut StdRng, n: usize, next_new: &mut u64) -> ChangeSet {
    let mut cs = ChangeSet::new();
    while cs.len() < n {
        if rng.random_bool(0.8) {
            cs.put(key(rng.random_range(0..BASE_KEYS)), value(rng));
        } else {
            cs.put(key(*next_new), value(rng));
            *next_new += 1;
        }
    }
    cs
}

/// CPU time consumed by this thread so far (Linux `schedstat`), or `None` if unavailable.
/// Unlike wall time it is not inflated when other processes compete for the cores; it does
/// not include RocksDB's background flush and compaction threads.
fn thread_cpu() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// Commits `rounds` batches of `n` updates to the Merkle store and the same pairs to the raw
/// DB, and prints the calling thread's CPU time per batch for each.
fn cpu_time_commits(fx: &mut Fixture, n: usize, rounds: usize, rng: &mut StdRng, next: &mut u64) {
    let (mut merkle, mut raw, mut mem) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let cs = updates(rng, n, next);
        let mut batch = rocksdb::WriteBatch::default();
        for (k, v) in cs.iter() {
            batch.put(k, v.unwrap_or_default());
        }
        let Some(a) = thread_cpu() else {
            return;
        };
        fx.store.commit(&cs).unwrap();
        let b = thread_cpu().unwrap_or(a);
        fx.raw.write(batch).unwrap();
        let c = thread_cpu().unwrap_or(b);
        fx.mem.commit(&cs).unwrap();
        let d = thread_cpu().unwrap_or(c);
        merkle.push(b - a);
        raw.push(c - b);
        mem.push(d - c);
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (m, r, x) = (median(&mut merkle), median(&mut raw), median(&mut mem));
    println!(
        "thread CPU time per commit of {n} updates at 1M keys (median of {rounds}): merkle store {m:.1?} ({:.0} updates/s), raw WriteBatch {r:.1?} (ratio {:.1}x), MemStore {x:.1?} ({:.0} updates/s)",
        n as f64 / m.as_secs_f64(),
        m.as_secs_f64() / r.as_secs_f64(),
        n as f64 / x.as_secs_f64(),
    );
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    raw: rocksdb::DB,
    mem: MemStore,
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("keel")).unwrap();
    let mut mem = MemStore::new();
    // As a node would run it: keep a short history, prune as it commits.
    mem.set_keep_versions(Some(16));
    let mut raw_opts = rocksdb::Options::default();
    raw_opts.create_if_missing(true);
    let raw = rocksdb::DB::open(&raw_opts, dir.path().join("raw")).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let t = Instant::now();
    let mut merkle = std::time::Duration::ZERO;
    for c in 0..BASE_KEYS / CHUNK {
        let mut cs = ChangeSet::new();
        let mut batch = rocksdb::WriteBatch::default();
        for i in c * CHUNK..(c + 1) * CHUNK {
            let (k, v) = (key(i), value(&mut rng));
            batch.put(&k, &v);
            cs.put(k, v);
        }
        let t0 = Instant::now();
        store.commit(&cs).unwrap();
        merkle += t0.elapsed();
        mem.commit(&cs).unwrap();
        raw.write(batch).unwrap();
    }
    mem.prune(mem.version()).unwrap();
    eprintln!(
        "built 1M-key fixtures in {:.1?} (RocksDB Store commits: {:.1?}, {:.0} keys/s)",
        t.elapsed(),
        merkle,
        BASE_KEYS as f64 / merkle.as_secs_f64()
    );
    Fixture {
        _dir: dir,
        store,
        raw,
        mem,
    }
}

fn benches(c: &mut Criterion) {
    let mut fx = build();
    let mut rng = StdRng::seed_from_u64(2);
    let mut next_new = BASE_KEYS;

    for (n, rounds) in [(1_000, 21), (10_000, 11), (100_000, 5)] {
        cpu_time_commits(&mut fx, n, rounds, &mut rng, &mut next_new);
    }

    let mut g = c.benchmark_group("state_commit_1M");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("merkle_store", n), &n, |b, &n| {
            b.iter_batched(
                || updates(&mut rng, n, &mut next_new),
                |cs| fx.store.commit(&cs).unwrap(),
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(BenchmarkId::new("raw_writebatch", n), &n, |b, &n| {
            b.iter_batched(
                || {
                    let cs = updates(&mut rng, n, &mut next_new);
                    let mut batch = rocksdb::WriteBatch::default();
                    for (k, v) in cs.iter() {
                        batch.put(k, v.unwrap_or_default());
                    }
                    batch
                },
                |batch| fx.raw.write(batch).unwrap(),
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(BenchmarkId::new("memstore", n), &n, |b, &n| {
            b.iter_batched(
                || updates(&mut rng, n, &mut next_new),
                |cs| fx.mem.commit(&cs).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
    // Bound the MemStore's history growth from the commits above.
    fx.mem.prune(fx.mem.version()).unwrap();

    let store = &fx.store;
    let version = store.version();
    let root = store.root();
    let mut g = c.benchmark_group("state_read_1M");
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_latest", |b| {
        b.iter(|| black_box(store.get(&key(rng.random_range(0..BASE_KEYS))).unwrap()))
    });
    g.bench_function("get_at_historic", |b| {
        b.iter(|| {
            black_box(
                store
                    .get_at(&key(rng.random_range(0..BASE_KEYS)), version - 5)
                    .unwrap(),
            )
        })
    });
    g.bench_function("next_entry", |b| {
        b.iter(|| {
            let k = key(rng.random_range(0..BASE_KEYS));
            black_box(
                store
                    .next_entry(Bound::Excluded(&k), Bound::Unbounded)
                    .unwrap(),
            )
        })
    });
    g.bench_function("prove", |b| {
        b.iter(|| {
            black_box(
                store
                    .prove(&key(rng.random_range(0..BASE_KEYS)), version)
                    .unwrap(),
            )
        })
    });
    g.bench_function("prove_memstore", |b| {
        let mem = &fx.mem;
        let mv = mem.version();
        b.iter(|| black_box(mem.prove(&key(rng.random_range(0..BASE_KEYS)), mv).unwrap()))
    });
    let samples: Vec<_> = (0..1024)
        .map(|_| {
            let k = key(rng.random_range(0..BASE_KEYS));
            let v = store.get(&k).unwrap();
            let p = store.prove(&k, version).unwrap();
            (k, v, p)
        })
        .collect();
    let mut i = 0usize;
    g.bench_function("verify", |b| {
        b.iter(|| {
            let (k, v, p) = &samples[i % samples.len()];
            i += 1;
            p.verify(&root, k, v.as_deref()).unwrap();
        })
    });
    g.finish();

    // Proof sizes (SCALE-encoded), present and absent keys.
    let sizes: Vec<usize> = samples.iter().map(|(_, _, p)| p.encode().len()).collect();
    let absent: Vec<usize> = (0..1024u64)
        .map(|i| {
            store
                .prove(&key(u64::MAX - i), version)
                .unwrap()
                .encode()
                .len()
        })
        .collect();
    let stats = |s: &[usize]| {
        let mean = s.iter().sum::<usize>() as f64 / s.len() as f64;
        (mean, s.iter().copied().max().unwrap_or(0))
    };
    let compressed: Vec<usize> = samples
        .iter()
        .map(|(_, _, p)| p.compress().encode().len())
        .collect();
    let (cm, cx) = stats(&compressed);
    println!(
        "compressed proof size at {BASE_KEYS} keys (empty siblings as a bitmap): inclusion mean {cm:.0} B max {cx} B"
    );
    let (pm, px) = stats(&sizes);
    let (am, ax) = stats(&absent);
    println!(
        "proof size at {} keys: inclusion mean {pm:.0} B max {px} B; exclusion mean {am:.0} B max {ax} B",
        BASE_KEYS
    );
}

criterion_group!(state, benches);
criterion_main!(state);
