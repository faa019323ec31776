//! Hostile bytes never panic the host: mutated modules through validation and execution,
//! and garbage transactions through `execute_block_raw`. Deterministic (a fixed xorshift).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, EngineConfig, Status, Transaction, check_code};
use parity_scale_codec::Encode;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(4) {
            0 => {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(m.len());
                m.insert(i, rng.next() as u8);
            }
            2 if m.len() > 8 => {
                let i = rng.below(m.len());
                m.remove(i);
            }
            _ => {
                let i = rng.below(m.len());
                m.truncate(i.max(8));
            }
        }
    }
    m
}

#[test]
fn mutated_modules_are_rejected_or_run_without_panicking() {
    let config = EngineConfig::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut c = Chain::new();
    let bases: Vec<Vec<u8>> = ["token", "proxy", "probe", "host_oob", "memory_grow_bomb"]
        .iter()
        .map(|n| fixture(n))
        .collect();
    let mut accepted = 0;
    for round in 0..600 {
        let base = &bases[round % bases.len()];
        let code = mutate(&mut rng, base);
        let Ok(info) = check_code(&code, &config) else {
            continue;
        };
        accepted += 1;
        let hash = c.upload(code);
        let address = c.instantiate(hash, &round.to_le_bytes(), vec![]);
        for method in info.methods.iter().take(4) {
            let r = c.call_gas(ALICE, address, method, vec![1, 2, 3], 2_000_000);
            assert!(!matches!(r.status, Status::Invalid(_)), "{r:?}");
        }
    }
    // Some mutations (data bytes, constants) keep the module valid: they were run.
    assert!(accepted > 0);
}

#[test]
fn garbage_transaction_bytes_are_invalid_receipts() {
    let mut rng = Rng(42);
    let mut c = Chain::new();
    let good = Transaction {
        sender: ALICE,
        nonce: 0,
        gas_limit: GAS,
        action: Action::Deploy {
            code: fixture("burn"),
        },
    }
    .encode();
    let txs: Vec<Vec<u8>> = (0..300).map(|_| mutate(&mut rng, &good)).collect();
    let out = c
        .engine
        .execute_block_raw(&mut c.store, &c.ctx, &txs)
        .unwrap();
    assert_eq!(out.receipts.len(), 300);
}
