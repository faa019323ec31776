//! Compute-heavy methods for benchmarks: pure wasm arithmetic (Fibonacci, a mixing loop) and
//! host-call loops (BLAKE3, SHA-256). All arithmetic wraps; nothing allocates.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::{blake3, contract, sha256};

/// The compute contract.
pub struct Compute;

fn fib_rec(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib_rec(n - 1).wrapping_add(fib_rec(n - 2))
    }
}

#[contract]
impl Compute {
    /// The `n`th Fibonacci number (wrapping), iteratively: `n` loop iterations.
    pub fn fib(n: u32) -> u64 {
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..n {
            let next = a.wrapping_add(b);
            a = b;
            b = next;
        }
        a
    }

    /// The `n`th Fibonacci number (wrapping), by naive recursion: about `1.6^n` calls.
    pub fn fib_recursive(n: u32) -> u64 {
        fib_rec(n)
    }

    /// `n` rounds of a 64-bit multiply-xorshift mix, in wasm (no host calls).
    pub fn mix_loop(n: u32) -> u64 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..n {
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51_afd7_ed55_8ccd).wrapping_add(i as u64);
            x ^= x >> 29;
        }
        x
    }

    /// Hashes 32 zero bytes with BLAKE3, then re-hashes the digest, `n` times in all.
    pub fn hash_loop(n: u32) -> [u8; 32] {
        let mut h = [0u8; 32];
        for _ in 0..n {
            h = blake3(&h);
        }
        h
    }

    /// Like [`Compute::hash_loop`] with SHA-256.
    pub fn sha256_loop(n: u32) -> [u8; 32] {
        let mut h = [0u8; 32];
        for _ in 0..n {
            h = sha256(&h);
        }
        h
    }
}
