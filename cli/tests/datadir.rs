//! The data dir as an operator meets it, through the built `keel` binary: concurrent first
//! use, names that survive a kill, damage and rollbacks, `keel state check`, `--sync`, and a
//! closed stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keel_state::{StateRead, Store};
use serde_json::Value;

fn keel_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keel"));
    c.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE");
    c
}

fn keel(dir: &Path, args: &[&str]) -> Output {
    keel_cmd(dir, args).output().expect("run keel")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).expect("valid JSON on stdout")
}

#[track_caller]
fn assert_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    let tmp = tempfile::tempdir().unwrap();
    // A pipe whose reader is gone before keel writes: every write fails with EPIPE.
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let o = keel_cmd(tmp.path(), &["check", "example:token"])
        .stdout(closed())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(141), "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");

    // Any other write failure is an error, not a quiet exit.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let o = keel_cmd(tmp.path(), &["check", "example:token"])
            .stdout(full)
            .output()
            .unwrap();
        assert_error(&o, 1, &["cannot write the output"]);
    }

    // A long command stops at the first output it cannot write.
    let dir = tmp.path().join("demo");
    let o = keel_cmd(
        &dir,
        &["demo", "--blocks", "400", "--txs", "5", "--accounts", "5"],
    )
    .stdout(closed())
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(141), "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let v = json(&keel(&dir, &["--json", "state", "root"]));
    assert!(v["version"].as_u64().unwrap() < 400, "the demo ran on: {v}");

    // As an operator types it: `keel check example:token | head -1`.
    let script = format!(
        "{} --data-dir {} check example:token | head -1; echo \"status ${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_keel"),
        tmp.path().display()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("example:token: valid"), "{out}");
    let status = out.lines().last().unwrap();
    // 0 if keel wrote everything before head exited, 141 if it met the closed pipe.
    assert!(status == "status 0" || status == "status 141", "{out}");
    assert_eq!(stderr(&o), "");
}

#[test]
fn concurrent_first_use_always_leaves_a_usable_dir() {
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..8 {
        let dir = tmp.path().join(format!("data{round}"));
        let children: Vec<_> = (0..3)
            .map(|_| {
                keel_cmd(&dir, &["--json", "state", "root"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            if !o.status.success() {
                // Another keel holds the new store: the ordinary answer.
                assert_error(&o, 1, &["locked"]);
            }
        }
        let v = json(&keel(&dir, &["--json", "state", "root"]));
        assert_eq!(v["version"], 0, "round {round}");
    }
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("data"))
        .collect();
    assert!(names.is_empty(), "left beside the data dirs: {names:?}");
}

/// Every contract instantiated in `dir` has its name in the store's metadata.
fn assert_every_contract_named(dir: &Path, what: &str) -> usize {
    let store = Store::open(dir).unwrap();
    let mut contracts = 0;
    let mut lower = std::ops::Bound::Included(vec![0x02]);
    while let Some((k, _)) = store
        .next_entry(
            lower.as_ref().map(Vec::as_slice),
            std::ops::Bound::Excluded(&[0x03][..]),
        )
        .unwrap()
    {
        let mut meta = b"keel-cli/contract/".to_vec();
        meta.extend_from_slice(&k[1..]);
        assert_eq!(
            store.metadata(&meta).unwrap().as_deref(),
            Some(&b"tok"[..]),
            "{what}: contract {k:?} has no name"
        );
        contracts += 1;
        lower = std::ops::Bound::Excluded(k);
    }
    contracts
}

#[test]
fn a_kill_during_deploy_never_loses_the_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&keel(&dir, &["state", "root"]));
    // How long a deploy takes here, to spread the kills over its life: open, upload block,
    // instantiate block, output.
    let t = std::time::Instant::now();
    ok(&keel(&dir, &["deploy", "example:token", "--name", "tok"]));
    let life = t.elapsed();
    // Timing varies with the load: the test only needs some of the kills to land mid-run.
    const ROUNDS: u32 = 16;
    const WANT_KILLED: u32 = 4;
    let mut named = 0;
    let mut killed = 0;
    for round in 0..ROUNDS {
        let mut child = keel_cmd(&dir, &["deploy", "example:token", "--name", "tok"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(life * round / ROUNDS);
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        named = assert_every_contract_named(&dir, &format!("round {round}"));
    }
    // Whatever was deployed resolves by name, and the data dir checks clean.
    if named > 0 {
        ok(&keel(
            &dir,
            &["query", "tok", "total_supply", "--decode", "u128"],
        ));
    }
    ok(&keel(&dir, &["state", "check"]));
    assert!(!dir.join("keel-cli.json").exists());
    println!("{killed} of {ROUNDS} deploys killed mid-run, {named} contracts deployed and named");
    assert!(
        killed >= WANT_KILLED,
        "only {killed} deploys were killed mid-run"
    );
}

#[test]
fn names_of_an_older_keel_are_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&keel(&dir, &["state", "root"]));
    let addr = format!("0x{}", "11".repeat(32));
    let legacy = serde_json::json!({
        "format": 1,
        "contracts": { &addr: "old" },
        "codes": {},
        "latest": { "old": &addr },
    });
    std::fs::write(dir.join("keel-cli.json"), legacy.to_string()).unwrap();
    let v = json(&keel(
        &dir,
        &["--json", "state", "get", "--contract", "old", "text:k"],
    ));
    assert!(
        v["key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("0x04{}", "11".repeat(32))),
        "{v}"
    );
    assert!(!dir.join("keel-cli.json").exists());
    // Still there on the next run, from the store.
    ok(&keel(
        &dir,
        &["state", "get", "--contract", "old", "text:k"],
    ));
}

#[test]
fn sync_is_an_option_with_a_checked_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    for mode in ["on", "off", "true", "false"] {
        ok(&keel(&dir, &["--sync", mode, "deploy", "example:counter"]));
    }
    let o = keel(&dir, &["--sync", "sometimes", "state", "root"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v = json(&keel(&dir, &["--json", "state", "root"]));
    assert_eq!(v["version"], 8);
}

#[test]
fn a_damaged_wal_is_a_reported_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&keel(&dir, &["deploy", "example:counter"]));
    let v = json(&keel(&dir, &["--json", "call", "counter", "increment"]));
    assert_eq!(v["version"], 3);
    // Version 3 is only in the WAL (each open flushes the WAL before it into table files,
    // so no command may open the dir in between). Cut it.
    let wal = files(&dir, ".log").pop().unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let o = keel(&dir, &["state", "root"]);
    assert_error(
        &o,
        5,
        &["but version 3 was acknowledged", "--accept-rollback"],
    );
    // The operator accepts, and is told where the chain continues.
    let o = keel(&dir, &["--accept-rollback", "--json", "state", "root"]);
    let v: Value = serde_json::from_str(&ok(&o)).unwrap();
    let found = v["version"].as_u64().unwrap();
    assert!(found < 3);
    assert!(stderr(&o).contains("rolled back"), "{}", stderr(&o));
    // From then on it is an ordinary data dir.
    let v = json(&keel(&dir, &["--json", "state", "root"]));
    assert_eq!(v["version"].as_u64(), Some(found));
}

#[test]
fn damage_is_named_and_never_called_foreign() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    ok(&keel(&base, &["deploy", "example:counter"]));
    ok(&keel(&base, &["state", "root"]));
    let copy = |n: &str| {
        let to = tmp.path().join(n);
        std::fs::create_dir(&to).unwrap();
        for e in std::fs::read_dir(&base).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "LOCK" {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        to
    };
    // The case: a truncated MANIFEST.
    let d = copy("manifest");
    let m = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("MANIFEST-")
        })
        .unwrap();
    let len = std::fs::metadata(&m).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&m)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let o = keel(&d, &["state", "root"]);
    assert_error(
        &o,
        1,
        &["is damaged (MANIFEST)", "restore it from a backup"],
    );
    assert!(!stderr(&o).contains("empty directory"), "{}", stderr(&o));
    // CURRENT emptied.
    let d = copy("current");
    std::fs::write(d.join("CURRENT"), b"").unwrap();
    assert_error(
        &keel(&d, &["state", "root"]),
        1,
        &["is damaged (CURRENT file)"],
    );
    // A table file flipped in its middle.
    let d = copy("sst");
    for sst in files(&d, ".sst") {
        let mut b = std::fs::read(&sst).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0xff;
        std::fs::write(&sst, b).unwrap();
    }
    let o = keel(&d, &["state", "check"]);
    assert_error(&o, 1, &["is damaged"]);
}

#[test]
fn state_check_walks_everything_and_finds_what_open_misses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&keel(
        &dir,
        &["demo", "--blocks", "1", "--txs", "10", "--accounts", "300"],
    ));
    let v = json(&keel(&dir, &["--json", "state", "check"]));
    assert_eq!(v["ok"], true);
    let entries = v["entries"].as_u64().unwrap();
    assert!(entries > 300, "{v}");
    let human = ok(&keel(&dir, &["state", "check"]));
    assert!(human.starts_with("ok: version "), "{human}");
    // Delete one latest entry in the middle, behind the store's back.
    {
        let db = rocksdb::DB::open_cf(
            &rocksdb::Options::default(),
            &dir,
            ["nodes", "values", "latest", "stale", "meta"],
        )
        .unwrap();
        let cf = db.cf_handle("latest").unwrap();
        let keys: Vec<Box<[u8]>> = db
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .map(|r| r.unwrap().0)
            .collect();
        db.delete_cf(cf, &keys[keys.len() / 2 + 7]).unwrap();
    }
    let o = keel(&dir, &["state", "check"]);
    assert_error(&o, 1, &["is damaged (latest values)"]);
}
