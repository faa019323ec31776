//! The state scaling run (issue 13): one RocksDB `Store` and one raw RocksDB (the peer,
//! `keel_benches::raw::RawDb`) grown side by side to each `--sizes` entry, and at each size:
//!
//! - fill time (cumulative, 20k-key commits; both stores get the same pairs),
//! - Merkle commits of 1,000 and 10,000 updates of existing keys against a raw `WriteBatch`
//!   of the same pairs, interleaved (one of each per round, which goes first alternating),
//!   median wall time per update, and the calling thread's CPU time per update over all
//!   rounds (`/proc/thread-self/schedstat`, which excludes RocksDB's background threads and
//!   is updated at scheduler ticks, so only its total over many rounds is meaningful),
//! - 1,000-transfer token blocks (execution and commit), median tx/s in wall time and tx per
//!   second of the calling thread's CPU time; then the same number of blocks with a prune
//!   of all history after each (a node that keeps none), in tx per second of the calling
//!   thread's CPU and of the whole process's (RocksDB's flushes and compactions too),
//! - proofs of 20,000 random existing keys: generation rate (wall and thread CPU time), and
//!   the SCALE and compressed sizes of 2,000 of them,
//! - peak RSS (`VmHWM`) and disk bytes per key of both stores,
//! - the bytes of Keel's commit write batches per update (`Store::commit_bytes`).
//!
//! The store prunes all history after each fill chunk and each measured phase, as a node
//! keeping a short history would (the thread CPU time of the prune after the commit rounds is
//! reported per update, apart from the commit); the raw peer has no history.
//!
//! `keel-bench-scale --sizes 10000,100000,1000000 [--rounds 11] [--dir D] [--json FILE]
//! [--hold N] [--hold-updates U]` (one JSON object per size on stdout and in FILE; progress on
//! stderr). `--hold N` runs N more rounds of U-update commits (default 1,000; Keel and raw
//! alternating, untimed) after the last size's figures, between `hold start` and `hold end`
//! lines on stderr: a window to attach `perf` to. `--hold-updates 0` holds 1,000-transfer
//! token blocks instead, each followed by a prune of all history.
//!
//! The rebuild after a crash: `--exit-without-close 1` (with `--dir D`) ends the run with
//! `std::process::exit` instead of closing the stores, as a crash of the process would (the
//! group records written since their last flush are lost); then `keel-bench-scale --reopen
//! D` times `Store::open` of `D/keel`, prints the versions it rebuilt, and checks the whole
//! latest tree (`Store::check`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keel_benches::keel::{Chain, change_set, filler_key, filler_value, updates};
use keel_benches::peak_rss_kib;
use keel_benches::raw::RawDb;
use keel_state::{ChangeSet, StateStore, Store};
use parity_scale_codec::Encode;

struct Args {
    sizes: Vec<u64>,
    rounds: usize,
    dir: Option<PathBuf>,
    json: Option<PathBuf>,
    hold: usize,
    hold_updates: u64,
    exit_without_close: bool,
    reopen: Option<PathBuf>,
}

fn parse() -> Args {
    let mut a = Args {
        sizes: vec![10_000, 100_000, 1_000_000],
        rounds: 11,
        dir: None,
        json: None,
        hold: 0,
        hold_updates: 1_000,
        exit_without_close: false,
        reopen: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => {
                a.sizes = val
                    .split(',')
                    .map(|s| s.parse().expect("--sizes N,N,..."))
                    .collect()
            }
            "--rounds" => a.rounds = val.parse().expect("--rounds N"),
            "--dir" => a.dir = Some(val.into()),
            "--json" => a.json = Some(val.into()),
            "--hold" => a.hold = val.parse().expect("--hold N"),
            "--hold-updates" => a.hold_updates = val.parse().expect("--hold-updates U"),
            "--exit-without-close" => a.exit_without_close = val == "1",
            "--reopen" => a.reopen = Some(val.into()),
            other => panic!(
                "unknown flag {other} (--sizes, --rounds, --dir, --json, --hold, --hold-updates, \
                 --exit-without-close, --reopen)"
            ),
        }
    }
    a
}

/// CPU time of the calling thread so far (Linux), zero if unavailable.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// CPU time of the process's live threads so far (RocksDB's flush and compaction threads
/// too; the sum of Linux `/proc/self/task/*/schedstat`), zero if unavailable.
fn process_cpu() -> Duration {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| {
                    let path = t.ok()?.path().join("schedstat");
                    std::fs::read_to_string(path)
                        .ok()?
                        .split_whitespace()
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .sum::<u64>()
        })
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn prune_all(store: &mut Store) {
    let v = store.version();
    store.prune(v).expect("prune");
}

/// Interleaved Merkle commit vs raw write of the same `n` updates: (merkle wall, merkle cpu,
/// raw wall, raw cpu, then the CPU time of pruning all those versions) in ns per update:
/// wall times are medians, CPU times means.
fn commits(
    chain: &mut Chain<Store>,
    raw: &RawDb,
    keys: u64,
    n: u64,
    rounds: usize,
    round: &mut u64,
) -> [f64; 5] {
    let mut m = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for r in 0..rounds {
        *round += 1;
        let pairs = updates(keys, n, *round);
        let cs = change_set(&pairs);
        let mut sample = |which: usize, f: &mut dyn FnMut()| {
            let (w, c) = (Instant::now(), thread_cpu());
            f();
            m[which].push(w.elapsed().as_nanos() as f64 / n as f64);
            m[which + 1].push((thread_cpu() - c).as_nanos() as f64 / n as f64);
        };
        let mut keel = || {
            chain.store.commit(&cs).expect("commit");
        };
        let mut peer = || raw.write(&pairs);
        // Alternate which goes first, so neither always runs right after the other's writes.
        if r % 2 == 0 {
            sample(0, &mut keel);
            sample(2, &mut peer);
        } else {
            sample(2, &mut peer);
            sample(0, &mut keel);
        }
    }
    // The group records reach table files first (format 4 writes them without the WAL, and
    // a prune reclaims only what versions in table files stopped using), so that the prune
    // measured reclaims every version of the phase, as it did before.
    chain.store.flush().expect("flush");
    let cpu = thread_cpu();
    prune_all(&mut chain.store);
    let prune = (thread_cpu() - cpu).as_nanos() as f64 / (rounds as u64 * n) as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    [
        median(&mut m[0]),
        mean(&m[1]),
        median(&mut m[2]),
        mean(&m[3]),
        prune,
    ]
}

fn main() {
    let a = parse();
    if let Some(d) = &a.reopen {
        let (t, cpu) = (Instant::now(), thread_cpu());
        let store = Store::open(d.join("keel")).expect("reopen store");
        let (secs, cpu_secs) = (
            t.elapsed().as_secs_f64(),
            (thread_cpu() - cpu).as_secs_f64(),
        );
        // The whole latest tree and every latest value against the root.
        let report = store.check(&mut |_, _| {}).expect("check");
        println!(
            "{{\"reopen_secs\":{secs:.2},\"reopen_cpu_secs\":{cpu_secs:.2},\"rebuilt_versions\":{},\
             \"version\":{},\"checked_groups\":{},\"checked_records\":{},\"checked_entries\":{}}}",
            store.rebuilt_versions(),
            store.version(),
            report.groups,
            report.records,
            report.entries
        );
        return;
    }
    let tmp;
    let base = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().expect("temp dir");
            tmp.path().to_path_buf()
        }
    };
    let (keel_dir, raw_dir) = (base.join("keel"), base.join("raw"));
    let store = Store::open(&keel_dir).expect("open store");
    let raw = RawDb::open(&raw_dir);
    let mut chain = Chain::token(store);
    let warm = chain.transfers(1_000, 1_000);
    chain.block_ok(&warm);
    let mut json_out = String::new();
    let (mut filled, mut fill_secs, mut raw_fill_secs) = (0u64, 0f64, 0f64);
    let mut round = 1u64 << 40;
    for &keys in &a.sizes {
        // Grow both stores to `keys` filler keys, the same pairs in the same chunks.
        while filled < keys {
            let end = (filled + 20_000).min(keys);
            let pairs: Vec<_> = (filled..end)
                .map(|i| (filler_key(i), filler_value(i, 0)))
                .collect();
            let mut cs = ChangeSet::new();
            for (k, v) in &pairs {
                cs.put(k.clone(), v.clone());
            }
            let t = Instant::now();
            chain.store.commit(&cs).expect("fill commit");
            fill_secs += t.elapsed().as_secs_f64();
            let t = Instant::now();
            raw.write(&pairs);
            raw_fill_secs += t.elapsed().as_secs_f64();
            prune_all(&mut chain.store);
            filled = end;
        }
        // The fill's prunes reclaimed only what versions with flushed group records stopped
        // using (format 4): the backlog goes now, not in the first measured prune.
        chain.store.flush().expect("flush");
        prune_all(&mut chain.store);
        let load_start = load_avg();
        eprintln!("{keys} keys: filled; commits");
        let (b0, l0) = (chain.store.commit_bytes(), chain.store.commit_log_bytes());
        let c1k = commits(&mut chain, &raw, keys, 1_000, a.rounds, &mut round);
        let (b1, l1) = (chain.store.commit_bytes(), chain.store.commit_log_bytes());
        let rounds_10k = a.rounds.div_ceil(2).max(3);
        let c10k = commits(&mut chain, &raw, keys, 10_000, rounds_10k, &mut round);
        let bytes_1k = (b1 - b0) as f64 / (a.rounds as f64 * 1_000.0);
        let bytes_10k = (chain.store.commit_bytes() - b1) as f64 / (rounds_10k as f64 * 10_000.0);
        let log_1k = (l1 - l0) as f64 / (a.rounds as f64 * 1_000.0);
        let log_10k = (chain.store.commit_log_bytes() - l1) as f64 / (rounds_10k as f64 * 10_000.0);
        let mut tps = Vec::new();
        let blocks = a.rounds.div_ceil(2).max(3);
        let cpu = thread_cpu();
        for _ in 0..blocks {
            let txs = chain.transfers(1_000, 1_000);
            let t = Instant::now();
            chain.block_ok(&txs);
            tps.push(1_000.0 / t.elapsed().as_secs_f64());
        }
        let cpu_tps = (blocks * 1_000) as f64 / (thread_cpu() - cpu).as_secs_f64();
        prune_all(&mut chain.store);
        // As a node that keeps no history runs: a prune after every block. CPU of the calling
        // thread (blocks and prunes) and of the whole process (RocksDB's background threads
        // too).
        let (cpu, pcpu) = (thread_cpu(), process_cpu());
        for _ in 0..blocks {
            let txs = chain.transfers(1_000, 1_000);
            chain.block_ok(&txs);
            prune_all(&mut chain.store);
        }
        let pruned_cpu_tps = (blocks * 1_000) as f64 / (thread_cpu() - cpu).as_secs_f64();
        let pruned_process_tps = (blocks * 1_000) as f64 / (process_cpu() - pcpu).as_secs_f64();
        let tps = median(&mut tps);
        let version = chain.store.version();
        let n_proofs = 20_000u64;
        let proof_keys: Vec<Vec<u8>> = (0..n_proofs)
            .map(|j| filler_key(j.wrapping_mul(0x9e37_79b9) % keys))
            .collect();
        let (t, cpu) = (Instant::now(), thread_cpu());
        for k in &proof_keys {
            std::hint::black_box(chain.store.prove(k, version).expect("prove"));
        }
        let proof_secs = t.elapsed().as_secs_f64();
        let proof_cpu_secs = (thread_cpu() - cpu).as_secs_f64();
        let (mut plain, mut comp) = (Vec::new(), Vec::new());
        for k in proof_keys.iter().take(2_000) {
            let p = chain.store.prove(k, version).expect("prove");
            plain.push(p.encode().len());
            comp.push(p.compress().encode().len());
        }
        let stats = |s: &[usize]| {
            (
                s.iter().sum::<usize>() as f64 / s.len() as f64,
                s.iter().copied().max().unwrap_or(0),
            )
        };
        let ((pm, px), (cm, cx)) = (stats(&plain), stats(&comp));
        let (kb, rb) = (dir_bytes(&keel_dir), dir_bytes(&raw_dir));
        let line = format!(
            "{{\"keys\":{keys},\"fill_secs\":{fill_secs:.1},\"raw_fill_secs\":{raw_fill_secs:.1},\
             \"commit_1k_ns_per_update\":{:.0},\"commit_1k_cpu_ns\":{:.0},\
             \"raw_1k_ns_per_update\":{:.0},\"raw_1k_cpu_ns\":{:.0},\
             \"commit_1k_ratio\":{:.2},\"commit_1k_cpu_ratio\":{:.2},\"prune_1k_cpu_ns\":{:.0},\
             \"commit_10k_ns_per_update\":{:.0},\"commit_10k_cpu_ns\":{:.0},\
             \"raw_10k_ns_per_update\":{:.0},\"raw_10k_cpu_ns\":{:.0},\
             \"commit_10k_ratio\":{:.2},\"commit_10k_cpu_ratio\":{:.2},\"prune_10k_cpu_ns\":{:.0},\
             \"token_block1k_tx_per_s\":{tps:.0},\"token_block1k_cpu_tx_per_s\":{cpu_tps:.0},\
             \"token_block1k_pruned_cpu_tx_per_s\":{pruned_cpu_tps:.0},\
             \"token_block1k_pruned_process_cpu_tx_per_s\":{pruned_process_tps:.0},\
             \"proofs_per_s\":{:.0},\"proofs_per_cpu_s\":{:.0},\
             \"proof_mean_bytes\":{pm:.0},\"proof_max_bytes\":{px},\
             \"compressed_mean_bytes\":{cm:.0},\"compressed_max_bytes\":{cx},\
             \"peak_rss_mib\":{:.0},\"disk_bytes_per_key\":{:.0},\"raw_disk_bytes_per_key\":{:.0},\
             \"commit_1k_batch_bytes_per_update\":{bytes_1k:.0},\
             \"commit_10k_batch_bytes_per_update\":{bytes_10k:.0},\
             \"commit_1k_wal_bytes_per_update\":{log_1k:.0},\
             \"commit_10k_wal_bytes_per_update\":{log_10k:.0},\
             \"load_start\":\"{load_start}\",\"load_end\":\"{}\"}}",
            c1k[0],
            c1k[1],
            c1k[2],
            c1k[3],
            c1k[0] / c1k[2],
            c1k[1] / c1k[3],
            c1k[4],
            c10k[0],
            c10k[1],
            c10k[2],
            c10k[3],
            c10k[0] / c10k[2],
            c10k[1] / c10k[3],
            c10k[4],
            n_proofs as f64 / proof_secs,
            n_proofs as f64 / proof_cpu_secs,
            peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
            kb as f64 / keys as f64,
            rb as f64 / keys as f64,
            load_avg(),
        );
        println!("{line}");
        json_out.push_str(&line);
        json_out.push('\n');
        if let Some(p) = &a.json {
            std::fs::write(p, &json_out).expect("write json");
        }
    }
    if a.hold > 0 {
        eprintln!("hold start");
        let keys = filled;
        for _ in 0..a.hold {
            round += 1;
            if a.hold_updates == 0 {
                let txs = chain.transfers(1_000, 1_000);
                chain.block_ok(&txs);
                prune_all(&mut chain.store);
                continue;
            }
            let pairs = updates(keys, a.hold_updates, round);
            chain.store.commit(&change_set(&pairs)).expect("commit");
            raw.write(&pairs);
            if round.is_multiple_of(20) {
                prune_all(&mut chain.store);
            }
        }
        eprintln!("hold end");
    }
    if a.exit_without_close {
        std::process::exit(0);
    }
}
