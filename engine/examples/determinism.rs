//! Runs a fixed sequence of blocks over hand-written WAT contracts on `MemStore` and prints a
//! blake3 digest of every SCALE-encoded `BlockOutcome` (receipts, gas, version, state root).
//!
//! The determinism test (`tests/determinism.rs`) runs this in separate processes, in debug and
//! release builds, and requires byte-identical digests.
//!
//! ```text
//! cargo run -p keel-engine --example determinism
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_engine::{Action, BlockContext, Engine, EngineConfig, Transaction};
use keel_state::MemStore;
use parity_scale_codec::Encode;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../contracts/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).expect("fixture")
}

fn main() {
    let config = EngineConfig {
        record_logs: true,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config);
    let mut store = MemStore::new();
    let accounts: Vec<[u8; 32]> = (1..=4u8).map(|i| [i; 32]).collect();
    let mut nonces = [0u64; 4];
    let mut tx = |who: usize, gas_limit: u64, action: Action| {
        let t = Transaction {
            sender: accounts[who],
            nonce: nonces[who],
            gas_limit,
            action,
        };
        nonces[who] += 1;
        t
    };
    let names = [
        "token",
        "probe",
        "proxy",
        "call_depth",
        "burn",
        "memory_grow_bomb",
        "deep_recursion",
        "infinite_loop",
    ];
    let mut digest = blake3::Hasher::new();
    let mut total_gas = 0u64;
    // Receipts per status: [success, reverted, out of gas, trapped, invalid].
    let mut statuses = [0u32; 5];
    let mut record = |out: &keel_engine::BlockOutcome| {
        digest.update(&out.encode());
        for r in &out.receipts {
            total_gas += r.gas_used;
            statuses[match r.status {
                keel_engine::Status::Success => 0,
                keel_engine::Status::Reverted(_) => 1,
                keel_engine::Status::OutOfGas => 2,
                keel_engine::Status::Trapped(_) => 3,
                keel_engine::Status::Invalid(_) => 4,
            }] += 1;
        }
    };

    // Block 1: deploy everything.
    let ctx = BlockContext {
        height: 1,
        timestamp: 1_000,
    };
    let deploys: Vec<Transaction> = names
        .iter()
        .map(|n| tx(0, 50_000_000, Action::Deploy { code: fixture(n) }))
        .collect();
    let out = engine.execute_block(&mut store, &ctx, &deploys).unwrap();
    record(&out);
    let hashes: Vec<[u8; 32]> = out
        .receipts
        .iter()
        .map(|r| r.return_data.clone().try_into().unwrap())
        .collect();

    // Block 2: instantiate each (the token mints 1_000_000 to account 0).
    let ctx = BlockContext {
        height: 2,
        timestamp: 2_000,
    };
    let inst: Vec<Transaction> = hashes
        .iter()
        .zip(names)
        .map(|(h, n)| {
            let args = if n == "token" {
                1_000_000u64.to_le_bytes().to_vec()
            } else {
                vec![]
            };
            tx(
                0,
                10_000_000,
                Action::Instantiate {
                    code_hash: *h,
                    salt: n.as_bytes().to_vec(),
                    args,
                },
            )
        })
        .collect();
    let out = engine.execute_block(&mut store, &ctx, &inst).unwrap();
    record(&out);
    let addr: Vec<[u8; 32]> = out
        .receipts
        .iter()
        .map(|r| r.return_data.clone().try_into().unwrap())
        .collect();

    // Blocks 3..=6: a mix of successes, reverts, traps, out-of-gas and nested calls.
    let call = |c: usize, m: &str, args: Vec<u8>| Action::Call {
        contract: addr[c],
        method: m.to_string(),
        args,
    };
    for height in 3..=6u64 {
        let ctx = BlockContext {
            height,
            timestamp: height * 1_000,
        };
        let mut txs = Vec::new();
        for i in 0..20u64 {
            let to = accounts[((i + height) % 4) as usize];
            let mut a = to.to_vec();
            a.extend_from_slice(&(i * 7 + height).to_le_bytes());
            txs.push(tx(0, 1_000_000, call(0, "transfer", a.clone())));
            txs.push(tx(1, 1_000_000, call(0, "transfer", a)));
        }
        let mut p = addr[4].to_vec();
        p.extend_from_slice(b"run");
        txs.push(tx(2, 5_000_000, call(2, "proxy", p)));
        let mut p = addr[1].to_vec();
        p.extend_from_slice(b"probe");
        txs.push(tx(2, 5_000_000, call(2, "proxy", p)));
        txs.push(tx(2, 5_000_000, call(2, "write_then_revert", vec![])));
        txs.push(tx(3, 50_000_000, call(3, "down", vec![])));
        txs.push(tx(3, 5_000_000, call(5, "run", vec![])));
        txs.push(tx(3, 50_000_000, call(6, "run", vec![])));
        txs.push(tx(3, 300_000 + height, call(7, "run", vec![])));
        txs.push(tx(1, 5_000_000, call(1, "probe", vec![])));
        let out = engine.execute_block(&mut store, &ctx, &txs).unwrap();
        record(&out);
    }

    // Raw bytes, including garbage.
    let ctx = BlockContext {
        height: 7,
        timestamp: 7_000,
    };
    let raw = vec![
        vec![0u8; 3],
        tx(0, 1_000_000, call(4, "run", vec![])).encode(),
        vec![0xff; 40],
    ];
    let out = engine.execute_block_raw(&mut store, &ctx, &raw).unwrap();
    record(&out);

    // The SDK's example contracts, frozen as wasm in tests/golden/wasm/: token and NFT traffic.
    let ctx = BlockContext {
        height: 8,
        timestamp: 8_000,
    };
    let deploys = vec![
        tx(
            0,
            100_000_000,
            Action::Deploy {
                code: include_bytes!("../tests/golden/wasm/token.wasm").to_vec(),
            },
        ),
        tx(
            0,
            100_000_000,
            Action::Deploy {
                code: include_bytes!("../tests/golden/wasm/nft.wasm").to_vec(),
            },
        ),
    ];
    let out = engine.execute_block(&mut store, &ctx, &deploys).unwrap();
    record(&out);
    let hashes: Vec<[u8; 32]> = out
        .receipts
        .iter()
        .map(|r| r.return_data.clone().try_into().unwrap())
        .collect();
    let inst: Vec<Transaction> = hashes
        .iter()
        .map(|h| {
            tx(
                0,
                10_000_000,
                Action::Instantiate {
                    code_hash: *h,
                    salt: b"sdk".to_vec(),
                    args: ().encode(),
                },
            )
        })
        .collect();
    let out = engine.execute_block(&mut store, &ctx, &inst).unwrap();
    record(&out);
    let sdk: Vec<[u8; 32]> = out
        .receipts
        .iter()
        .map(|r| r.return_data.clone().try_into().unwrap())
        .collect();
    let sdk_call = |c: usize, m: &str, args: Vec<u8>| Action::Call {
        contract: sdk[c],
        method: m.to_string(),
        args,
    };
    let ctx = BlockContext {
        height: 9,
        timestamp: 9_000,
    };
    let mut txs = vec![tx(
        0,
        10_000_000,
        sdk_call(0, "mint", (accounts[0], 1_000_000u128).encode()),
    )];
    for i in 0..30u64 {
        let to = accounts[(i % 4) as usize];
        txs.push(tx(
            0,
            10_000_000,
            sdk_call(0, "transfer", (to, u128::from(i) * 3).encode()),
        ));
        txs.push(tx(
            2,
            10_000_000,
            sdk_call(0, "transfer", (to, 1u128).encode()),
        ));
        txs.push(tx(0, 10_000_000, sdk_call(1, "mint", (i, to).encode())));
    }
    txs.push(tx(
        1,
        10_000_000,
        sdk_call(1, "list", (None::<u64>, 50u32).encode()),
    ));
    let out = engine.execute_block(&mut store, &ctx, &txs).unwrap();
    record(&out);

    println!("digest {}", digest.finalize().to_hex());
    println!("total_gas {total_gas}");
    println!("statuses success/reverted/out_of_gas/trapped/invalid {statuses:?}");
}
