//! keel-node: Keel as a replicated chain under the Malachite BFT consensus engine
//! (`arc-malachitebft-*` 0.8.2, pinned exactly).
//!
//! Data flow: a client submits a signed transaction to any validator's API → it is checked
//! and admitted to that node's mempool and forwarded to the other validators → the proposer
//! of a height fills a block from its mempool (block gas and byte limits), binding its root
//! after the previous height (`prev_root`), and streams it as proposal parts → validators
//! check it (height, `prev_root` equal to their own root, limits, every signature) and vote →
//! on decision every validator executes the block with the engine (`execute_pending`), and
//! commits state, block, commit certificate, receipts and transaction index in one RocksDB
//! batch → the mempool drops what the new nonces made stale → the next proposal carries the
//! new root.
//!
//! Modules: [`context`] (Malachite types), [`codec`] (borsh wire and WAL codec), [`block`],
//! [`state`] (store, engine, mempool), [`app`] (the channel loop), [`api`] (JSON over HTTP),
//! [`genesis`] (genesis, config, keys, `testnet`), [`http`] (a tiny client).

pub mod api;
pub mod app;
pub mod bench;
pub mod block;
pub mod codec;
pub mod context;
pub mod genesis;
pub mod http;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_malachitebft_app::config::{ConsensusConfig, ValueSyncConfig};
use arc_malachitebft_app::net::Multiaddr;
use arc_malachitebft_app::types::Keypair;
use arc_malachitebft_app::types::codec::Codec;
use arc_malachitebft_app_channel::{
    ConsensusContext, NetworkContext, NetworkIdentity, RequestContext, Signer, SyncContext,
    WalContext, start_engine,
};

use crate::codec::KeelCodec;
use crate::context::{Address, KeelContext, KeelSigner, KeelVerifier};
use crate::genesis::{Genesis, KeyFile, NodeConfig, read_json};
use crate::state::NodeState;

/// The node's one error type.
#[derive(Debug)]
pub enum NodeError {
    /// A configuration, genesis or key file problem.
    Config(String),
    /// The store failed.
    State(keel_state::StateError),
    /// The engine failed (its store underneath).
    Engine(String),
    /// Stored data that does not decode.
    Corrupt(String),
    /// Consensus or networking failed.
    Consensus(String),
    /// This validator's state root differs from the one the network decided on.
    Diverged {
        /// The height after which the roots differ.
        height: u64,
        /// Our root.
        ours: [u8; 32],
        /// The root the decided block was built on.
        theirs: [u8; 32],
    },
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::Config(m) => write!(f, "configuration: {m}"),
            NodeError::State(e) => write!(f, "state store failed: {e}"),
            NodeError::Engine(e) => write!(f, "engine failed: {e}"),
            NodeError::Corrupt(m) => write!(f, "corrupt node data: {m}"),
            NodeError::Consensus(m) => write!(f, "consensus: {m}"),
            NodeError::Diverged {
                height,
                ours,
                theirs,
            } => write!(
                f,
                "state root mismatch after height {height}: ours is {}, the network decided on \
                 {}; this validator's execution diverged, it stops here and builds on nothing",
                hex::encode(ours),
                hex::encode(theirs)
            ),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<keel_state::StateError> for NodeError {
    fn from(e: keel_state::StateError) -> Self {
        NodeError::State(e)
    }
}

impl From<keel_engine::EngineError> for NodeError {
    fn from(e: keel_engine::EngineError) -> Self {
        match e {
            keel_engine::EngineError::State(s) => NodeError::State(s),
            other => NodeError::Engine(other.to_string()),
        }
    }
}

/// Malachite's node configuration.
#[derive(Clone, Debug)]
struct MalachiteConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl arc_malachitebft_app::config::NodeConfig for MalachiteConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn multiaddr(s: &str) -> Result<Multiaddr, NodeError> {
    s.parse()
        .map_err(|e| NodeError::Config(format!("bad multiaddr {s:?}: {e}")))
}

/// Runs the validator whose home is `home` until it stops.
pub async fn start(home: &Path) -> Result<(), NodeError> {
    let genesis = Genesis::load(&home.join("genesis.json"))?;
    let cfg: NodeConfig = read_json(&home.join("node.json"))?;
    let keyfile = KeyFile::load(&home.join("key.json"))?;
    let key = keyfile.signing_key()?;
    let me = Address(key.verifying_key().to_bytes());
    let vset = genesis.validator_set()?;
    if !vset.validators.iter().any(|v| v.address == me) {
        return Err(NodeError::Config(
            "this node's key is not in the genesis validator set".into(),
        ));
    }
    let api_addr = cfg.api.clone();
    let forward_to: Vec<String> = genesis
        .validators
        .iter()
        .map(|v| v.api.clone())
        .filter(|a| *a != api_addr)
        .collect();
    let state = NodeState::open(&home.join("data"), genesis, me)?;
    eprintln!(
        "keel-node: {} opened at height {}, root {}",
        cfg.moniker,
        state.height(),
        hex::encode(keel_state::StateStore::root(&state.store))
    );
    let shared = Arc::new(Mutex::new(state));

    let defaults = ConsensusConfig::default();
    let consensus = ConsensusConfig {
        p2p: arc_malachitebft_app::config::P2pConfig {
            listen_addr: multiaddr(&cfg.p2p)?,
            persistent_peers: cfg
                .peers
                .iter()
                .map(|p| multiaddr(p))
                .collect::<Result<_, _>>()?,
            ..defaults.p2p.clone()
        },
        ..defaults
    };
    let value_sync = ValueSyncConfig {
        status_update_interval: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
        ..ValueSyncConfig::default()
    };
    let mcfg = MalachiteConfig {
        moniker: cfg.moniker.clone(),
        consensus,
        value_sync,
    };

    let mut secret = key.to_bytes();
    let keypair = Keypair::ed25519_from_bytes(&mut secret)
        .map_err(|e| NodeError::Config(format!("network key: {e}")))?;
    let signer = KeelSigner::new(key.clone());
    let peer_id = keypair.public().to_peer_id().to_bytes();
    let proof = signer
        .sign_validator_proof(me.0.to_vec(), peer_id)
        .await
        .map_err(|e| NodeError::Consensus(format!("validator proof: {e:?}")))?;
    let proof_bytes =
        Codec::encode(&KeelCodec, &proof).map_err(|e| NodeError::Consensus(e.to_string()))?;
    let identity =
        NetworkIdentity::new_validator(cfg.moniker.clone(), keypair, me.to_string(), proof_bytes);
    let wal_dir = home.join("wal");
    std::fs::create_dir_all(&wal_dir)
        .map_err(|e| NodeError::Config(format!("cannot create {}: {e}", wal_dir.display())))?;
    let (channels, _engine) = start_engine(
        KeelContext,
        mcfg,
        WalContext::new(wal_dir.join("consensus.wal"), KeelCodec),
        NetworkContext::new(identity, KeelCodec),
        ConsensusContext::new_validator(me, Box::new(KeelVerifier), Box::new(signer)),
        SyncContext::new(KeelCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| NodeError::Consensus(format!("cannot start Malachite: {e}")))?;

    let listener = tokio::net::TcpListener::bind(&api_addr)
        .await
        .map_err(|e| NodeError::Config(format!("cannot listen on {api_addr}: {e}")))?;
    let router = api::router(api::Api {
        shared: shared.clone(),
        forward_to,
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("keel-node: API server stopped: {e}");
        }
    });
    eprintln!("keel-node: {} API on http://{api_addr}", cfg.moniker);
    // Peers for `/status`, from the network's state dump once a second.
    let net_requests = channels.net_requests.clone();
    let peers_of = shared.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(dump)) =
                arc_malachitebft_app_channel::NetworkRequest::dump_state(&net_requests).await
            {
                app::lock(&peers_of).peers = dump.peers.len();
            }
        }
    });
    app::run(shared, channels, home.to_path_buf()).await
}

/// Parses `--contract NAME=PATH.wasm[:0xARGS]`: the name, the code read from the file (or,
/// for `example:X`, what `example` returns for X), and the constructor's SCALE arguments (hex,
/// none if absent).
pub fn parse_contract_spec(
    spec: &str,
    example: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(String, Vec<u8>, Vec<u8>), NodeError> {
    let bad = |why: String| NodeError::Config(format!("--contract {spec:?}: {why}"));
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=PATH.wasm[:0xARGS]".into()))?;
    let (path, args) = match rest.rsplit_once(":0x") {
        Some((p, a)) => (
            p,
            hex::decode(a).map_err(|e| bad(format!("the arguments are not hex: {e}")))?,
        ),
        None => (rest, Vec::new()),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(bad("a name is letters, digits, '_' and '-'".into()));
    }
    let code = match path.strip_prefix("example:") {
        Some(x) => example(x).ok_or_else(|| bad(format!("no example contract {x:?}")))?,
        None => std::fs::read(path).map_err(|e| bad(format!("cannot read {path}: {e}")))?,
    };
    Ok((name.to_string(), code, args))
}

/// `keel node …` / `keel-node …`: `testnet --validators N --home DIR [--base-port P]
/// [--block-time-ms MS] [--chain-id ID] [--contract NAME=PATH.wasm[:0xARGS]]… [--deployer
/// HEX]` or `start --home DIR`. Returns the exit code.
pub fn cli_main(args: &[String]) -> i32 {
    cli_main_with(args, &|_| None)
}

/// [`cli_main`], with `example` giving the code of `--contract NAME=example:X` (the `keel`
/// CLI passes its built-in example contracts).
pub fn cli_main_with(args: &[String], example: &dyn Fn(&str) -> Option<Vec<u8>>) -> i32 {
    let usage = "usage: keel node testnet --validators N --home DIR [--base-port P] \
                 [--block-time-ms MS] [--chain-id ID]\n         \
                 [--contract NAME=PATH.wasm[:0xSCALE_ARGS]]... [--deployer ACCOUNT_HEX]\n       \
                 keel node start --home DIR/nodeK\n       \
                 keel node keygen --out FILE\n       \
                 keel node bench [--validators N] [--senders S] [--txs T] [--in-flight K] \
                 [--empty-secs S] [--down-secs S] [--token PATH.wasm] [--json FILE]";
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.first().map(String::as_str) == Some("keygen") {
        // A fresh key file; its public key (hex) on stdout, for `--deployer`.
        let Some(out) = opt("--out") else {
            eprintln!("usage: keel node keygen --out FILE");
            return 2;
        };
        if Path::new(&out).exists() {
            eprintln!("error: {out} exists; keygen never overwrites a key file");
            return 1;
        }
        let k = genesis::KeyFile::generate();
        let text = match serde_json::to_string_pretty(&k) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        if let Err(e) = std::fs::write(&out, text + "\n") {
            eprintln!("error: cannot write {out}: {e}");
            return 1;
        }
        println!("{}", k.public_key);
        return 0;
    }
    if args.first().map(String::as_str) == Some("bench") {
        let num = |name: &str, default: u64| {
            opt(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        let token = match opt("--token") {
            Some(p) => bench::read_code(Path::new(&p)),
            None => example("token")
                .ok_or_else(|| NodeError::Config("bench: --token PATH.wasm is needed".into())),
        };
        let run = token.and_then(|token| {
            let o = bench::BenchOptions {
                validators: num("--validators", 4) as usize,
                senders: num("--senders", 40) as usize,
                txs: num("--txs", 100) as usize,
                in_flight: num("--in-flight", 8) as usize,
                empty_secs: num("--empty-secs", 10),
                down_secs: num("--down-secs", 20),
                token,
                node_cmd: bench::node_command()?,
            };
            bench::run(&o)
        });
        return match run {
            Ok(v) => {
                if let Some(path) = opt("--json") {
                    let _ = std::fs::write(&path, format!("{v:#}\n"));
                }
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        };
    }
    let Some(home) = opt("--home").map(PathBuf::from) else {
        eprintln!("{usage}");
        return 2;
    };
    match args.first().map(String::as_str) {
        Some("testnet") => {
            let n = opt("--validators")
                .and_then(|v| v.parse().ok())
                .unwrap_or(4);
            let base_port = opt("--base-port")
                .and_then(|v| v.parse().ok())
                .unwrap_or(27000);
            let ports = opt("--ports").map(|p| {
                p.split(',')
                    .filter_map(|pair| {
                        let (a, b) = pair.split_once(':')?;
                        Some((a.parse().ok()?, b.parse().ok()?))
                    })
                    .collect()
            });
            let mut contracts = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if a == "--contract" {
                    let Some(spec) = args.get(i + 1) else {
                        eprintln!("{usage}");
                        return 2;
                    };
                    match parse_contract_spec(spec, example) {
                        Ok(c) => contracts.push(c),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return 2;
                        }
                    }
                }
            }
            let deployer = match opt("--deployer").map(|d| {
                hex::decode(d.trim_start_matches("0x"))
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            }) {
                None => None,
                Some(Some(d)) => Some(d),
                Some(None) => {
                    eprintln!("error: --deployer takes a 32-byte account in hex");
                    return 2;
                }
            };
            let o = genesis::TestnetOptions {
                contracts,
                deployer,
                validators: n,
                home: home.clone(),
                base_port,
                ports,
                chain_id: opt("--chain-id").unwrap_or_else(|| "keel-testnet".into()),
                block_time_ms: opt("--block-time-ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            };
            match genesis::testnet(&o) {
                Ok(g) => {
                    println!(
                        "wrote a {n}-validator testnet (chain id {}) to {}",
                        g.chain_id,
                        home.display()
                    );
                    for (k, v) in g.validators.iter().enumerate() {
                        println!("  node{k}: p2p {} api http://{}", v.p2p, v.api);
                    }
                    for c in &g.contracts {
                        println!("  contract {}: 0x{}", c.name, c.address);
                    }
                    if let Some(r) = &g.genesis_root {
                        println!("  genesis root: {r}");
                    }
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        Some("start") => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return 1;
                }
            };
            match rt.block_on(start(&home)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        _ => {
            eprintln!("{usage}");
            2
        }
    }
}
