//! `keel --node URL`: contract names and metadata-typed arguments, results and errors against
//! a running one-validator keel-node (`keel node testnet` with a genesis token, `keel node
//! start`), as in the local mode. Bounded: every wait has a deadline; the node is killed on
//! drop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn keel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
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

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(home: &Path) -> Node {
    let log = std::fs::File::create(home.join("log.txt")).unwrap();
    Node(
        Command::new(env!("CARGO_BIN_EXE_keel"))
            .args(["node", "start", "--home"])
            .arg(home)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

#[test]
fn node_mode_resolves_names_and_types_arguments_results_and_errors_like_local_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("net");
    // The admin: the genesis deployer, so the genesis token's `init` made it the admin.
    let secret = [3u8; 32];
    let admin = ed25519_dalek::SigningKey::from_bytes(&secret);
    let key_file = tmp.path().join("admin.json");
    std::fs::write(
        &key_file,
        format!("{{\"secret\": \"{}\"}}", hex::encode(secret)),
    )
    .unwrap();
    let key_file = key_file.to_str().unwrap();
    let (p2p, api) = (free_port(), free_port());
    let o = keel(&[
        "node",
        "testnet",
        "--validators",
        "1",
        "--home",
        home.to_str().unwrap(),
        "--ports",
        &format!("{p2p}:{api}"),
        "--chain-id",
        "remote-test",
        "--contract",
        "token=example:token",
        "--deployer",
        &hex::encode(admin.verifying_key().to_bytes()),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("contract token: 0x"), "{}", text(&o));
    let _node = start(&home.join("node0"));
    let url = format!("http://127.0.0.1:{api}");
    let node = |args: &[&str]| {
        let mut all = vec!["--node", url.as_str(), "--key", key_file];
        all.extend_from_slice(args);
        keel(&all)
    };
    // Wait for the API (the genesis token answers before height 1).
    let t = Instant::now();
    loop {
        let o = node(&["query", "token", "total_supply"]);
        if o.status.success() {
            assert!(text(&o).contains("result: 0"), "{}", text(&o));
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "node did not answer: {}\nlog:\n{}",
            text(&o),
            std::fs::read_to_string(home.join("node0/log.txt")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Plain words typed by the metadata, the contract by its genesis name; events named.
    let o = node(&["--json", "call", "token", "mint", "@bob", "1000"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["committed"], true, "{v}");
    assert_eq!(v["receipts"][0]["events"][0]["name"], "Transfer", "{v}");
    assert_eq!(v["receipts"][0]["label"], "token.mint", "{v}");
    // A bare contract name where an address is typed, and `addr:NAME` in the explicit syntax.
    let o = node(&["call", "token", "mint", "token", "7"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = node(&["query", "token", "balance_of", "addr:token"]);
    assert!(text(&o).contains("result: 7"), "{}", text(&o));
    let o = node(&["query", "token", "balance_of", "token"]);
    assert!(text(&o).contains("result: 7"), "{}", text(&o));
    let o = node(&["query", "token", "balance_of", "@bob"]);
    assert!(text(&o).contains("result: 1000"), "{}", text(&o));
    // Results typed by the metadata: an Option<address>.
    let o = node(&["--json", "query", "token", "admin"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["result"],
        format!("some(0x{})", hex::encode(admin.verifying_key().to_bytes())),
        "{v}"
    );
    // A typed error arrives by name, with exit code 3.
    let o = node(&["call", "token", "transfer", "@carol", "5000"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("error: InsufficientBalance"),
        "{}",
        text(&o)
    );
    // Wrong arity is a clean error naming the signature; nothing is sent.
    let o = node(&["call", "token", "transfer", "@carol"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("transfer(to: address, amount: u128) -> () ! TokenError takes 2"),
        "{}",
        text(&o)
    );
    // Unknown names and methods fail before anything is sent.
    let o = node(&["query", "nothing", "balance_of", "@bob"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("knows no contract"), "{}", text(&o));
    let o = node(&["query", "token", "nope"]);
    assert!(text(&o).contains("has no method \"nope\""), "{}", text(&o));
    // State of a named contract, with its proof.
    let o = node(&["--json", "state", "prove", "--contract", "token", "0x00"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["proof"].as_str().is_some_and(|p| !p.is_empty()), "{v}");
}
