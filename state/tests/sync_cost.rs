//! What `--sync` / `OpenOptions::sync` costs per commit: two stores side by side on the same
//! disk, one fsyncing every commit, one not, committing the same blocks in alternation
//! (interleaved A/B, so drift and background load hit both alike). A measurement, not a
//! check: ignored by default, its figures go to BENCHMARKS.md. Run with
//! `cargo test -p keel-state --test sync_cost -- --ignored --nocapture`
//! (`KEEL_SYNC_COST_DIR` picks the disk; default: the target dir).
#![cfg(feature = "rocksdb")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use keel_state::{ChangeSet, OpenOptions, StateStore};

const COMMITS: u64 = 300;
const KEYS_PER_COMMIT: u64 = 40;

fn block(v: u64) -> ChangeSet {
    let mut cs = ChangeSet::new();
    for i in 0..KEYS_PER_COMMIT {
        cs.put(
            format!("k{}", (v * 13 + i * 7) % 5000).into_bytes(),
            format!("v{v}-{i}").into_bytes(),
        );
    }
    cs
}

fn stats(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let median = d[d.len() / 2].as_secs_f64() * 1e3;
    let mean = d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len() as f64 * 1e3;
    (median, mean)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn sync_cost_per_commit() {
    let base = std::env::var_os("KEEL_SYNC_COST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into());
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(&base).unwrap();
    let mut plain = OpenOptions::new().open(dir.path().join("plain")).unwrap();
    let mut synced = OpenOptions::new()
        .sync(true)
        .open(dir.path().join("synced"))
        .unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for v in 1..=COMMITS {
        let cs = block(v);
        // Alternate which store goes first.
        let order: [bool; 2] = if v % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for sync in order {
            let t = Instant::now();
            if sync {
                synced.commit(&cs).unwrap();
                b.push(t.elapsed());
            } else {
                plain.commit(&cs).unwrap();
                a.push(t.elapsed());
            }
        }
    }
    // Same blocks, same roots: sync changes durability only.
    assert_eq!(plain.root(), synced.root());
    assert_eq!(plain.version(), COMMITS);
    let ((am, aa), (bm, ba)) = (stats(a), stats(b));
    println!(
        "commit of {KEYS_PER_COMMIT} keys, {COMMITS} commits each, interleaved, in {}:",
        base.display()
    );
    println!("  sync off: median {am:.3} ms, mean {aa:.3} ms");
    println!("  sync on:  median {bm:.3} ms, mean {ba:.3} ms");
    println!(
        "  sync costs {:.3} ms per commit (median), {:.1}x",
        bm - am,
        bm / am
    );
}
