//! `keel node bench`: the node figures of BENCHMARKS.md ("Node") on a local network it starts
//! itself (N validator processes on 127.0.0.1, a genesis token, a temporary home it removes).
//!
//! 1. Empty blocks: heights/s over `--empty-secs`.
//! 2. Transfers: `--senders` accounts (minted at first) each send `--txs` transfers; they are
//!    signed up front and submitted by `--in-flight` threads, each with one keep-alive
//!    connection to one validator (round-robin over the validators), so that many requests
//!    are in flight at once. A watcher polls node 0 and stamps each transaction with the time
//!    node 0 committed its block: sustained transfers/s (first submission to last commit) and
//!    submit-to-commit latency (median, p99).
//! 3. Catch-up: the last validator is killed (SIGKILL), the others run `--down-secs`, it is
//!    restarted: heights/s from its restart (process start included) to the height the
//!    others had then.
//!
//! Each figure is printed with the 1-minute load average read when it was taken
//! (`/proc/loadavg`): the machine is shared, and every validator runs on the same 2 cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use keel_chain::tx::{SignedTx, TxPayload};
use keel_engine::Action;
use parity_scale_codec::Encode;
use serde_json::{Value, json};

use crate::NodeError;
use crate::genesis::{TestnetOptions, testnet};
use crate::http::Conn;

/// Options of `keel node bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Validators.
    pub validators: usize,
    /// Sending accounts.
    pub senders: usize,
    /// Transfers per sender.
    pub txs: usize,
    /// Submitting threads (each one keep-alive connection).
    pub in_flight: usize,
    /// Seconds of empty blocks measured.
    pub empty_secs: u64,
    /// Seconds the killed validator stays down.
    pub down_secs: u64,
    /// The token's wasm code.
    pub token: Vec<u8>,
    /// The program and leading arguments that run a validator (`… start --home DIR`).
    pub node_cmd: (PathBuf, Vec<String>),
}

const CHAIN: &str = "keel-bench";

fn err(m: impl std::fmt::Display) -> NodeError {
    NodeError::Config(format!("bench: {m}"))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

struct Procs {
    home: PathBuf,
    cmd: (PathBuf, Vec<String>),
    children: Vec<Option<Child>>,
}

impl Procs {
    fn start(&mut self, k: usize) -> Result<(), NodeError> {
        let home = self.home.join(format!("node{k}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("log.txt"))
            .map_err(err)?;
        let child = Command::new(&self.cmd.0)
            .args(&self.cmd.1)
            .arg("start")
            .arg("--home")
            .arg(&home)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", self.cmd.0.display())))?;
        self.children[k] = Some(child);
        Ok(())
    }

    fn kill(&mut self, k: usize) {
        if let Some(mut c) = self.children[k].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for k in 0..self.children.len() {
            self.kill(k);
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn get(c: &mut Conn, path: &str) -> Option<Value> {
    c.request("GET", path, None).ok()?.json().ok()
}

fn height(c: &mut Conn) -> Option<u64> {
    get(c, "/status")?["height"].as_u64()
}

fn wait_height(c: &mut Conn, h: u64, limit: Duration) -> Result<u64, NodeError> {
    let t = Instant::now();
    loop {
        if let Some(now) = height(c)
            && now >= h
        {
            return Ok(now);
        }
        if t.elapsed() > limit {
            return Err(err(format!("height {h} not reached in {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signed(k: &SigningKey, nonce: u64, action: Action) -> (String, String) {
    let bytes = SignedTx::sign(
        TxPayload {
            chain_id: CHAIN.into(),
            nonce,
            gas_limit: 2_000_000,
            action,
        },
        k,
    )
    .encode();
    (
        hex::encode(keel_chain::tx::tx_hash(&bytes)),
        json!({ "tx": hex::encode(&bytes) }).to_string(),
    )
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the bench; returns its figures as JSON (also printed as it goes).
pub fn run(o: &BenchOptions) -> Result<Value, NodeError> {
    let n = o.validators.max(1);
    let home = std::env::temp_dir().join(format!("keel-node-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let ports: Vec<u16> = {
        let ls: Vec<std::net::TcpListener> = (0..2 * n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        ls.iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()
            .map_err(err)?
    };
    let admin = SigningKey::from_bytes(&[0xad; 32]);
    let g = testnet(&TestnetOptions {
        validators: n,
        home: home.clone(),
        base_port: 0,
        ports: Some((0..n).map(|k| (ports[2 * k], ports[2 * k + 1])).collect()),
        chain_id: CHAIN.into(),
        block_time_ms: 0,
        contracts: vec![("token".into(), o.token.clone(), Vec::new())],
        deployer: Some(admin.verifying_key().to_bytes()),
    })?;
    let token: [u8; 32] = hex::decode(&g.contracts[0].address)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err("genesis token address"))?;
    let apis: Vec<String> = g.validators.iter().map(|v| v.api.clone()).collect();
    let mut procs = Procs {
        home: home.clone(),
        cmd: o.node_cmd.clone(),
        children: (0..n).map(|_| None).collect(),
    };
    for k in 0..n {
        procs.start(k)?;
    }
    let timeout = Duration::from_secs(10);
    let mut c0 = Conn::new(&apis[0], timeout);
    for api in &apis {
        wait_height(&mut Conn::new(api, timeout), 2, Duration::from_secs(120))?;
    }
    let mut out = json!({ "validators": n, "senders": o.senders, "txs_per_sender": o.txs,
        "in_flight": o.in_flight });

    // 1. Empty blocks.
    let h_a = height(&mut c0).ok_or_else(|| err("status"))?;
    let t_a = Instant::now();
    std::thread::sleep(Duration::from_secs(o.empty_secs));
    let h_b = height(&mut c0).ok_or_else(|| err("status"))?;
    let empty = (h_b - h_a) as f64 / t_a.elapsed().as_secs_f64();
    let l = load();
    println!(
        "empty blocks: {empty:.1} heights/s ({} heights in {:.1} s), load {l}",
        h_b - h_a,
        t_a.elapsed().as_secs_f64()
    );
    out["empty_heights_per_s"] = json!(empty);
    out["empty_load"] = json!(l);

    // 2. Mint to every sender, then the transfers.
    let senders: Vec<SigningKey> = (0..o.senders)
        .map(|i| SigningKey::from_bytes(blake3::hash(&(i as u64).to_le_bytes()).as_bytes()))
        .collect();
    let mut last = String::new();
    for (i, s) in senders.iter().enumerate() {
        let (hash, body) = signed(
            &admin,
            2 + i as u64,
            Action::Call {
                contract: token,
                method: "mint".into(),
                args: (s.verifying_key().to_bytes(), 1_000_000_000u128).encode(),
            },
        );
        let r = c0.request("POST", "/tx", Some(&body)).map_err(err)?;
        if r.status != 200 {
            return Err(err(format!("mint refused: {}", r.body)));
        }
        last = hash;
    }
    let t = Instant::now();
    while get(&mut c0, &format!("/tx/{last}")).map(|v| v["status"].clone())
        != Some(json!("committed"))
    {
        if t.elapsed() > Duration::from_secs(120) {
            return Err(err("mints not committed"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Signed up front: per thread, its senders' transfers in nonce order.
    let threads = o.in_flight.max(1);
    let mut work: Vec<Vec<(String, String)>> = vec![Vec::new(); threads];
    for nonce in 0..o.txs as u64 {
        for (i, s) in senders.iter().enumerate() {
            let to = SigningKey::from_bytes(&[i as u8; 32])
                .verifying_key()
                .to_bytes();
            work[i % threads].push(signed(
                s,
                nonce,
                Action::Call {
                    contract: token,
                    method: "transfer".into(),
                    args: (to, 1u128).encode(),
                },
            ));
        }
    }
    let total: usize = work.iter().map(Vec::len).sum();
    let submitted: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0usize));
    let start_height = height(&mut c0).ok_or_else(|| err("status"))?;
    // How many the watcher waits for: all, until the submitters know how many were refused.
    let expected = Arc::new(std::sync::atomic::AtomicUsize::new(total));
    // The watcher: commit time of every transaction, as node 0 sees it.
    let watcher = {
        let api = apis[0].clone();
        let expected = expected.clone();
        std::thread::spawn(move || {
            let mut c = Conn::new(&api, timeout);
            let mut committed: Vec<(String, Instant)> = Vec::new();
            let mut seen = start_height;
            let mut blocks = 0usize;
            let mut max_block = 0usize;
            let t = Instant::now();
            while committed.len() < expected.load(std::sync::atomic::Ordering::SeqCst)
                && t.elapsed() < Duration::from_secs(600)
            {
                let Some(h) = height(&mut c) else { continue };
                let now = Instant::now();
                while seen < h {
                    seen += 1;
                    if let Some(b) = get(&mut c, &format!("/block/{seen}")) {
                        let txs = b["txs"].as_array().cloned().unwrap_or_default();
                        if !txs.is_empty() {
                            blocks += 1;
                            max_block = max_block.max(txs.len());
                        }
                        for tx in txs {
                            committed.push((tx.as_str().unwrap_or("").to_string(), now));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (committed, blocks, max_block)
        })
    };
    let t_submit = Instant::now();
    let submitters: Vec<_> = work
        .into_iter()
        .enumerate()
        .map(|(t, txs)| {
            let api = apis[t % n].clone();
            let submitted = submitted.clone();
            let refused = refused.clone();
            std::thread::spawn(move || {
                let mut c = Conn::new(&api, timeout);
                for (hash, body) in txs {
                    let at = Instant::now();
                    match c.request("POST", "/tx", Some(&body)) {
                        Ok(r) if r.status == 200 => {
                            if let Ok(mut s) = submitted.lock() {
                                s.push((hash, at));
                            }
                        }
                        _ => {
                            if let Ok(mut r) = refused.lock() {
                                *r += 1;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for s in submitters {
        let _ = s.join();
    }
    let submit_secs = t_submit.elapsed().as_secs_f64();
    expected.store(
        submitted.lock().map(|s| s.len()).unwrap_or(0),
        std::sync::atomic::Ordering::SeqCst,
    );
    let (committed, blocks, max_block) = watcher.join().map_err(|_| err("watcher panicked"))?;
    let l = load();
    let submitted = submitted.lock().map(|s| s.clone()).unwrap_or_default();
    let refused = refused.lock().map(|r| *r).unwrap_or(0);
    let at: std::collections::HashMap<&str, Instant> =
        submitted.iter().map(|(h, t)| (h.as_str(), *t)).collect();
    let mut lat: Vec<f64> = committed
        .iter()
        .filter_map(|(h, c)| {
            at.get(h.as_str())
                .map(|s| c.duration_since(*s).as_secs_f64() * 1e3)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let first = submitted.iter().map(|(_, t)| *t).min().unwrap_or(t_submit);
    let last_commit = committed.iter().map(|(_, t)| *t).max().unwrap_or(first);
    let secs = last_commit.duration_since(first).as_secs_f64();
    let tps = committed.len() as f64 / secs.max(1e-9);
    println!(
        "transfers: {} of {total} committed ({refused} refused at submission) in {secs:.2} s: \
         {tps:.0} tx/s sustained; submitted in {submit_secs:.2} s ({:.0}/s) by {threads} \
         keep-alive connections; {blocks} blocks, at most {max_block} txs; submit-to-commit \
         (node 0) median {:.0} ms, p99 {:.0} ms; load {l}",
        committed.len(),
        total as f64 / submit_secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    out["transfers_committed"] = json!(committed.len());
    out["transfers_refused"] = json!(refused);
    out["transfers_per_s"] = json!(tps);
    out["submit_per_s"] = json!(total as f64 / submit_secs);
    out["latency_median_ms"] = json!(pct(&lat, 0.5));
    out["latency_p99_ms"] = json!(pct(&lat, 0.99));
    out["blocks"] = json!(blocks);
    out["transfers_load"] = json!(l);

    // 3. Catch-up after a restart.
    let k = n - 1;
    let mut ck = Conn::new(&apis[k], timeout);
    let before = height(&mut ck).ok_or_else(|| err("status"))?;
    procs.kill(k);
    std::thread::sleep(Duration::from_secs(o.down_secs));
    let target = height(&mut c0).ok_or_else(|| err("status"))?;
    let t = Instant::now();
    procs.start(k)?;
    let mut ck = Conn::new(&apis[k], timeout);
    wait_height(&mut ck, target, Duration::from_secs(300))?;
    let secs = t.elapsed().as_secs_f64();
    let l = load();
    let rate = (target - before) as f64 / secs;
    println!(
        "catch-up: node{k} killed at height {before}, restarted when the others were at \
         {target}: {} heights in {secs:.2} s (process start included) = {rate:.0} heights/s; \
         load {l}",
        target - before
    );
    out["catchup_heights"] = json!(target - before);
    out["catchup_secs"] = json!(secs);
    out["catchup_heights_per_s"] = json!(rate);
    out["catchup_load"] = json!(l);
    // Everyone agrees on the root of the last height all have.
    let h = (0..n)
        .filter_map(|k| height(&mut Conn::new(&apis[k], timeout)))
        .min()
        .unwrap_or(0);
    let roots: Vec<Value> = (0..n)
        .map(|k| {
            get(&mut Conn::new(&apis[k], timeout), &format!("/block/{h}"))
                .map(|b| b["state_root"].clone())
                .unwrap_or(Value::Null)
        })
        .collect();
    if roots.iter().any(|r| *r != roots[0]) {
        return Err(err(format!("roots differ at height {h}: {roots:?}")));
    }
    println!("all {n} validators have root {} at height {h}", roots[0]);
    Ok(out)
}

/// The command that runs a validator from this process's executable: `keel-node start …`,
/// or `keel node start …`.
pub fn node_command() -> Result<(PathBuf, Vec<String>), NodeError> {
    let exe = std::env::current_exe().map_err(err)?;
    let is_node = exe
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.starts_with("keel-node"));
    Ok((
        exe,
        if is_node {
            Vec::new()
        } else {
            vec!["node".into()]
        },
    ))
}

/// Reads a wasm file for `--token`.
pub fn read_code(path: &Path) -> Result<Vec<u8>, NodeError> {
    std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))
}
