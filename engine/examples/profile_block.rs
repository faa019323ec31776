//! Where the time of a 1,000-transfer block goes (execution vs commit), on MemStore.
//! `cargo run --release -p keel-engine --example profile_block`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use keel_engine::{Action, BlockContext, Engine, Transaction};
use keel_state::{ChangeSet, MemStore, StateStore};

fn main() {
    let code = wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/fixtures/token.wat"
    ))
    .unwrap();
    let mut engine = Engine::default();
    let mut store = MemStore::new();
    let ctx = BlockContext::default();
    let alice = [0xA1; 32];
    let mut nonce = 0;
    let mut tx = |action| {
        let t = Transaction {
            sender: alice,
            nonce,
            gas_limit: 10_000_000,
            action,
        };
        nonce += 1;
        t
    };
    let out = engine
        .execute_block(&mut store, &ctx, &[tx(Action::Deploy { code })])
        .unwrap();
    let code_hash = out.receipts[0].return_data.clone().try_into().unwrap();
    let out = engine
        .execute_block(
            &mut store,
            &ctx,
            &[tx(Action::Instantiate {
                code_hash,
                salt: vec![],
                args: u64::MAX.to_le_bytes().to_vec(),
            })],
        )
        .unwrap();
    let token: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
    for round in 0..5u64 {
        let txs: Vec<_> = (0..1000u64)
            .map(|i| {
                let mut a = vec![0u8; 40];
                a[..8].copy_from_slice(&(round * 1000 + i).to_le_bytes());
                a[32] = 1;
                tx(Action::Call {
                    contract: token,
                    method: "transfer".into(),
                    args: a,
                })
            })
            .collect();
        let t = Instant::now();
        let sims: usize = txs
            .iter()
            .take(1)
            .map(|t| engine.simulate(&store, &ctx, t).unwrap().events.len())
            .sum();
        let _ = sims;
        let t0 = Instant::now();
        let out = engine.execute_block(&mut store, &ctx, &txs).unwrap();
        let block = t0.elapsed();
        assert!(out.receipts.iter().all(|r| r.is_success()));
        // The commit alone: 1,000 fresh keys and one hot key into a fresh copy of the store.
        let mut copy = store.clone();
        let mut cs = ChangeSet::new();
        for i in 0..1000u64 {
            let mut k = vec![0x04; 1];
            k.extend_from_slice(&(round * 7919 + i + 10_000_000).to_le_bytes());
            cs.put(k, vec![1; 8]);
        }
        let t1 = Instant::now();
        copy.commit(&cs).unwrap();
        let commit = t1.elapsed();
        println!(
            "round {round}: block {block:?} ({:.0} tx/s), commit of 1000 keys alone {commit:?}, first simulate {:?}",
            1000.0 / block.as_secs_f64(),
            t0 - t
        );
    }
}
