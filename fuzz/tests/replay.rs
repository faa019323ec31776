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

/// `count` random inputs of length up to `max_len`, from a fixed seed.
fn replay_random(target: &str, seed: u64, count: usize, max_len: usize) {
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
    replay_random("state_model", 0x5747_e001, 2000, 600);
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
