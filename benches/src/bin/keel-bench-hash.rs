//! The cost of one tree hash three ways, interleaved over rounds (median of each): blake3's
//! `keyed_hash` of a 64-byte input (how keel-proof hashed before the ninth session of issue
//! 13), `keel_proof::internal_hash` (the same hash as one blake3 compression), and
//! `keel_proof::internal_hashes` over a batch (the same hashes in the CPU's vector lanes, as
//! a tree update computes them). Prints one line per way, in nanoseconds per hash, and the
//! platform blake3 detected; exits non-zero if any way disagrees with `keyed_hash`.
//!
//! `benches/state-scale.sh --build-only LABEL && target/calib/debug/keel-bench-hash [ROUNDS]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use keel_state::proof::{Hash, internal_hash, internal_hashes};

const NODE_KEY: &[u8; 32] = b"keel.merkle.v1.node.............";
/// Hashes per timed term: a 10,000-update commit computes about this many.
const N: usize = 65_536;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("ROUNDS"))
        .unwrap_or(21);
    let inputs: Vec<[u8; 64]> = (0..N as u64)
        .map(|i| {
            let mut b = [0u8; 64];
            b[..8].copy_from_slice(&i.to_le_bytes());
            b[40..48].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            b
        })
        .collect();
    let refs: Vec<&[u8; 64]> = inputs.iter().collect();
    let halves = |b: &[u8; 64]| -> (Hash, Hash) {
        (b[..32].try_into().unwrap(), b[32..].try_into().unwrap())
    };
    let mut reference = vec![[0u8; 32]; N];
    let mut single = vec![[0u8; 32]; N];
    let mut batched = vec![[0u8; 32]; N];
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        let t = Instant::now();
        for (b, o) in inputs.iter().zip(reference.iter_mut()) {
            *o = *blake3::keyed_hash(NODE_KEY, black_box(b)).as_bytes();
        }
        times[0].push(t.elapsed().as_nanos() as f64 / N as f64);
        let t = Instant::now();
        for (b, o) in inputs.iter().zip(single.iter_mut()) {
            let (l, r) = halves(black_box(b));
            *o = internal_hash(&l, &r);
        }
        times[1].push(t.elapsed().as_nanos() as f64 / N as f64);
        let t = Instant::now();
        internal_hashes(black_box(&refs), &mut batched);
        times[2].push(t.elapsed().as_nanos() as f64 / N as f64);
        black_box((&reference, &single, &batched));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "platform {:?}, {N} hashes a term, {rounds} rounds",
        blake3::platform::Platform::detect()
    );
    for (name, v) in ["blake3::keyed_hash", "internal_hash", "internal_hashes"]
        .iter()
        .zip(times.iter_mut())
    {
        println!("{name:20} {:6.1} ns per hash", median(v));
    }
    if single != reference || batched != reference {
        eprintln!("a hash differs from blake3::keyed_hash");
        std::process::exit(1);
    }
}
