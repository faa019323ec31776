//! keel-benches: fixtures shared by Keel's criterion suites, the side-by-side peers (revm,
//! plain wasmi, raw RocksDB), the peak-memory probe (`keel-bench-mem`) and a quick run for the
//! `keel bench` CLI command ([`quick::run`]).
//!
//! Everything here builds the same workloads for every system so that figures taken in one run
//! can be compared as ratios:
//! - [`keel`]: an engine with the example token deployed, blocks of token transfers;
//! - [`evm`] (feature `revm`, on by default): the same transfers on revm, as plain value
//!   transfers and as calls of an ERC-20 compiled with solc (`benches/evm/`);
//! - [`wasm`]: a module run in plain wasmi (no host beyond stubs, fuel on or off);
//! - [`raw`]: the same key-value pairs written with a raw RocksDB `WriteBatch`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod ab;
pub mod attacks;
pub mod calib;
pub mod keel;
pub mod quick;
pub mod raw;
pub mod wasm;

#[cfg(feature = "revm")]
pub mod evm;

/// Deterministic pseudo-random bytes (splitmix64), so every run builds the same keys.
pub fn pseudo_bytes<const N: usize>(seed: u64) -> [u8; N] {
    let mut out = [0u8; N];
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let bytes = z.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

/// The `i`th of a family of distinct 32-byte account addresses.
pub fn account(i: u64) -> [u8; 32] {
    pseudo_bytes::<32>(0xacc0_0000_0000_0000 ^ i)
}

/// The peak resident set size of this process so far (`VmHWM`), in KiB, if the platform
/// reports it (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
