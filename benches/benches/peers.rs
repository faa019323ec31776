//! Keel side by side with its peers, in one run so that ratios are meaningful on a shared
//! machine:
//! - `transfer`: Keel's token transfer (MemStore; RocksDB with a commit per 1k-tx block)
//!   against revm's plain value transfer and an ERC-20 `transfer` (solc, `benches/evm/`);
//! - `empty_call`: Keel's empty call against plain wasmi's new store + instantiate + call;
//! - `compute`: the same `keel_contracts::COMPUTE` module in Keel (metered, full host) and in
//!   plain wasmi with fuel off and on (stub host);
//! - `upload`: Keel's validate + compile of 10 KB and 100 KB modules against plain wasmi's
//!   `Module::new`;
//! - `storage_heavy`: one call writing 10 or 100 values;
//! - `commit_100k`: Merkle commits of 1k/10k/100k updates at 100k existing keys against a raw
//!   RocksDB `WriteBatch` of the same pairs (the 1M-key variant is in `state.rs`);
//! - `scale`: SCALE encoding and decoding of transactions and receipts.
//!
//! Run: `cargo bench -p keel-benches --bench peers` (add `--no-default-features` to skip revm).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keel_benches::keel::{
    Chain, change_set, empty_module, fill, storage_module, synthetic_module, updates,
};
use keel_benches::raw::RawDb;
use keel_benches::wasm::{PlainWasm, compile_plain};
use keel_engine::{Action, BlockContext, Engine, Event, Receipt, Status, Transaction};
use keel_state::{MemStore, StateStore, Store};
use parity_scale_codec::{Decode, Encode};

const BLOCK: usize = 1_000;
const RECIPIENTS: u64 = 1_000;

fn quick(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
}

fn transfer(c: &mut Criterion) {
    let mut g = c.benchmark_group("transfer");
    quick(&mut g);
    g.throughput(Throughput::Elements(BLOCK as u64));

    let mut mem = Chain::token(MemStore::new());
    let warm = mem.transfers(BLOCK, RECIPIENTS);
    mem.block_ok(&warm);
    g.bench_function("keel_token/memstore_block1k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = mem.transfers(BLOCK, RECIPIENTS);
                let t = Instant::now();
                mem.block_ok(&txs);
                total += t.elapsed();
            }
            total
        })
    });
    drop(mem);

    let dir = tempfile::tempdir().unwrap();
    let mut rocks = Chain::token(Store::open(dir.path().join("keel")).unwrap());
    let warm = rocks.transfers(BLOCK, RECIPIENTS);
    rocks.block_ok(&warm);
    g.bench_function("keel_token/rocksdb_block1k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = rocks.transfers(BLOCK, RECIPIENTS);
                let t = Instant::now();
                rocks.block_ok(&txs);
                total += t.elapsed();
            }
            total
        })
    });
    drop(rocks);

    #[cfg(feature = "revm")]
    {
        use keel_benches::evm::EvmChain;
        let mut evm = EvmChain::new();
        let warm = evm.erc20_transfers(BLOCK, RECIPIENTS);
        evm.run(warm);
        let warm = evm.value_transfers(BLOCK, RECIPIENTS);
        evm.run(warm);
        g.bench_function("revm_erc20/cachedb_1k", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs = evm.erc20_transfers(BLOCK, RECIPIENTS);
                    let t = Instant::now();
                    evm.run(txs);
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function("revm_value/cachedb_1k", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs = evm.value_transfers(BLOCK, RECIPIENTS);
                    let t = Instant::now();
                    evm.run(txs);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

fn empty_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("empty_call");
    quick(&mut g);
    let code = empty_module();
    let mut chain = Chain::deploy(MemStore::new(), &code, Vec::new());
    let ctx = BlockContext {
        height: chain.height,
        timestamp: 0,
    };
    let tx = chain.tx(Action::Call {
        contract: chain.contract,
        method: "noop".into(),
        args: Vec::new(),
    });
    g.bench_function("keel/simulate", |b| {
        b.iter(|| chain.engine.simulate(&chain.store, &ctx, &tx).unwrap())
    });
    g.throughput(Throughput::Elements(BLOCK as u64));
    g.bench_function("keel/memstore_block1k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs: Vec<Transaction> = (0..BLOCK)
                    .map(|_| chain.call_tx("noop", Vec::new()))
                    .collect();
                let t = Instant::now();
                chain.block_ok(&txs);
                total += t.elapsed();
            }
            total
        })
    });
    g.throughput(Throughput::Elements(1));
    let plain = PlainWasm::new(&code, false);
    g.bench_function("wasmi_plain/instantiate_call", |b| {
        b.iter(|| plain.call("noop", &[]))
    });
    let fuel = PlainWasm::new(&code, true);
    g.bench_function("wasmi_fuel/instantiate_call", |b| {
        b.iter(|| fuel.call("noop", &[]))
    });
    g.finish();
}

fn compute(c: &mut Criterion) {
    let mut g = c.benchmark_group("compute");
    quick(&mut g);
    let chain = Chain::deploy(MemStore::new(), keel_contracts::COMPUTE, Vec::new());
    let ctx = BlockContext {
        height: chain.height,
        timestamp: 0,
    };
    let nofuel = PlainWasm::new(keel_contracts::COMPUTE, false);
    let fuel = PlainWasm::new(keel_contracts::COMPUTE, true);
    for (method, n) in [
        ("fib", 100_000u32),
        ("fib_recursive", 20),
        ("mix_loop", 100_000),
        ("hash_loop", 1_000),
    ] {
        let args = n.encode();
        let tx = chain.tx(Action::Call {
            contract: chain.contract,
            method: method.into(),
            args: args.clone(),
        });
        // The three must compute the same thing.
        let keel = chain.engine.simulate(&chain.store, &ctx, &tx).unwrap();
        assert_eq!(keel.status, Status::Success, "{method}: {keel:?}");
        assert_eq!(keel.return_data, nofuel.call(method, &args).0, "{method}");
        let id = format!("{method}({n})");
        g.bench_function(BenchmarkId::new("keel_metered", &id), |b| {
            b.iter(|| chain.engine.simulate(&chain.store, &ctx, &tx).unwrap())
        });
        g.bench_function(BenchmarkId::new("wasmi_fuel", &id), |b| {
            b.iter(|| fuel.call(method, &args))
        });
        g.bench_function(BenchmarkId::new("wasmi_plain", &id), |b| {
            b.iter(|| nofuel.call(method, &args))
        });
    }
    g.finish();
}

fn upload(c: &mut Criterion) {
    let mut g = c.benchmark_group("upload");
    quick(&mut g);
    let engine = Engine::default();
    let plain = PlainWasm::new(&empty_module(), false);
    let mut modules: Vec<(String, Vec<u8>)> = vec![
        ("synthetic_10KB".into(), synthetic_module(10 * 1024)),
        ("synthetic_100KB".into(), synthetic_module(100 * 1024)),
    ];
    for (name, code) in keel_contracts::ALL {
        if ["token", "swap"].contains(name) {
            modules.push((format!("example_{name}"), code.to_vec()));
        }
    }
    for (name, code) in &modules {
        let id = format!("{name}_{}B", code.len());
        engine.check(code).unwrap();
        g.throughput(Throughput::Bytes(code.len() as u64));
        g.bench_function(BenchmarkId::new("keel_check", &id), |b| {
            b.iter(|| engine.check(black_box(code)).unwrap())
        });
        g.bench_function(BenchmarkId::new("wasmi_module_new", &id), |b| {
            b.iter(|| compile_plain(plain.engine(), black_box(code)))
        });
    }
    g.finish();
}

fn storage_heavy(c: &mut Criterion) {
    let mut g = c.benchmark_group("storage_heavy");
    quick(&mut g);
    let mut chain = Chain::deploy(MemStore::new(), &storage_module(), Vec::new());
    for n in [10u32, 100] {
        let warm = chain.call_tx("write_n", n.encode());
        chain.block_ok(&[warm]);
        let ctx = BlockContext {
            height: chain.height,
            timestamp: 0,
        };
        let tx = chain.tx(Action::Call {
            contract: chain.contract,
            method: "write_n".into(),
            args: n.encode(),
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("keel/simulate", n), |b| {
            b.iter(|| chain.engine.simulate(&chain.store, &ctx, &tx).unwrap())
        });
        g.throughput(Throughput::Elements(100));
        g.bench_function(BenchmarkId::new("keel/memstore_block100", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs: Vec<Transaction> = (0..100)
                        .map(|_| chain.call_tx("write_n", n.encode()))
                        .collect();
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

fn commit_100k(c: &mut Criterion) {
    const EXISTING: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("keel")).unwrap();
    fill(&mut store, EXISTING, 10_000);
    let raw = RawDb::open(&dir.path().join("raw"));
    raw.fill(EXISTING, 10_000);
    let mut mem = MemStore::new();
    fill(&mut mem, EXISTING, 10_000);

    let mut g = c.benchmark_group("commit_100k");
    quick(&mut g);
    let mut round = 0u64;
    for n in [1_000u64, 10_000, 100_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(BenchmarkId::new("merkle_store", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let cs = change_set(&updates(EXISTING, n, round));
                    let t = Instant::now();
                    store.commit(&cs).unwrap();
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("raw_writebatch", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let pairs = updates(EXISTING, n, round);
                    let t = Instant::now();
                    raw.write(&pairs);
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("memstore", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let cs = change_set(&updates(EXISTING, n, round));
                    let t = Instant::now();
                    mem.commit(&cs).unwrap();
                    total += t.elapsed();
                }
                mem.prune(mem.version()).unwrap();
                total
            })
        });
    }
    g.finish();
}

fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.sample_size(20);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let tx = Transaction {
        sender: [7; 32],
        nonce: 42,
        gas_limit: 1_000_000,
        action: Action::Call {
            contract: [9; 32],
            method: "transfer".into(),
            args: ([1u8; 32], 1_000u128).encode(),
        },
    };
    let receipt = Receipt {
        status: Status::Success,
        gas_used: 123_456,
        return_data: Vec::new(),
        events: vec![Event {
            contract: [9; 32],
            topics: vec![[1; 32], [2; 32], [3; 32]],
            data: 1_000u128.encode(),
        }],
        logs: Vec::new(),
    };
    let deploy = Transaction {
        sender: [7; 32],
        nonce: 1,
        gas_limit: 1_000_000,
        action: Action::Deploy {
            code: keel_contracts::TOKEN.to_vec(),
        },
    };
    let tx_bytes = tx.encode();
    let receipt_bytes = receipt.encode();
    let deploy_bytes = deploy.encode();
    for (name, bytes) in [
        ("transfer_tx", &tx_bytes),
        ("receipt_1event", &receipt_bytes),
        ("deploy_tx_token", &deploy_bytes),
    ] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let id = format!("{name}_{}B", bytes.len());
        match name {
            "receipt_1event" => {
                g.bench_function(BenchmarkId::new("encode", &id), |b| {
                    b.iter(|| black_box(&receipt).encode())
                });
                g.bench_function(BenchmarkId::new("decode", &id), |b| {
                    b.iter(|| Receipt::decode(&mut black_box(bytes.as_slice())).unwrap())
                });
            }
            _ => {
                let value = if name == "transfer_tx" { &tx } else { &deploy };
                g.bench_function(BenchmarkId::new("encode", &id), |b| {
                    b.iter(|| black_box(value).encode())
                });
                g.bench_function(BenchmarkId::new("decode", &id), |b| {
                    b.iter(|| Transaction::decode(&mut black_box(bytes.as_slice())).unwrap())
                });
            }
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    transfer,
    empty_call,
    compute,
    upload,
    storage_heavy,
    commit_100k,
    scale
);
criterion_main!(benches);
