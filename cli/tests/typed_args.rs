//! `keel call` with arguments typed by the contract's metadata, and results and errors decoded
//! by name.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

fn keel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--sync", "off"])
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run keel")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn plain_words_are_typed_by_the_metadata_and_results_are_decoded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dd");
    assert!(keel(&d, &["deploy", "example:token"]).status.success());
    let o = keel(&d, &["--json", "call", "token", "mint", "@alice", "1000"]);
    assert!(o.status.success(), "{}", text(&o));
    // Events name their emitter.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let emitter = v["receipts"][0]["events"][0]["emitter"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(emitter.len(), 66, "{v}");
    let o = keel(&d, &["call", "token", "mint", "@alice", "0"]);
    assert!(
        text(&o).contains(&format!("event Transfer from {emitter}")),
        "{}",
        text(&o)
    );
    // The same call in the explicit syntax still works.
    let o = keel(&d, &["call", "token", "mint", "addr:@bob", "u128:5"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = keel(&d, &["query", "token", "balance_of", "@alice"]);
    assert!(text(&o).contains("result: 1000"), "{}", text(&o));
    let o = keel(&d, &["--json", "query", "token", "admin"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["result"]
            .as_str()
            .unwrap_or_default()
            .starts_with("some(0x"),
        "{v}"
    );
    // A contract by the name it was deployed under: `addr:NAME`, or a bare NAME when typed.
    let o = keel(&d, &["call", "token", "transfer", "token", "7"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = keel(&d, &["call", "token", "transfer", "addr:token", "u128:3"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = keel(&d, &["query", "token", "balance_of", "token"]);
    assert!(text(&o).contains("result: 10"), "{}", text(&o));
    let o = keel(&d, &["query", "token", "balance_of", "nobody"]);
    assert!(text(&o).contains("not @account"), "{}", text(&o));
    // A typed error arrives by name.
    let o = keel(
        &d,
        &[
            "--sender", "carol", "call", "token", "transfer", "@alice", "5",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("error: InsufficientBalance"),
        "{}",
        text(&o)
    );
    // Wrong arity and bad values are clean errors naming the signature.
    let o = keel(&d, &["call", "token", "transfer", "@alice"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("transfer(to: address, amount: u128) -> () ! TokenError takes 2"),
        "{}",
        text(&o)
    );
    let o = keel(&d, &["call", "token", "transfer", "@alice", "lots"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("argument `amount` (u128)"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}
