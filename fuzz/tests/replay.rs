//! Stable replay of every fuzz target: the committed corpus in `fuzz/corpus/<target>/`, then
//! inputs from fixed-seed random generators. A panic is an invariant violation.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static ALLOC: keel_fuzz::alloc_guard::TrackingAlloc = keel_fuzz::alloc_guard::TrackingAlloc;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay_corpus(target: &str) -> usize {
    let inputs = corpus(target);
    for (path, bytes) in &inputs {
        let result = std::panic::catch_unwind(|| keel_fuzz::run_target(target, bytes));
        assert!(
            result.is_ok(),
            "{target}: corpus input {} failed",
            path.display()
        );
    }
    inputs.len()
}

/// `count` random inputs of length up to `max_len`, from a fixed seed. For longer soaks,
/// `KEEL_FUZZ_SCALE=n` runs `n` times as many and `KEEL_FUZZ_SEED=s` changes the seed.
fn replay_random(target: &str, seed: u64, count: usize, max_len: usize) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = seed ^ env("KEEL_FUZZ_SEED").unwrap_or(0);
    let count = count * env("KEEL_FUZZ_SCALE").unwrap_or(1) as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..count {
        let len = rng.random_range(0..=max_len);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        let result = std::panic::catch_unwind(|| keel_fuzz::run_target(target, &bytes));
        assert!(
            result.is_ok(),
            "{target}: seeded input #{i} (seed {seed}) failed: {}",
            hex(&bytes)
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_target_has_a_corpus() {
    for target in keel_fuzz::TARGETS {
        assert!(!corpus(target).is_empty(), "no corpus for {target}");
    }
}

#[test]
fn state_model_corpus() {
    replay_corpus("state_model");
}

#[test]
fn state_model_seeded() {
    // About half of these also run on RocksDB (each opens a fresh store: slow).
    replay_random("state_model", 0x5747_e001, 120, 600);
}

#[test]
fn state_model_mem_seeded() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5747_e002);
    for _ in 0..2000 {
        let len = rng.random_range(0..=600);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        keel_fuzz::state_model::run_mem(&bytes);
    }
}

#[test]
fn decode_corpus() {
    replay_corpus("decode");
}

#[test]
fn decode_seeded() {
    replay_random("decode", 0xdec0_de01, 4000, 300);
}

#[test]
fn alloc_guard_measures() {
    let (v, stats) = keel_fuzz::alloc_guard::measure(|| vec![0u8; 1 << 20]);
    assert_eq!(v.len(), 1 << 20);
    let stats = stats.expect("TrackingAlloc is installed in this binary");
    assert!(stats.largest >= 1 << 20);
    // A SCALE prefix claiming 2^30 bytes with 8 bytes behind it must not allocate 1 GiB.
    let data = [0x03, 0xff, 0xff, 0xff, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0];
    let (r, stats) = keel_fuzz::alloc_guard::measure(|| {
        <Vec<u8> as parity_scale_codec::Decode>::decode(&mut &data[..])
    });
    assert!(r.is_err());
    assert!(stats.unwrap().largest < 1 << 16);
}

#[test]
fn module_corpus() {
    replay_corpus("module");
}

#[test]
fn module_seeded() {
    replay_random("module", 0x3d01_e001, 400, 2000);
}

/// Writes the hand-made seeds of the `module` corpus (run with `--ignored` after changing
/// them; the files are committed).
#[test]
#[ignore]
fn write_module_seeds() {
    use keel_fuzz::module::{Call, Scenario};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/module");
    std::fs::create_dir_all(&dir).unwrap();
    let call = |method, gas, args: &[u8]| Call {
        method,
        gas,
        args: args.to_vec(),
    };
    let loop_wat = r#"(module
        (import "keel" "storage_set" (func $set (param i32 i32 i32 i32)))
        (import "keel" "input" (func $input (param i32 i32) (result i32)))
        (import "keel" "set_return" (func $ret (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "a") (local i32)
            (local.set 0 (call $input (i32.const 0) (i32.const 64)))
            (call $set (i32.const 0) (i32.const 4) (i32.const 0) (local.get 0))
            (call $ret (i32.const 0) (local.get 0)))
        (func (export "b") (loop (br 0))))"#;
    let seeds: Vec<(&str, Scenario)> = vec![
        (
            "counter",
            Scenario {
                code: keel_contracts::COUNTER.to_vec(),
                kind: "raw",
                init_args: vec![],
                init_gas: 1_000_000,
                calls: vec![
                    call(1, 200_000, b""),
                    call(0, 200_000, b""),
                    call(1, 30_000, b""),
                ],
            },
        ),
        (
            "token",
            Scenario {
                code: keel_contracts::TOKEN.to_vec(),
                kind: "raw",
                init_args: vec![],
                init_gas: 1_000_000,
                calls: vec![call(7, 500_000, &[0xa1; 48]), call(9, 300_000, &[1; 32])],
            },
        ),
        (
            "store-and-loop",
            Scenario {
                code: wat::parse_str(loop_wat).unwrap(),
                kind: "raw",
                init_args: vec![],
                init_gas: 100_000,
                calls: vec![call(0, 50_000, b"hello"), call(1, 20_000, b"")],
            },
        ),
        (
            "not-wasm",
            Scenario {
                code: b"\0asm\x01\0\0\0\x01\xff".to_vec(),
                kind: "raw",
                init_args: vec![],
                init_gas: 0,
                calls: vec![],
            },
        ),
    ];
    for (name, s) in seeds {
        std::fs::write(dir.join(name), s.raw_bytes()).unwrap();
    }
}

#[test]
fn tx_sequence_corpus() {
    replay_corpus("tx_sequence");
}

#[test]
fn tx_sequence_seeded() {
    replay_random("tx_sequence", 0x7c5e_9001, 60, 1500);
}

/// Writes the engine-type seeds of the `decode` corpus (run with `--ignored`; committed).
#[test]
#[ignore]
fn write_decode_seeds() {
    use keel_engine::{Action, BlockContext, Transaction};
    use parity_scale_codec::Encode;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/decode");
    let call = Transaction {
        sender: [1; 32],
        nonce: 7,
        gas_limit: 1_000_000,
        action: Action::Call {
            contract: [2; 32],
            method: "transfer".into(),
            args: vec![3; 48],
        },
    };
    let deploy = Transaction {
        sender: [1; 32],
        nonce: 0,
        gas_limit: 10_000_000,
        action: Action::Deploy {
            code: keel_contracts::COUNTER.to_vec(),
        },
    };
    let inst = Transaction {
        sender: [1; 32],
        nonce: 1,
        gas_limit: 1_000,
        action: Action::Instantiate {
            code_hash: [9; 32],
            salt: vec![1],
            args: vec![],
        },
    };
    let ctx = BlockContext {
        height: 5,
        timestamp: 6,
    };
    for (name, bytes) in [
        ("tx-call", call.encode()),
        ("tx-deploy-counter", deploy.encode()),
        ("tx-instantiate", inst.encode()),
        ("block-of-txs", vec![call.clone(), inst].encode()),
        ("block-context", ctx.encode()),
        // The selector byte then a transaction, so the `rest` path sees it whole.
        ("sel-tx-call", [&[0u8][..], &call.encode()].concat()),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn differential_corpus() {
    replay_corpus("differential");
}

#[test]
fn differential_seeded() {
    // Also checks the target is not vacuous: the generated calls end in every way.
    // `KEEL_FUZZ_SCALE` and `KEEL_FUZZ_SEED` lengthen and vary it, as for the other targets.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = 0xd1ff_e001 ^ env("KEEL_FUZZ_SEED").unwrap_or(0);
    let count = 400 * env("KEEL_FUZZ_SCALE").unwrap_or(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = keel_fuzz::differential::Stats::default();
    for i in 0..count {
        let len = rng.random_range(0..=1500);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            keel_fuzz::differential::run_counted(&bytes, &mut stats)
        }));
        assert!(
            r.is_ok(),
            "differential: seeded input #{i} failed: {}",
            hex(&bytes)
        );
    }
    println!("differential: {stats:?}");
    assert!(stats.returned > 20, "{stats:?}");
    assert!(stats.out_of_gas > 5, "{stats:?}");
    for kind in [
        "MemoryOutOfBounds",
        "IntegerDivisionByZero",
        "Unreachable",
        "StackOverflow",
        "BadSignature",
        "IndirectCallToNull",
        "TableOutOfBounds",
    ] {
        assert!(
            stats.trapped.contains_key(kind),
            "no {kind} trap: {stats:?}"
        );
    }
}
