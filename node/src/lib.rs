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

/// `keel node …` / `keel-node …`: `testnet --validators N --home DIR [--base-port P]
/// [--block-time-ms MS] [--chain-id ID]` or `start --home DIR`. Returns the exit code.
pub fn cli_main(args: &[String]) -> i32 {
    let usage = "usage: keel node testnet --validators N --home DIR [--base-port P] \
                 [--block-time-ms MS] [--chain-id ID]\n       keel node start --home DIR/nodeK";
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
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
            let o = genesis::TestnetOptions {
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
