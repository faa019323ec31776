//! Peak-memory probe: builds a store of `--keys` filler keys, deploys the token, runs
//! `--blocks` blocks of `--block-size` transfers, and prints the time and the process's peak
//! resident set size (VmHWM) after each phase, as one JSON object per line.
//!
//! `cargo run --release -p keel-benches --bin keel-bench-mem -- --store rocksdb --keys 1000000`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use keel_benches::keel::{Chain, fill_with};
use keel_benches::peak_rss_kib;
use keel_state::{MemStore, StateStore, Store};

struct Args {
    store: String,
    keys: u64,
    blocks: u64,
    block_size: usize,
}

fn parse() -> Args {
    let mut a = Args {
        store: "rocksdb".into(),
        keys: 100_000,
        blocks: 10,
        block_size: 1_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--store" => a.store = val,
            "--keys" => a.keys = val.parse().expect("--keys N"),
            "--blocks" => a.blocks = val.parse().expect("--blocks N"),
            "--block-size" => a.block_size = val.parse().expect("--block-size N"),
            other => panic!(
                "unknown flag {other} (--store rocksdb|memory --keys N --blocks N --block-size N)"
            ),
        }
    }
    a
}

fn report(a: &Args, phase: &str, secs: f64, extra: &str) {
    println!(
        "{{\"store\":\"{}\",\"keys\":{},\"block_size\":{},\"phase\":\"{phase}\",\"secs\":{secs:.3},\"peak_rss_kib\":{}{extra}}}",
        a.store,
        a.keys,
        a.block_size,
        peak_rss_kib().unwrap_or(0)
    );
}

/// `after_chunk` runs after each fill commit: the memory store prunes its history there, so
/// the figure is the live state (RocksDB keeps history on disk, not in RAM).
fn run<S: StateStore>(a: &Args, mut store: S, after_chunk: impl FnMut(&mut S)) {
    let t = Instant::now();
    fill_with(&mut store, a.keys, 20_000, after_chunk);
    report(a, "fill", t.elapsed().as_secs_f64(), "");
    let mut chain = Chain::token(store);
    let t = Instant::now();
    for _ in 0..a.blocks {
        let txs = chain.transfers(a.block_size, 1_000);
        chain.block_ok(&txs);
    }
    let secs = t.elapsed().as_secs_f64();
    let tps = (a.blocks as f64 * a.block_size as f64) / secs;
    report(a, "blocks", secs, &format!(",\"tx_per_s\":{tps:.0}"));
}

fn main() {
    let a = parse();
    report(&a, "start", 0.0, "");
    match a.store.as_str() {
        "memory" => run(&a, MemStore::new(), |m| {
            let v = m.version();
            m.prune(v).expect("prune");
        }),
        "rocksdb" => {
            let dir = tempfile::tempdir().expect("temp dir");
            run(
                &a,
                Store::open(dir.path().join("keel")).expect("open store"),
                |_| {},
            );
        }
        other => panic!("unknown store {other}"),
    }
}
