//! Runs the built `keel` binary as a user would: every command, and the error cases.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn keel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run keel")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run failed cleanly: the given exit code, a one-line `error:` message containing
/// `needle`, and no panic or backtrace.
#[track_caller]
fn assert_clean_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    assert!(err.contains("error"), "no error message: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(!err.contains("backtrace"), "backtrace: {err}");
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).expect("valid JSON on stdout")
}

/// Deploys the token with `supply` and returns its address (hex).
fn deploy_token(dir: &Path, supply: u128) -> String {
    let v = json(&keel(dir, &["--json", "deploy", "example:token"]));
    let token = v["address"].as_str().unwrap().to_string();
    let supply = format!("u128:{supply}");
    ok(&keel(
        dir,
        &["call", &token, "mint", "addr:@alice", &supply],
    ));
    token
}

#[test]
fn check_accepts_examples_and_lists_methods() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("token.wasm");
    std::fs::write(&wasm, keel_contracts::TOKEN).unwrap();
    let out = ok(&keel(tmp.path(), &["check", wasm.to_str().unwrap()]));
    assert!(out.contains("valid"), "{out}");
    assert!(out.contains("transfer"), "{out}");
    let v = json(&keel(tmp.path(), &["--json", "check", "example:counter"]));
    assert_eq!(v["valid"], true);
}

#[test]
fn check_rejects_garbage_and_lists_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.wasm");
    std::fs::write(&bad, b"this is not wasm").unwrap();
    let o = keel(tmp.path(), &["check", bad.to_str().unwrap()]);
    assert_clean_error(&o, 4, "not a valid Keel contract");
    assert!(stdout(&o).contains("rejected"), "{}", stdout(&o));

    // Several problems at once: a float instruction, a start function, no memory export.
    let multi = wat::parse_str(
        r#"(module
             (func $s)
             (start $s)
             (func (export "m") (drop (f32.add (f32.const 1) (f32.const 2)))))"#,
    )
    .unwrap();
    let f = tmp.path().join("multi.wasm");
    std::fs::write(&f, multi).unwrap();
    let o = keel(tmp.path(), &["--json", "check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], false);
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems.len() >= 2,
        "expected several problems: {problems:?}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = keel(tmp.path(), &["check", "/nonexistent/x.wasm"]);
    assert_clean_error(&o, 1, "cannot read /nonexistent/x.wasm");
    let o = keel(tmp.path(), &["deploy", "/nonexistent/x.wasm"]);
    assert_clean_error(&o, 1, "cannot read");
    let o = keel(tmp.path(), &["run", "/nonexistent/block.json"]);
    assert_clean_error(&o, 1, "cannot read");
    let o = keel(tmp.path(), &["deploy", "example:nope"]);
    assert_clean_error(&o, 1, "no example contract named");
}

#[test]
fn deploying_invalid_wasm_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm garbage").unwrap();
    let o = keel(&tmp.path().join("data"), &["deploy", bad.to_str().unwrap()]);
    assert_clean_error(&o, 3, "deploy did not succeed");
}

#[test]
fn deploy_call_query_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = deploy_token(&dir, 1_000);

    // A transfer from alice to bob, committed.
    let out = ok(&keel(
        &dir,
        &["call", &token, "transfer", "addr:@bob", "u128:250"],
    ));
    assert!(out.contains("success"), "{out}");
    assert!(out.contains("gas used"), "{out}");

    // Query is read-only: the root does not move.
    let root_before = json(&keel(&dir, &["--json", "state", "root"]))["root"].clone();
    let v = json(&keel(
        &dir,
        &[
            "--json",
            "query",
            &token,
            "balance_of",
            "addr:@bob",
            "--decode",
            "u128",
        ],
    ));
    assert_eq!(v["receipts"][0]["decoded"], "250");
    assert_eq!(v["committed"], false);
    let root_after = json(&keel(&dir, &["--json", "state", "root"]))["root"].clone();
    assert_eq!(root_before, root_after);

    // The human form of query decodes too.
    let out = ok(&keel(
        &dir,
        &[
            "--sender",
            "bob",
            "query",
            &token,
            "balance_of",
            "addr:@alice",
            "--decode",
            "u128",
        ],
    ));
    assert!(out.contains("750"), "{out}");

    // A transfer bob cannot afford reverts: exit 3, the receipt is printed.
    let o = keel(
        &dir,
        &[
            "--sender",
            "@bob",
            "call",
            &token,
            "transfer",
            "addr:@carol",
            "u128:1000000",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).contains("reverted"), "{}", stdout(&o));

    // Raw state: the contract info exists; prove and verify it.
    let info_key = format!("0x02{}", &token[2..]);
    let v = json(&keel(&dir, &["--json", "state", "get", &info_key]));
    assert!(v["value"].is_string());
    let p = json(&keel(&dir, &["--json", "state", "prove", &info_key]));
    assert_eq!(p["verified"], true);
    let (root, proof, value) = (
        p["root"].as_str().unwrap(),
        p["proof"].as_str().unwrap(),
        p["value"].as_str().unwrap(),
    );
    let out = ok(&keel(
        &dir,
        &[
            "state", "verify", &info_key, "--root", root, "--proof", proof, "--value", value,
        ],
    ));
    assert!(out.contains("valid"), "{out}");
    // A wrong value does not verify.
    let o = keel(
        &dir,
        &[
            "state", "verify", &info_key, "--root", root, "--proof", proof, "--value", "0x00",
        ],
    );
    assert_clean_error(&o, 1, "does not verify");
    // An absent key proves absent.
    let p = json(&keel(
        &dir,
        &[
            "--json",
            "state",
            "prove",
            "--contract",
            &token,
            "text:nope",
        ],
    ));
    assert_eq!(p["value"], Value::Null);
    assert_eq!(p["verified"], true);
}

#[test]
fn unknown_method_and_bad_args_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = deploy_token(&dir, 10);
    let o = keel(&dir, &["call", &token, "no_such_method"]);
    assert_clean_error(&o, 1, "has no method \"no_such_method\"");
    assert!(
        stderr(&o).contains("transfer"),
        "lists the methods: {}",
        stderr(&o)
    );
    let o = keel(&dir, &["call", &token, "transfer", "addr:@bob", "u8:300"]);
    assert_clean_error(&o, 1, "argument 2");
    // Without TYPE: prefixes the words are typed by the contract's metadata.
    let o = keel(&dir, &["call", &token, "transfer", "bob"]);
    assert_clean_error(&o, 1, "takes 2 argument(s), got 1");
    let o = keel(&dir, &["call", "0x1234", "transfer"]);
    assert_clean_error(&o, 1, "32 bytes");
    let missing = format!("0x{}", "00".repeat(32));
    let o = keel(&dir, &["call", &missing, "transfer"]);
    assert_clean_error(&o, 1, "no contract at");
    let o = keel(&dir, &["--sender", "0xzz", "call", &token, "transfer"]);
    assert_clean_error(&o, 1, "--sender");
}

#[test]
fn run_applies_a_block_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = deploy_token(&dir, 1_000);
    let block = tmp.path().join("block.json");
    std::fs::write(
        &block,
        format!(
            r#"{{"transactions": [
              {{"sender": "@alice", "action": {{"call": {{"contract": "{token}", "method": "transfer", "args": ["addr:@bob", "u128:10"]}}}}}},
              {{"sender": "@alice", "action": {{"call": {{"contract": "token", "method": "transfer", "args": ["addr:@carol", "u128:20"]}}}}}},
              {{"sender": "@bob", "action": {{"call": {{"contract": "{token}", "method": "transfer", "args": ["addr:@carol", "u128:5000"]}}}}}},
              {{"sender": "@bob", "nonce": 9, "action": {{"call": {{"contract": "{token}", "method": "transfer", "args": ["addr:@carol", "u128:1"]}}}}}},
              {{"sender": "@bob", "action": {{"call": {{"contract": "{token}", "method": "transfer", "args": ["addr:@carol", "u128:2"]}}}}}}
            ]}}"#
        ),
    )
    .unwrap();
    let v = json(&keel(&dir, &["--json", "run", block.to_str().unwrap()]));
    let receipts = v["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 5);
    assert_eq!(receipts[0]["status"], "success");
    assert_eq!(receipts[1]["status"], "success");
    assert_eq!(receipts[2]["status"], "reverted");
    // A wrong explicit nonce is invalid and does not disturb the next automatic one.
    assert_eq!(receipts[3]["status"], "invalid");
    assert!(
        receipts[3]["message"]
            .as_str()
            .unwrap()
            .contains("BadNonce")
    );
    assert_eq!(receipts[4]["status"], "success", "{v}");
    assert!(v["root"].as_str().unwrap().starts_with("0x"));
    let v = json(&keel(
        &dir,
        &[
            "--json",
            "query",
            &token,
            "balance_of",
            "addr:@carol",
            "--decode",
            "u128",
        ],
    ));
    assert_eq!(v["receipts"][0]["decoded"], "22");

    // A malformed block file is an error naming the problem.
    std::fs::write(&block, r#"{"transactions": [{"sender": "@a"}]}"#).unwrap();
    let o = keel(&dir, &["run", block.to_str().unwrap()]);
    assert_clean_error(&o, 1, "invalid block file");
}

#[test]
fn the_clock_never_goes_backwards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let block = tmp.path().join("block.json");
    let run = |text: &str, extra: &[&str]| {
        std::fs::write(&block, text).unwrap();
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["run", block.to_str().unwrap()]);
        keel(&dir, &args)
    };
    // An explicit timestamp far ahead of `height × 1000`.
    let v = json(&run(r#"{"timestamp": 5000000, "transactions": []}"#, &[]));
    assert_eq!(v["timestamp"], 5_000_000, "{v}");
    // The next command's default clock starts after it (it used to restart at height × 1000).
    let v = json(&run(r#"{"transactions": []}"#, &[]));
    assert_eq!(v["timestamp"], 5_001_000, "{v}");
    // An explicit height whose `height × 1000` is in the past keeps the later clock.
    let v = json(&run(r#"{"height": 40, "transactions": []}"#, &[]));
    assert_eq!(v["height"], 40, "{v}");
    assert_eq!(v["timestamp"], 5_002_000, "{v}");
    // A timestamp before the last block's is refused, from --timestamp or the block file,
    // and nothing is committed.
    let root = json(&keel(&dir, &["--json", "state", "root"]));
    let o = run(r#"{"transactions": []}"#, &["--timestamp", "1000"]);
    assert_clean_error(&o, 1, "never goes backwards");
    let o = run(r#"{"timestamp": 4999999, "transactions": []}"#, &[]);
    assert_clean_error(&o, 1, "never goes backwards");
    assert_eq!(json(&keel(&dir, &["--json", "state", "root"])), root);
    // --timestamp at or after it is taken.
    let v = json(&run(r#"{"transactions": []}"#, &["--timestamp", "9000000"]));
    assert_eq!(v["timestamp"], 9_000_000, "{v}");
}

#[test]
fn locked_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // Hold the store open in this process, as a running node would.
    let _held = keel_state::Store::open(&dir).unwrap();
    let o = keel(&dir, &["state", "root"]);
    assert_clean_error(&o, 1, "locked");
}

#[test]
fn corrupt_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["CURRENT", "MANIFEST-000001", "IDENTITY", "keel-cli.json"] {
        std::fs::write(dir.join(f), b"\x00garbage\xff\xfe not a database").unwrap();
    }
    let o = keel(&dir, &["state", "root"]);
    assert_clean_error(&o, 1, &dir.display().to_string());

    // A data dir that is a file.
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = keel(&file, &["state", "root"]);
    assert_clean_error(&o, 1, "not a directory");

    // Garbage only in the CLI's metadata file.
    let dir2 = tmp.path().join("data2");
    ok(&keel(&dir2, &["state", "root"]));
    let _ = deploy_token(&dir2, 1);
    std::fs::write(dir2.join("keel-cli.json"), b"{ not json").unwrap();
    let o = keel(&dir2, &["state", "root"]);
    assert_clean_error(&o, 1, "corrupt");
}

#[test]
fn state_persists_between_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let v0 = json(&keel(&dir, &["--json", "state", "root"]));
    assert_eq!(v0["version"], 0);
    let token = deploy_token(&dir, 5);
    let v1 = json(&keel(&dir, &["--json", "state", "root"]));
    assert_eq!(v1["version"], 3, "deploy is two blocks, mint one");
    assert_ne!(v0["root"], v1["root"]);
    // The contract's name is remembered for later output.
    let out = ok(&keel(
        &dir,
        &["call", &token, "transfer", "addr:@bob", "u128:1"],
    ));
    assert!(out.contains("token.transfer"), "{out}");
}

#[test]
fn examples_lists_the_builtin_contracts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&keel(tmp.path(), &["examples"]));
    assert!(out.lines().any(|l| l == "token"), "{out}");
}

/// The README's first command, with small parameters: roots printed, the transaction count
/// right, nothing failed.
#[test]
fn readme_demo_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".keel-demo");
    let out = ok(&keel(
        &dir,
        &["demo", "--blocks", "3", "--txs", "25", "--accounts", "7"],
    ));
    assert!(out.contains("deployed token at 0x"), "{out}");
    // It says which build and store the throughput comes from (same package, same profile as
    // this test, so the same debug-assertion setting).
    let build = out.lines().find(|l| l.starts_with("build: ")).unwrap_or("");
    let assertions = if cfg!(debug_assertions) { "on" } else { "off" };
    assert!(build.contains(" profile, opt-level "), "{out}");
    assert!(
        build.contains(&format!(
            "debug assertions {assertions} (wasmi: off); store: RocksDB Store"
        )),
        "{out}"
    );
    let block_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("block ")).collect();
    assert_eq!(block_lines.len(), 3, "{out}");
    assert!(
        block_lines
            .iter()
            .all(|l| l.contains("root 0x") && l.contains("25 txs"))
    );
    assert!(out.contains("total: 75 transfers (0 failed)"), "{out}");
    assert!(out.contains("tx/s"), "{out}");
    assert!(out.contains("final root: 0x"), "{out}");

    // Deterministic: the same demo on a fresh dir gives the same final root.
    let again = tmp.path().join("again");
    let v1 = json(&keel(
        &again,
        &[
            "--json",
            "demo",
            "--blocks",
            "3",
            "--txs",
            "25",
            "--accounts",
            "7",
        ],
    ));
    let root_line = out.lines().find(|l| l.starts_with("final root: ")).unwrap();
    assert!(
        root_line.contains(v1["root"].as_str().unwrap()),
        "{root_line} vs {}",
        v1["root"]
    );
    assert_eq!(v1["total_txs"], 75);
    assert!(v1["build"].as_str().unwrap().contains("opt-level"), "{v1}");
    assert!(v1["store"].as_str().unwrap().starts_with("RocksDB"), "{v1}");
}

/// The README's quick start, step 3: check, deploy a wasm file, call and query it by name,
/// read and prove its storage.
#[test]
fn readme_quick_start_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".keel");
    let wasm = tmp.path().join("counter.wasm");
    std::fs::write(&wasm, keel_contracts::COUNTER).unwrap();
    let wasm = wasm.to_str().unwrap();

    let out = ok(&keel(&dir, &["check", wasm]));
    assert!(out.contains("methods:       get, increment"), "{out}");
    let out = ok(&keel(&dir, &["deploy", wasm]));
    assert!(out.contains("address:   0x"), "{out}");
    let out = ok(&keel(
        &dir,
        &["call", "counter", "increment", "--decode", "u64"],
    ));
    assert!(out.contains("decoded:     1"), "{out}");
    let out = ok(&keel(
        &dir,
        &[
            "--sender",
            "bob",
            "call",
            "counter",
            "increment",
            "--decode",
            "u64",
        ],
    ));
    assert!(out.contains("decoded:     2"), "{out}");
    let out = ok(&keel(&dir, &["query", "counter", "get", "--decode", "u64"]));
    assert!(out.contains("decoded:     2"), "{out}");
    let out = ok(&keel(
        &dir,
        &[
            "state",
            "get",
            "--contract",
            "counter",
            "text:c",
            "--decode",
            "u64",
        ],
    ));
    assert!(out.contains("decoded: 2"), "{out}");
    let out = ok(&keel(
        &dir,
        &["state", "prove", "--contract", "counter", "text:c"],
    ));
    assert!(out.contains("verified against the root: yes"), "{out}");
    // An unknown name lists the known ones.
    let o = keel(&dir, &["call", "nosuch", "get"]);
    assert_clean_error(&o, 1, "names deployed here: counter");
}

/// A full disk: a clear message, no panic. Needs a small filesystem, so it mounts a 512 KiB
/// tmpfs; where that is not permitted (not root, no mount privilege) it says so and returns.
#[test]
fn full_disk_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("full_disk_is_a_clear_error: skipped, cannot mount a tmpfs here");
        return;
    }
    let dir = mnt.join("data");
    let o = keel(
        &dir,
        &[
            "demo",
            "--blocks",
            "200",
            "--txs",
            "500",
            "--accounts",
            "100",
        ],
    );
    let _ = Command::new("umount").arg(&mnt).output();
    assert_clean_error(&o, 1, "is full");
}

/// With `--json`, errors are JSON on stderr too, and stdout stays empty.
#[test]
fn json_errors_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let o = keel(tmp.path(), &["--json", "check", "/nonexistent.wasm"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let v: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("cannot read"));
    assert_eq!(v["exit_code"], 1);
}

#[test]
fn bench_runs_the_quick_suite_and_leaves_the_data_dir_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("untouched");
    let v = json(&keel(&dir, &["--json", "bench"]));
    let rows = v.as_array().expect("an array of measurements");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    for wanted in [
        "token transfer, MemStore",
        "token transfer, RocksDB",
        "proof verification",
    ] {
        assert!(
            names.iter().any(|n| n.contains(wanted)),
            "no {wanted:?} in {names:?}"
        );
    }
    for r in rows {
        assert!(r["ns_per_op"].as_u64().unwrap() > 0, "{r}");
        assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        if !r["peer"].is_null() {
            assert!(r["ratio"].as_f64().unwrap() > 0.0, "{r}");
        }
    }
    assert!(
        rows.iter().any(|r| !r["peer"].is_null()),
        "no figure measured against a peer"
    );
    assert!(!dir.exists(), "keel bench created the data dir");
}

#[test]
fn profile_writes_a_flamegraph_whose_total_is_the_production_gas() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = deploy_token(&dir, 1_000);
    let svg = tmp.path().join("transfer.svg");
    let folded = tmp.path().join("transfer.folded");
    let root_before = json(&keel(&dir, &["--json", "state", "root"]))["root"].clone();
    let v = json(&keel(
        &dir,
        &[
            "--json",
            "profile",
            &token,
            "transfer",
            "addr:@bob",
            "u128:250",
            "--svg",
            svg.to_str().unwrap(),
            "--folded",
            folded.to_str().unwrap(),
        ],
    ));
    // The same gas as a plain read-only run of the same call.
    let q = json(&keel(
        &dir,
        &[
            "--json",
            "query",
            &token,
            "transfer",
            "addr:@bob",
            "u128:250",
        ],
    ));
    let gas = q["receipts"][0]["gas_used"].as_u64().unwrap();
    assert_eq!(v["gas_used"].as_u64(), Some(gas), "{v}\n{q}");
    // The stacks add up to it, in the JSON and in the folded file.
    let stacks = v["stacks"].as_array().unwrap();
    let sum: u64 = stacks.iter().map(|s| s["gas"].as_u64().unwrap()).sum();
    assert_eq!(sum, gas);
    let text = std::fs::read_to_string(&folded).unwrap();
    let sum: u64 = text
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, gas, "{text}");
    assert!(text.contains(";keel::storage_set "), "{text}");
    let image = std::fs::read_to_string(&svg).unwrap();
    assert!(image.starts_with("<?xml") && image.contains("keel::storage_set"));
    // Read-only: nothing committed.
    assert_eq!(
        json(&keel(&dir, &["--json", "state", "root"]))["root"],
        root_before
    );
    // The human form names the functions by their own gas.
    let out = ok(&keel(
        &dir,
        &[
            "profile",
            &token,
            "transfer",
            "addr:@bob",
            "u128:1",
            "--svg",
            svg.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("profiled exactly"), "{out}");
    assert!(out.contains("keel::storage_set"), "{out}");
    // A call that reverts is profiled, and the command says it did not succeed.
    let o = keel(
        &dir,
        &[
            "--sender",
            "carol",
            "profile",
            &token,
            "transfer",
            "addr:@bob",
            "u128:5",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert_clean_error(&o, 3, "did not succeed");
    // An unknown method is a clear error, before anything runs.
    let o = keel(
        &dir,
        &[
            "profile",
            &token,
            "no_such_method",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert_clean_error(&o, 1, "no_such_method");
}
