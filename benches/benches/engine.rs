//! keel-engine benchmarks (see BENCHMARKS.md, "Engine"):
//! - token transfer against a cached module on an in-memory overlay (`Engine::simulate`);
//! - 1,000-transfer blocks committed to MemStore and to RocksDB;
//! - an empty call (new store, instantiation, call, receipt);
//! - metering overhead: the same compute kernel in plain wasmi with fuel off and with Keel's
//!   configuration (fuel on);
//! - validating and compiling a generated 100 KB module;
//! - SCALE encoding and decoding of transactions and receipts.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use keel_engine::{
    Action, Address, BlockContext, Engine, EngineConfig, Event, Receipt, Status, Transaction,
    wasmi_config,
};
use keel_state::{MemStore, StateStore, Store};
use parity_scale_codec::{Decode, Encode};

const ALICE: Address = [0xA1; 32];
const CTX: BlockContext = BlockContext {
    height: 1,
    timestamp: 1,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../contracts/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(path).unwrap()
}

/// A chain with one token contract and a funded ALICE.
struct Bench<S> {
    engine: Engine,
    store: S,
    token: Address,
    nonce: u64,
    sdk: bool,
}

impl<S: StateStore> Bench<S> {
    fn new(store: S, sdk: bool) -> Self {
        let mut b = Bench {
            engine: Engine::new(EngineConfig::default()),
            store,
            token: [0; 32],
            nonce: 0,
            sdk,
        };
        let code = if sdk {
            keel_contracts::TOKEN.to_vec()
        } else {
            fixture("token")
        };
        let hash: [u8; 32] = b
            .one(Action::Deploy { code })
            .return_data
            .try_into()
            .unwrap();
        let args = if sdk {
            ().encode()
        } else {
            u64::MAX.to_le_bytes().to_vec()
        };
        b.token = b
            .one(Action::Instantiate {
                code_hash: hash,
                salt: vec![],
                args,
            })
            .return_data
            .try_into()
            .unwrap();
        if sdk {
            let mint = b.call("mint", (ALICE, u128::MAX / 2).encode());
            let r = b.exec(&[mint]).remove(0);
            assert_eq!(r.status, Status::Success);
        }
        b
    }

    fn tx(&mut self, action: Action) -> Transaction {
        let t = Transaction {
            sender: ALICE,
            nonce: self.nonce,
            gas_limit: 10_000_000,
            action,
        };
        self.nonce += 1;
        t
    }

    fn call(&mut self, method: &str, args: Vec<u8>) -> Transaction {
        let token = self.token;
        self.tx(Action::Call {
            contract: token,
            method: method.into(),
            args,
        })
    }

    fn transfer(&mut self, i: u64) -> Transaction {
        let mut to = [0u8; 32];
        to[..8].copy_from_slice(&i.to_le_bytes());
        to[31] = 0xEE;
        let args = if self.sdk {
            (to, 1u128).encode()
        } else {
            let mut a = to.to_vec();
            a.extend_from_slice(&1u64.to_le_bytes());
            a
        };
        self.call("transfer", args)
    }

    fn exec(&mut self, txs: &[Transaction]) -> Vec<Receipt> {
        self.engine
            .execute_block(&mut self.store, &CTX, txs)
            .unwrap()
            .receipts
    }

    fn one(&mut self, action: Action) -> Receipt {
        let t = self.tx(action);
        let r = self.exec(&[t]).remove(0);
        assert_eq!(r.status, Status::Success, "{r:?}");
        r
    }
}

fn transfers(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/transfer");
    g.throughput(Throughput::Elements(1));
    for sdk in [false, true] {
        let name = if sdk { "sdk_token" } else { "wat_token" };
        let mut b = Bench::new(MemStore::new(), sdk);
        let tx = b.transfer(1);
        b.nonce -= 1;
        let r = b.engine.simulate(&b.store, &CTX, &tx).unwrap();
        assert_eq!(r.status, Status::Success, "{r:?}");
        g.bench_function(format!("overlay/{name}"), |bench| {
            bench.iter(|| b.engine.simulate(&b.store, &CTX, &tx).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("engine/block_1k");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for sdk in [false, true] {
        let name = if sdk { "sdk_token" } else { "wat_token" };
        let mut b = Bench::new(MemStore::new(), sdk);
        let mut round = 0u64;
        g.bench_function(format!("memstore/{name}"), |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs: Vec<_> = (0..1000).map(|i| b.transfer(round * 1000 + i)).collect();
                    round += 1;
                    let start = Instant::now();
                    let r = b.exec(&txs);
                    total += start.elapsed();
                    assert_eq!(r[999].status, Status::Success);
                }
                total
            })
        });
        let dir = tempfile::tempdir().unwrap();
        let mut b = Bench::new(Store::open(dir.path()).unwrap(), sdk);
        let mut round = 0u64;
        g.bench_function(format!("rocksdb/{name}"), |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs: Vec<_> = (0..1000).map(|i| b.transfer(round * 1000 + i)).collect();
                    round += 1;
                    let start = Instant::now();
                    let r = b.exec(&txs);
                    total += start.elapsed();
                    assert_eq!(r[999].status, Status::Success);
                }
                total
            })
        });
    }
    g.finish();
}

fn empty_call(c: &mut Criterion) {
    let mut engine = Engine::default();
    let mut store = MemStore::new();
    let code =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "noop")))"#).unwrap();
    let mk = |nonce, action| Transaction {
        sender: ALICE,
        nonce,
        gas_limit: 1_000_000,
        action,
    };
    let out = engine
        .execute_block(&mut store, &CTX, &[mk(0, Action::Deploy { code })])
        .unwrap();
    let hash: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
    let out = engine
        .execute_block(
            &mut store,
            &CTX,
            &[mk(
                1,
                Action::Instantiate {
                    code_hash: hash,
                    salt: vec![],
                    args: vec![],
                },
            )],
        )
        .unwrap();
    let contract: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
    let tx = mk(
        2,
        Action::Call {
            contract,
            method: "noop".into(),
            args: vec![],
        },
    );
    assert_eq!(
        engine.simulate(&store, &CTX, &tx).unwrap().status,
        Status::Success
    );
    c.bench_function("engine/empty_call", |b| {
        b.iter(|| engine.simulate(&store, &CTX, &tx).unwrap())
    });
}

const KERNEL: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "mix") (param $n i32) (result i64) (local $i i32) (local $x i64)
    (local.set $x (i64.const 0x1E3779B97F4A7C15))
    (loop $l
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
      (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
      (local.set $x (i64.add (local.get $x) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $x))
  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2))))))))"#;

fn metering(c: &mut Criterion) {
    let wasm = wat::parse_str(KERNEL).unwrap();
    let keel = wasmi_config(&EngineConfig::default());
    let mut plain = keel.clone();
    plain.consume_fuel(false);
    let mut g = c.benchmark_group("engine/metering");
    for (name, config) in [("wasmi_fuel_off", plain), ("keel_fuel_on", keel)] {
        let engine = wasmi::Engine::new(&config);
        let module = wasmi::Module::new(&engine, &wasm).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::<()>::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        let mix = instance.get_typed_func::<i32, i64>(&store, "mix").unwrap();
        let fib = instance.get_typed_func::<i64, i64>(&store, "fib").unwrap();
        let fuel = name == "keel_fuel_on";
        g.bench_function(format!("mix_100k/{name}"), |b| {
            b.iter(|| {
                if fuel {
                    store.set_fuel(u64::MAX).unwrap();
                }
                mix.call(&mut store, 100_000).unwrap()
            })
        });
        g.bench_function(format!("fib_25/{name}"), |b| {
            b.iter(|| {
                if fuel {
                    store.set_fuel(u64::MAX).unwrap();
                }
                fib.call(&mut store, 25).unwrap()
            })
        });
    }
    g.finish();
}

/// A valid Keel module of about `target` bytes: many non-trivial functions and one method.
fn generated_module(target: usize) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    let mut i = 0u64;
    loop {
        wat.push_str(&format!(
            "(func $f{i} (param i64) (result i64) (local i64)\n"
        ));
        for k in 0..24u64 {
            wat.push_str(&format!(
                "(local.set 1 (i64.add (local.get 1) (i64.mul (local.get 0) (i64.const {}))))\n",
                i * 31 + k
            ));
        }
        wat.push_str("(local.get 1))\n");
        i += 1;
        if i.is_multiple_of(50) && wat::parse_str(format!("{wat})")).unwrap().len() >= target {
            break;
        }
    }
    wat.push_str("(func (export \"run\") (drop (call $f0 (i64.const 1)))))");
    wat::parse_str(&wat).unwrap()
}

fn validation(c: &mut Criterion) {
    let code = generated_module(100 * 1024);
    let engine = Engine::default();
    engine.check(&code).unwrap();
    let mut g = c.benchmark_group("engine/validate_compile");
    g.throughput(Throughput::Bytes(code.len() as u64));
    g.bench_function(format!("generated_{}_bytes", code.len()), |b| {
        b.iter(|| engine.check(&code).unwrap())
    });
    let cfg = wasmi_config(&EngineConfig::default());
    let plain = wasmi::Engine::new(&cfg);
    g.bench_function(format!("wasmi_only_{}_bytes", code.len()), |b| {
        b.iter(|| wasmi::Module::new(&plain, &code).unwrap())
    });
    g.finish();
}

fn scale(c: &mut Criterion) {
    let tx = Transaction {
        sender: ALICE,
        nonce: 42,
        gas_limit: 1_000_000,
        action: Action::Call {
            contract: [7; 32],
            method: "transfer".into(),
            args: ([9u8; 32], 1_000u128).encode(),
        },
    };
    let receipt = Receipt {
        status: Status::Success,
        gas_used: 11_601,
        return_data: vec![],
        events: vec![Event {
            contract: [7; 32],
            topics: vec![[1; 32]],
            data: vec![0; 80],
        }],
        logs: vec![],
    };
    let tx_bytes = tx.encode();
    let receipt_bytes = receipt.encode();
    let mut g = c.benchmark_group("engine/scale");
    g.bench_function("tx_encode", |b| b.iter(|| tx.encode()));
    g.bench_function("tx_decode", |b| {
        b.iter(|| Transaction::decode(&mut tx_bytes.as_slice()).unwrap())
    });
    g.bench_function("receipt_encode", |b| b.iter(|| receipt.encode()));
    g.bench_function("receipt_decode", |b| {
        b.iter(|| Receipt::decode(&mut receipt_bytes.as_slice()).unwrap())
    });
    g.bench_function("tx_decode_batch_1k", |b| {
        let batch: Vec<Vec<u8>> = (0..1000).map(|_| tx_bytes.clone()).collect();
        b.iter_batched(
            || batch.clone(),
            |batch| {
                batch
                    .iter()
                    .map(|t| Transaction::decode(&mut t.as_slice()).unwrap())
                    .collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = transfers, empty_call, metering, validation, scale
);
criterion_main!(benches);
