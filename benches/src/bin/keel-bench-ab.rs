//! Interleaved A/B ratios (see `keel_benches::ab`): each set's contenders run in turn, one
//! sample each per round; medians per operation and ratios to the set's first contender.
//! Prints one JSON object per contender.
//!
//! `cargo run --release -p keel-benches --bin keel-bench-ab [-- ROUNDS [SET_PREFIX]]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use keel_benches::ab::{Contender, interleave};
use keel_benches::keel::{Chain, change_set, empty_module, fill, synthetic_module, updates};
use keel_benches::raw::RawDb;
use keel_benches::wasm::{PlainWasm, compile_plain};
use keel_engine::{Action, BlockContext, Engine, EngineConfig};
use keel_state::{MemStore, StateStore, Store};
use parity_scale_codec::Encode;

/// The time `f` takes: this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that time the
/// scheduler gives to other processes on this shared machine is not counted; wall time if
/// `KEEL_AB_CLOCK=wall` is set.
fn timed(f: impl FnOnce()) -> Duration {
    if !use_cpu_clock() {
        let t = Instant::now();
        f();
        return t.elapsed();
    }
    let a = thread_cpu();
    f();
    thread_cpu().saturating_sub(a)
}

fn use_cpu_clock() -> bool {
    static CPU: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CPU.get_or_init(|| std::env::var("KEEL_AB_CLOCK").as_deref() != Ok("wall"))
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn print(set: &str, results: &[keel_benches::ab::AbResult]) {
    for r in results {
        println!(
            "{{\"set\":\"{set}\",\"name\":\"{}\",\"per_op_ns\":{:.1},\"ratio_to_first\":{:.3},\"rounds\":{},\"clock\":\"{}\"}}",
            r.name,
            r.per_op.as_secs_f64() * 1e9,
            r.ratio_to_first,
            r.rounds,
            if use_cpu_clock() {
                "thread_cpu"
            } else {
                "wall"
            }
        );
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ROUNDS"))
        .unwrap_or(21);
    // Optional: run only the sets whose name starts with this.
    let only = std::env::args().nth(2).unwrap_or_default();
    let run = |set: &str| set.starts_with(&only);
    let dir = tempfile::tempdir().unwrap();
    let ctx = BlockContext {
        height: 1_000_000,
        timestamp: 0,
    };

    // Transfers: Keel token (MemStore, RocksDB) vs revm ERC-20 and value transfers, 1k per sample.
    if run("transfer") {
        const N: usize = 1_000;
        let mut mem = Chain::token(MemStore::new());
        let w = mem.transfers(N, 1_000);
        mem.block_ok(&w);
        let mut rocks = Chain::token(Store::open(dir.path().join("t")).unwrap());
        let w = rocks.transfers(N, 1_000);
        rocks.block_ok(&w);
        // Execution only: the same transfer simulated (cached module, overlay, receipt; no
        // commit, no Merkle root), for comparison with revm, which computes no root.
        let sim = Chain::token(MemStore::new());
        let sim_tx = sim.tx(Action::Call {
            contract: sim.contract,
            method: "transfer".into(),
            args: (keel_benches::account(1), 1u128).encode(),
        });
        let sim_ctx = ctx;
        let sim_np_tx = sim_tx.clone();
        let mut set = vec![
            Contender::new("keel_token_memstore_block1k", N as u64, move || {
                let txs = mem.transfers(N, 1_000);
                timed(|| {
                    mem.block_ok(&txs);
                })
            }),
            Contender::new("keel_token_rocksdb_block1k", N as u64, move || {
                let txs = rocks.transfers(N, 1_000);
                timed(|| {
                    rocks.block_ok(&txs);
                })
            }),
        ];
        set.push(Contender::new(
            "keel_token_simulate_no_commit",
            N as u64,
            move || {
                timed(|| {
                    for _ in 0..N {
                        let r = sim.engine.simulate(&sim.store, &sim_ctx, &sim_tx).unwrap();
                        assert!(r.is_success());
                    }
                })
            },
        ));
        // The same with the instance pool off (every frame instantiates the token afresh).
        let mut sim_np = Chain::token(MemStore::new());
        sim_np.engine = Engine::new(EngineConfig {
            instance_pool: false,
            ..EngineConfig::default()
        });
        set.push(Contender::new(
            "keel_token_simulate_no_pool",
            N as u64,
            move || {
                timed(|| {
                    for _ in 0..N {
                        let r = sim_np
                            .engine
                            .simulate(&sim_np.store, &sim_ctx, &sim_np_tx)
                            .unwrap();
                        assert!(r.is_success());
                    }
                })
            },
        ));
        #[cfg(feature = "revm")]
        {
            let mut evm = keel_benches::evm::EvmChain::new();
            let w = evm.erc20_transfers(N, 1_000);
            evm.run(w);
            let w = evm.value_transfers(N, 1_000);
            evm.run(w);
            let evm = std::rc::Rc::new(std::cell::RefCell::new(evm));
            let e1 = evm.clone();
            set.push(Contender::new("revm_erc20_1k", N as u64, move || {
                let txs = e1.borrow_mut().erc20_transfers(N, 1_000);
                timed(|| e1.borrow_mut().run(txs))
            }));
            set.push(Contender::new("revm_value_1k", N as u64, move || {
                let txs = evm.borrow_mut().value_transfers(N, 1_000);
                timed(|| evm.borrow_mut().run(txs))
            }));
        }
        print("transfer", &interleave(rounds, &mut set));
    }

    // Metering: the same compute module in Keel and in plain wasmi, fuel off and on.
    if run("compute") {
        let chain = Chain::deploy(MemStore::new(), keel_contracts::COMPUTE, Vec::new());
        let plain = PlainWasm::new(keel_contracts::COMPUTE, false);
        let fuel = PlainWasm::new(keel_contracts::COMPUTE, true);
        for (method, n) in [
            ("fib", 100_000u32),
            ("mix_loop", 100_000),
            ("fib_recursive", 20),
        ] {
            let args = n.encode();
            let tx = chain.tx(Action::Call {
                contract: chain.contract,
                method: method.into(),
                args: args.clone(),
            });
            let mut set = vec![
                Contender::new("wasmi_plain", 1, || {
                    timed(|| drop(plain.call(method, &args)))
                }),
                Contender::new("wasmi_fuel", 1, || timed(|| drop(fuel.call(method, &args)))),
                Contender::new("keel_metered", 1, || {
                    timed(|| {
                        let r = chain.engine.simulate(&chain.store, &ctx, &tx).unwrap();
                        assert!(r.is_success());
                    })
                }),
            ];
            print(
                &format!("compute_{method}({n})"),
                &interleave(rounds, &mut set),
            );
        }
    }

    // Empty call: 1k per sample.
    if run("empty_call") {
        let code = empty_module();
        let chain = Chain::deploy(MemStore::new(), &code, Vec::new());
        let tx = chain.tx(Action::Call {
            contract: chain.contract,
            method: "noop".into(),
            args: Vec::new(),
        });
        let plain = PlainWasm::new(&code, false);
        let no_pool = Engine::new(EngineConfig {
            instance_pool: false,
            ..EngineConfig::default()
        });
        let mut set = vec![
            Contender::new("wasmi_plain_instantiate_call", 1_000, || {
                timed(|| {
                    for _ in 0..1_000 {
                        plain.call("noop", &[]);
                    }
                })
            }),
            Contender::new("keel_simulate", 1_000, || {
                timed(|| {
                    for _ in 0..1_000 {
                        chain.engine.simulate(&chain.store, &ctx, &tx).unwrap();
                    }
                })
            }),
            Contender::new("keel_simulate_no_pool", 1_000, || {
                timed(|| {
                    for _ in 0..1_000 {
                        no_pool.simulate(&chain.store, &ctx, &tx).unwrap();
                    }
                })
            }),
        ];
        print("empty_call", &interleave(rounds, &mut set));
    }

    // Import resolution: the SDK token instantiated in a fresh store with every import
    // created in that store (`Func::new`, Keel's path before issue 12) against one shared
    // `Linker` (wasmi's intended pattern). Same engine config as Keel; no call.
    if run("instantiate") {
        use wasmi::{Func, FuncType, Linker, Module, Store, ValType};
        let engine = wasmi::Engine::new(&keel_engine::wasmi_config(
            &keel_engine::EngineConfig::default(),
        ));
        let module = Module::new(&engine, keel_contracts::TOKEN).unwrap();
        let ty = |n: &str| {
            let (_, p, r) = keel_engine::HOST_ABI
                .iter()
                .find(|(m, _, _)| *m == n)
                .unwrap();
            let vt = |t: &keel_engine::AbiType| match t {
                keel_engine::AbiType::I32 => ValType::I32,
                keel_engine::AbiType::I64 => ValType::I64,
            };
            FuncType::new(p.iter().map(vt), r.iter().map(vt))
        };
        let types: Vec<FuncType> = module.imports().map(|i| ty(i.name())).collect();
        let mut linker = Linker::<()>::new(&engine);
        for (n, _, _) in keel_engine::HOST_ABI {
            linker.func_new("keel", n, ty(n), |_, _, _| Ok(())).unwrap();
        }
        let mut set = vec![
            Contender::new("per_store_func_new", 1_000, || {
                timed(|| {
                    for _ in 0..1_000 {
                        let mut store = Store::new(&engine, ());
                        let imports: Vec<wasmi::Extern> = types
                            .iter()
                            .map(|t| Func::new(&mut store, t.clone(), |_, _, _| Ok(())).into())
                            .collect();
                        let _instance =
                            wasmi::Instance::new(&mut store, &module, &imports).unwrap();
                    }
                })
            }),
            Contender::new("shared_linker", 1_000, || {
                timed(|| {
                    for _ in 0..1_000 {
                        let mut store = Store::new(&engine, ());
                        let _instance = linker.instantiate_and_start(&mut store, &module).unwrap();
                    }
                })
            }),
        ];
        print("instantiate_token", &interleave(rounds, &mut set));
    }

    // Merkle commit vs raw WriteBatch: 1k and 10k updates at 100k existing keys.
    if run("commit") {
        const EXISTING: u64 = 100_000;
        let mut store = Store::open(dir.path().join("m")).unwrap();
        fill(&mut store, EXISTING, 20_000);
        let raw = RawDb::open(&dir.path().join("r"));
        raw.fill(EXISTING, 20_000);
        let store = std::cell::RefCell::new(store);
        let round = std::cell::Cell::new(0u64);
        for n in [1_000u64, 10_000] {
            let mut set = vec![
                Contender::new("raw_writebatch", n, || {
                    round.set(round.get() + 1);
                    let pairs = updates(EXISTING, n, round.get());
                    timed(|| raw.write(&pairs))
                }),
                Contender::new("merkle_store", n, || {
                    round.set(round.get() + 1);
                    let cs = change_set(&updates(EXISTING, n, round.get()));
                    timed(|| {
                        store.borrow_mut().commit(&cs).unwrap();
                    })
                }),
            ];
            print(
                &format!("commit_{n}_at_100k"),
                &interleave(rounds, &mut set),
            );
        }
    }

    // Upload: validate + compile 10 KB and 100 KB.
    if run("upload") {
        let engine = Engine::default();
        let plain = PlainWasm::new(&empty_module(), false);
        for size in [10 * 1024, 100 * 1024] {
            let code = synthetic_module(size);
            let mut set = vec![
                Contender::new("wasmi_module_new", 1, || {
                    timed(|| drop(compile_plain(plain.engine(), &code)))
                }),
                Contender::new("keel_check", 1, || {
                    timed(|| drop(engine.check(&code).unwrap()))
                }),
            ];
            print(
                &format!("upload_{}B", code.len()),
                &interleave(rounds, &mut set),
            );
        }
    }
}
