//! Multi-process tests: 4 validators as separate `keel-node` processes on 127.0.0.1, each test
//! bounded in time (every wait has a deadline) and cleaning up its processes on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use keel_chain::tx::{SignedTx, TxPayload};
use keel_engine::Action;
use keel_node::genesis::{TestnetOptions, testnet};
use keel_node::http;
use parity_scale_codec::Encode;
use serde_json::{Value, json};

/// The tests share 2 cores: one network at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const CHAIN: &str = "keel-test";

struct Net {
    dir: tempfile::TempDir,
    apis: Vec<String>,
    children: Vec<Option<Child>>,
    /// The genesis token (deployed at genesis by `key(1)`, its admin).
    token: [u8; 32],
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

impl Net {
    fn new(n: usize) -> Net {
        Net::with_env(n, &[])
    }

    /// A network whose node `k` runs with the environment variables given for it.
    fn with_env(n: usize, env: &[(usize, &str, &str)]) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let p = free_ports(2 * n);
        let ports: Vec<(u16, u16)> = (0..n).map(|k| (p[2 * k], p[2 * k + 1])).collect();
        let g = testnet(&TestnetOptions {
            validators: n,
            home: dir.path().to_path_buf(),
            base_port: 0,
            ports: Some(ports),
            chain_id: CHAIN.into(),
            block_time_ms: 0,
            contracts: vec![("token".into(), keel_contracts::TOKEN.to_vec(), Vec::new())],
            deployer: Some(key(1).verifying_key().to_bytes()),
        })
        .unwrap();
        let apis = g.validators.iter().map(|v| v.api.clone()).collect();
        let token = hex::decode(&g.contracts[0].address).unwrap();
        let mut net = Net {
            dir,
            apis,
            children: (0..n).map(|_| None).collect(),
            token: token.try_into().unwrap(),
        };
        for k in 0..n {
            let vars: Vec<(&str, &str)> = env
                .iter()
                .filter(|(j, _, _)| *j == k)
                .map(|(_, a, b)| (*a, *b))
                .collect();
            net.start(k, &vars);
        }
        net
    }

    fn home(&self, k: usize) -> PathBuf {
        self.dir.path().join(format!("node{k}"))
    }

    fn start(&mut self, k: usize, env: &[(&str, &str)]) {
        let home = self.home(k);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("log.txt"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel-node"));
        cmd.arg("start")
            .arg("--home")
            .arg(&home)
            .stdout(Stdio::null())
            .stderr(log);
        for (a, b) in env {
            cmd.env(a, b);
        }
        self.children[k] = Some(cmd.spawn().unwrap());
    }

    fn kill(&mut self, k: usize) {
        if let Some(mut c) = self.children[k].take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn get(&self, k: usize, path: &str) -> Option<Value> {
        let r = http::request(
            &self.apis[k],
            "GET",
            path,
            None,
            &[],
            Duration::from_secs(5),
        )
        .ok()?;
        r.json().ok()
    }

    fn post(&self, k: usize, path: &str, body: &Value) -> (u16, Value) {
        let r = http::request(
            &self.apis[k],
            "POST",
            path,
            Some(&body.to_string()),
            &[],
            Duration::from_secs(10),
        )
        .unwrap();
        let v = r.json().unwrap_or(Value::Null);
        (r.status, v)
    }

    fn height(&self, k: usize) -> Option<u64> {
        self.get(k, "/status")?.get("height")?.as_u64()
    }

    fn wait_height(&self, k: usize, h: u64, timeout: Duration) -> u64 {
        let t = Instant::now();
        loop {
            if let Some(now) = self.height(k)
                && now >= h
            {
                return now;
            }
            assert!(
                t.elapsed() < timeout,
                "node{k} did not reach height {h} in {timeout:?} (at {:?}); log:\n{}",
                self.height(k),
                self.log(k)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self, k: usize) -> String {
        let s = std::fs::read_to_string(self.home(k).join("log.txt")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Every node in `nodes` has the same block hash, state root and receipts root at every
    /// height up to `h`.
    fn assert_same_chain(&self, nodes: &[usize], h: u64) {
        for height in 1..=h {
            let blocks: Vec<Value> = nodes
                .iter()
                .map(|&k| self.get(k, &format!("/block/{height}")).unwrap())
                .collect();
            for (i, b) in blocks.iter().enumerate().skip(1) {
                for f in ["hash", "state_root", "receipts_root"] {
                    assert_eq!(
                        b[f], blocks[0][f],
                        "{f} of height {height} differs between node{} and node{}",
                        nodes[0], nodes[i]
                    );
                }
            }
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for k in 0..self.children.len() {
            self.kill(k);
        }
    }
}

fn key(seed: u64) -> SigningKey {
    SigningKey::from_bytes(blake3::hash(&seed.to_le_bytes()).as_bytes())
}

fn signed(k: &SigningKey, chain: &str, nonce: u64, action: Action) -> String {
    hex::encode(
        SignedTx::sign(
            TxPayload {
                chain_id: chain.into(),
                nonce,
                gas_limit: 50_000_000,
                action,
            },
            k,
        )
        .encode(),
    )
}

fn call(contract: [u8; 32], method: &str, args: Vec<u8>) -> Action {
    Action::Call {
        contract,
        method: method.into(),
        args,
    }
}

fn wait_tx(net: &Net, k: usize, hash: &str, timeout: Duration) -> Value {
    let t = Instant::now();
    loop {
        if let Some(v) = net.get(k, &format!("/tx/{hash}"))
            && v["status"] == "committed"
        {
            return v;
        }
        assert!(
            t.elapsed() < timeout,
            "tx {hash} not committed in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn submit(net: &Net, k: usize, tx: &str) -> String {
    let (code, v) = net.post(k, "/tx", &json!({ "tx": tx }));
    assert_eq!(code, 200, "submit to node{k}: {v}");
    v["hash"].as_str().unwrap().to_string()
}

#[test]
fn four_validators_include_2000_round_robin_transfers_with_equal_roots_and_receipts() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let net = Net::new(4);
    for k in 0..4 {
        net.wait_height(k, 2, Duration::from_secs(60));
    }
    // The token was deployed at genesis, by the admin (whose nonce is therefore 2), and is
    // named: every node resolves "token" to it.
    let admin = key(1);
    let token = net.token;
    for k in 0..4 {
        let c = net.get(k, "/contract/token").unwrap();
        assert_eq!(c["address"], hex::encode(token), "node{k}: {c}");
    }
    let genesis_root = net.get(0, "/block/1").unwrap()["prev_root"].clone();
    assert_eq!(
        net.get(2, "/state/00?height=0").unwrap()["root"],
        genesis_root,
        "block 1 is built on the genesis state"
    );
    assert_ne!(
        genesis_root,
        hex::encode(keel_state::StateStore::root(&keel_state::MemStore::new()))
    );
    let senders: Vec<SigningKey> = (0..20).map(|i| key(100 + i)).collect();
    let mut mints = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let to = s.verifying_key().to_bytes();
        mints.push(submit(
            &net,
            i % 4,
            &signed(
                &admin,
                CHAIN,
                2 + i as u64,
                call(token, "mint", (to, 1_000_000u128).encode()),
            ),
        ));
    }
    for m in &mints {
        wait_tx(&net, 0, m, Duration::from_secs(60));
    }
    // 2,000 transfers: 20 senders × 100, submitted round-robin to the four APIs.
    let txs: Vec<String> = (0..100u64)
        .flat_map(|n| {
            senders.iter().enumerate().map(move |(i, s)| {
                let to = key(1000 + i as u64).verifying_key().to_bytes();
                (s.clone(), n, to)
            })
        })
        .map(|(s, n, to)| signed(&s, CHAIN, n, call(token, "transfer", (to, 1u128).encode())))
        .collect();
    let start = Instant::now();
    let mut submitted = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        submitted.push((submit(&net, i % 4, tx), Instant::now()));
    }
    let submit_secs = start.elapsed().as_secs_f64();
    // All included: every sender's nonce reaches 100 on every node.
    let t = Instant::now();
    for k in 0..4 {
        for s in &senders {
            let a = hex::encode(s.verifying_key().to_bytes());
            loop {
                let n = net
                    .get(k, &format!("/nonce/{a}"))
                    .and_then(|v| v["nonce"].as_u64())
                    .unwrap_or(0);
                if n >= 100 {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(240),
                    "node{k}: nonce {n} of 100"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    let total_secs = start.elapsed().as_secs_f64();
    let top = (0..4).map(|k| net.height(k).unwrap()).min().unwrap();
    net.assert_same_chain(&[0, 1, 2, 3], top);
    // Every transfer succeeded, and its receipt is the same on every node.
    let mut latencies = Vec::new();
    let mut heights = std::collections::BTreeMap::<u64, u64>::new();
    for (h, _) in &submitted {
        let r0 = net.get(0, &format!("/tx/{h}")).unwrap();
        assert_eq!(r0["status"], "committed");
        assert_eq!(r0["receipt"]["status"], "success", "{r0}");
        for k in 1..4 {
            assert_eq!(
                net.get(k, &format!("/tx/{h}")).unwrap()["receipt"],
                r0["receipt"]
            );
        }
        *heights.entry(r0["height"].as_u64().unwrap()).or_default() += 1;
    }
    // Submit-to-commit latency: a commit time per height from block timestamps.
    for (h, at) in &submitted {
        let height = net.get(0, &format!("/tx/{h}")).unwrap()["height"]
            .as_u64()
            .unwrap();
        // Block h is committed when the proposer of h + 1 proposes (only after committing h):
        // the timestamp of block h + 1 is the commit time of h, to within one node's clock.
        let ts = net.get(0, &format!("/block/{}", height + 1)).unwrap()["timestamp"]
            .as_u64()
            .unwrap();
        let submitted_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - at.elapsed().as_millis() as u64;
        latencies.push(ts.saturating_sub(submitted_ms));
    }
    latencies.sort();
    println!(
        "2000 transfers: submitted in {submit_secs:.2} s, all committed on 4 nodes after {total_secs:.2} s \
         ({:.0} tx/s); {} blocks held them; submit-to-commit latency median {} ms p99 {} ms; \
         final height {top}",
        2000.0 / total_secs,
        heights.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
}

#[test]
fn a_killed_wiped_or_halved_network_recovers_to_the_same_roots() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // node1 loses every proposal part of heights 4 to 7 (a test-only hook): it never has those
    // blocks from consensus, so it must fetch each decided one through value sync.
    let mut net = Net::with_env(4, &[(1, "KEEL_NODE_DROP_PARTS", "4-7")]);
    net.wait_height(3, 3, Duration::from_secs(60));
    // Empty blocks: how fast heights go with nothing to execute.
    let (h_a, t_a) = (net.height(0).unwrap(), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let h_b = net.height(0).unwrap();
    println!(
        "empty blocks: {:.1} heights/s over {:.1} s",
        (h_b - h_a) as f64 / t_a.elapsed().as_secs_f64(),
        t_a.elapsed().as_secs_f64()
    );
    // kill -9 one validator mid-run: the others keep deciding.
    let before = net.height(3).unwrap();
    net.kill(3);
    let h0 = net.height(0).unwrap();
    net.wait_height(0, h0 + 40, Duration::from_secs(60));
    net.start(3, &[]);
    let target = net.height(0).unwrap();
    let t = Instant::now();
    net.wait_height(3, target, Duration::from_secs(60));
    println!(
        "node3 restarted after kill -9 at height {before} and reached {target} ({} heights, \
         process start included) in {:.2} s",
        target - before,
        t.elapsed().as_secs_f64()
    );
    net.assert_same_chain(&[0, 1, 2, 3], target);
    // node1 got the blocks of heights 4–7 that it was not the proposer of through value sync
    // only, and executed nothing it did not have (it has the same roots as everyone).
    let log1 = std::fs::read_to_string(net.home(1).join("log.txt")).unwrap();
    let me1 = net.get(1, "/status").unwrap()["validator"].clone();
    let mut synced = 0;
    for h in 4..=7u64 {
        let proposer = net.get(1, &format!("/block/{h}")).unwrap()["proposer"].clone();
        let line = format!("height {h} (");
        let via_sync = log1
            .lines()
            .any(|l| l.contains(&line) && l.contains("received through value sync"));
        if proposer != me1 {
            assert!(
                via_sync,
                "node1 did not sync height {h}; log:\n{}",
                net.log(1)
            );
            synced += 1;
        }
    }
    assert!(synced >= 3, "{synced}");

    // Wipe one validator's data dir and WAL: it syncs from genesis.
    net.kill(2);
    std::fs::remove_dir_all(net.home(2).join("data")).unwrap();
    std::fs::remove_dir_all(net.home(2).join("wal")).unwrap();
    let h1 = net.height(0).unwrap();
    net.wait_height(0, h1 + 3, Duration::from_secs(60));
    net.start(2, &[]);
    let target = net.height(0).unwrap();
    let t = Instant::now();
    net.wait_height(2, target, Duration::from_secs(120));
    println!(
        "wiped node2 synced {target} heights from genesis in {:.2} s ({:.1} heights/s)",
        t.elapsed().as_secs_f64(),
        target as f64 / t.elapsed().as_secs_f64()
    );
    net.assert_same_chain(&[0, 1, 2, 3], target);

    // Stop two of four: nothing is decided, nothing diverges.
    net.kill(2);
    net.kill(3);
    std::thread::sleep(Duration::from_secs(1));
    let stalled = net.height(0).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        net.height(0).unwrap() <= stalled + 1 && net.height(1).unwrap() <= stalled + 1,
        "decided heights with half the voting power down"
    );
    let h = net.height(0).unwrap().min(net.height(1).unwrap());
    net.assert_same_chain(&[0, 1], h);
    // Restart them: progress resumes.
    net.start(2, &[]);
    net.start(3, &[]);
    let target = stalled + 3;
    for k in 0..4 {
        net.wait_height(k, target, Duration::from_secs(90));
    }
    net.assert_same_chain(&[0, 1, 2, 3], target);
}

#[test]
fn bad_signature_replay_and_wrong_chain_id_are_rejected_and_never_in_a_block() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let net = Net::new(4);
    net.wait_height(0, 1, Duration::from_secs(60));
    let alice = key(7);
    let code = keel_contracts::COUNTER.to_vec();
    let good = signed(&alice, CHAIN, 0, Action::Deploy { code: code.clone() });
    let h = submit(&net, 0, &good);
    wait_tx(&net, 0, &h, Duration::from_secs(60));

    let mut bad_sig = hex::decode(signed(
        &alice,
        CHAIN,
        1,
        Action::Deploy { code: code.clone() },
    ))
    .unwrap();
    let n = bad_sig.len();
    bad_sig[n - 1] ^= 1;
    let wrong_chain = signed(
        &alice,
        "other-chain",
        1,
        Action::Deploy { code: code.clone() },
    );
    let oversized = signed(
        &alice,
        CHAIN,
        1,
        Action::Deploy {
            code: vec![0; 400 * 1024],
        },
    );
    let cases = [
        (hex::encode(&bad_sig), "BadSignature"),
        (good.clone(), "Replayed"),
        (wrong_chain, "WrongChainId"),
        (oversized, "Oversized"),
        ("00ff".to_string(), "Undecodable"),
    ];
    let mut hashes = Vec::new();
    for (k, (tx, kind)) in cases.iter().enumerate() {
        let (code, v) = net.post(k % 4, "/tx", &json!({ "tx": tx }));
        assert_eq!(code, 400, "{kind}: {v}");
        assert_eq!(v["kind"], *kind, "{v}");
        hashes.push(hex::encode(keel_chain::tx::tx_hash(
            &hex::decode(tx).unwrap(),
        )));
    }
    // A few more heights, then: none of them is known or in any block on any node.
    let h0 = net.height(0).unwrap();
    net.wait_height(0, h0 + 3, Duration::from_secs(60));
    let top = net.height(0).unwrap();
    for k in 0..4 {
        for (i, hash) in hashes.iter().enumerate() {
            if i == 1 {
                continue; // the replayed one is the committed original
            }
            let v = net.get(k, &format!("/tx/{hash}")).unwrap();
            assert_eq!(v["status"], "unknown", "node{k}: {v}");
        }
    }
    for height in 1..=top.min(net.height(1).unwrap()) {
        let b = net.get(1, &format!("/block/{height}")).unwrap();
        for (i, hash) in hashes.iter().enumerate() {
            let count = b["txs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t.as_str() == Some(hash))
                .count();
            let expected = usize::from(
                i == 1 && b["height"] == net.get(0, &format!("/tx/{h}")).unwrap()["height"],
            );
            assert_eq!(count, expected, "height {height}, case {i}");
        }
    }
}

#[test]
fn a_validator_whose_execution_differs_detects_it_and_stops() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut net = Net::new(4);
    net.kill(3);
    net.start(3, &[("KEEL_NODE_FAULT_AT_HEIGHT", "3")]);
    let t = Instant::now();
    let status = loop {
        if let Some(c) = net.children[3].as_mut()
            && let Some(st) = c.try_wait().unwrap()
        {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "node3 did not stop; log:\n{}",
            net.log(3)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(3), "log:\n{}", net.log(3));
    let halted = std::fs::read_to_string(net.home(3).join("HALTED")).unwrap();
    assert!(
        halted.contains("state root mismatch after height 3"),
        "{halted}"
    );
    // It built nothing on its root: its store ends at height 3, and the others go on.
    net.children[3] = None;
    let h = net.height(0).unwrap();
    net.wait_height(0, h + 3, Duration::from_secs(60));
    net.assert_same_chain(&[0, 1, 2], h + 3);
}

#[allow(dead_code)]
fn unused(_: &Path) {}
