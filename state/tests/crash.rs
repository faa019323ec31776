//! Crash test: a child process (this test binary, re-invoked with an env var) commits
//! deterministic blocks in a loop and prints each acknowledged version; the parent kills it
//! with SIGKILL at random moments, reopens the store and checks that the latest version is
//! whole, matches the expected root and contents, and is not older than the last
//! acknowledged one, and that the metadata committed with each block is there exactly for
//! the versions that are.
#![cfg(feature = "rocksdb")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use keel_state::{ChangeSet, StateStore, Store, Version, reference};
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "KEEL_STATE_CRASH_CHILD_DIR";
const ROUNDS: usize = 25;

/// The deterministic block committed as `version`.
fn block(v: Version) -> ChangeSet {
    let mut cs = ChangeSet::new();
    for i in 0..40u64 {
        let k = format!("k{}", (v * 13 + i * 7) % 1500).into_bytes();
        cs.put(
            k,
            format!("v{v}-{i}-{}", "x".repeat((i % 9) as usize)).into_bytes(),
        );
    }
    for i in 0..6u64 {
        cs.delete(format!("k{}", (v * 31 + i * 101) % 1500).into_bytes());
    }
    cs
}

/// The metadata entry committed with block `v`.
fn block_meta(v: Version) -> (Vec<u8>, Vec<u8>) {
    (
        format!("block/{v:08}").into_bytes(),
        v.to_be_bytes().to_vec(),
    )
}

fn child(dir: &str) {
    let mut store = Store::open(dir).unwrap();
    let mut out = std::io::stdout().lock();
    for _ in 0..1_000_000 {
        let v = store.version() + 1;
        // Metadata in the same batch as the block: after a kill both are there or neither.
        let (got, _) = store
            .commit_with_metadata(&block(v), &[block_meta(v)])
            .unwrap();
        assert_eq!(got, v);
        writeln!(out, "ACK {got}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_recovery() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6b65656c);
    // The model, advanced lazily: versions only grow.
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut model_version: Version = 0;
    let mut last_ack: Version = 0;
    let mut killed_mid_run = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "crash_recovery",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first rounds kill very early, during the store's creation or first commits.
        let delay = if round < 4 {
            rng.random_range(0..30)
        } else {
            rng.random_range(40..400)
        };
        std::thread::sleep(Duration::from_millis(delay));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        if still_running {
            killed_mid_run += 1;
        }
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        for line in out.lines() {
            if let Some(v) = line
                .strip_prefix("ACK ")
                .and_then(|s| s.parse::<Version>().ok())
            {
                last_ack = last_ack.max(v);
            }
        }

        // A kill never makes the store look rolled back: the acknowledgement file is written
        // after the WAL.
        let store = Store::open(&data).unwrap();
        let v = store.version();
        let metas = store.metadata_prefix(b"block/").unwrap();
        let want: Vec<_> = (1..=v).map(block_meta).collect();
        assert_eq!(metas, want, "round {round}: metadata of versions 1..={v}");
        assert!(
            v >= last_ack,
            "round {round}: reopened at {v}, but {last_ack} was acknowledged"
        );
        assert!(v >= model_version, "round {round}: version went backwards");
        while model_version < v {
            model_version += 1;
            for (k, val) in block(model_version).iter() {
                match val {
                    Some(val) => {
                        model.insert(k.to_vec(), val.to_vec());
                    }
                    None => {
                        model.remove(k);
                    }
                }
            }
        }
        let expected = reference::root(&model);
        assert_eq!(store.root(), expected, "round {round}: root of version {v}");
        assert_eq!(store.root_at(v).unwrap(), expected);
        let all: Vec<(Vec<u8>, Vec<u8>)> = store
            .scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(all, want, "round {round}: contents of version {v}");
        for k in ["k0", "k7", "k1499", "absent"] {
            let value = model.get(k.as_bytes()).map(Vec::as_slice);
            store
                .prove(k.as_bytes(), v)
                .unwrap()
                .verify(&expected, k.as_bytes(), value)
                .unwrap();
        }
    }
    println!(
        "crash test: {ROUNDS} rounds, {killed_mid_run} killed mid-run, last ack {last_ack}, reached version {model_version}"
    );
    assert!(
        last_ack >= 20,
        "the child made too little progress ({last_ack} versions) for the test to mean much"
    );
    assert!(
        killed_mid_run >= ROUNDS / 2,
        "the child was rarely killed mid-run"
    );
}
