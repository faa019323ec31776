//! Genesis, node configuration and keys: `keel node testnet` writes them, `keel node start`
//! reads them.
//!
//! Layout of a testnet home: `DIR/genesis.json` (shared) and per validator `DIR/nodeK/` with
//! `genesis.json` (a copy), `node.json` (ports, peers) and `key.json` (the ed25519 secret).
//! The node keeps its state in `DIR/nodeK/data` (Keel's RocksDB store, blocks and commit
//! certificates in its metadata) and Malachite's WAL in `DIR/nodeK/wal`.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::NodeError;
use crate::context::{Address, PublicKey, Validator, ValidatorSet};

/// One validator in the genesis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisValidator {
    /// Hex of its ed25519 public key (also its address).
    pub public_key: String,
    /// Voting power.
    pub power: u64,
    /// Its consensus listen address, a libp2p multiaddr (`/ip4/127.0.0.1/tcp/PORT`).
    pub p2p: String,
    /// Its client API, `127.0.0.1:PORT` (used to forward transactions to the proposer).
    pub api: String,
}

/// A contract deployed at genesis: uploaded and instantiated by the genesis deployer, named,
/// before height 1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisContract {
    /// Its name (`addr:NAME` and `NAME` resolve to it through the node's API).
    pub name: String,
    /// The wasm code (hex).
    pub code: String,
    /// `blake3(code)` (hex), checked against `code`.
    pub code_hash: String,
    /// The SCALE arguments of its constructor (hex, empty for none).
    pub args: String,
    /// Its address (hex): `contract_address(deployer, code_hash, salt = name)`, checked.
    pub address: String,
}

/// What every validator of a chain agrees on before height 1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Genesis {
    /// The chain id signed into every transaction.
    pub chain_id: String,
    /// The validators.
    pub validators: Vec<GenesisValidator>,
    /// The most gas (sum of transaction gas limits) in one block.
    pub block_gas_limit: u64,
    /// The most bytes (SCALE block) in one block.
    pub block_max_bytes: usize,
    /// The most transactions in one block.
    pub block_max_txs: usize,
    /// Propose timeout (ms) in round 0; later rounds add `timeout_delta_ms`.
    pub timeout_propose_ms: u64,
    /// Prevote and precommit timeouts (ms) in round 0.
    pub timeout_vote_ms: u64,
    /// Added per round (ms).
    pub timeout_delta_ms: u64,
    /// The minimum time per height (ms), 0 for none: empty heights then follow as fast as
    /// consensus goes.
    pub block_time_ms: u64,
    /// The account that deploys the genesis contracts (hex; its nonce after genesis is twice
    /// their number). Absent: `keel_chain::account("keel.genesis")`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployer: Option<String>,
    /// Contracts deployed at genesis, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<GenesisContract>,
    /// The state root after the genesis contracts (hex): every validator checks its own
    /// against it before height 1, and block 1 carries it as `prev_root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_root: Option<String>,
}

impl Genesis {
    /// The validator set.
    pub fn validator_set(&self) -> Result<ValidatorSet, NodeError> {
        let mut vs = Vec::new();
        for v in &self.validators {
            let pk = parse_key(&v.public_key)?;
            vs.push(Validator {
                address: Address(pk),
                public_key: PublicKey(pk),
                voting_power: v.power,
            });
        }
        if vs.is_empty() {
            return Err(NodeError::Config("the genesis has no validators".into()));
        }
        Ok(ValidatorSet::new(vs))
    }

    /// Reads a genesis file.
    pub fn load(path: &Path) -> Result<Genesis, NodeError> {
        read_json(path)
    }

    /// The genesis deployer account.
    pub fn deployer(&self) -> Result<[u8; 32], NodeError> {
        match &self.deployer {
            Some(d) => parse_key(d),
            None => Ok(keel_chain::account("keel.genesis")),
        }
    }

    /// The genesis transactions: for each contract, in order, `Deploy` then `Instantiate`
    /// (salt: its name) from the deployer, nonces 0, 1, 2, …; with each contract's address
    /// and code hash. Checks every recorded hash and address.
    pub fn transactions(&self) -> Result<Vec<GenesisDeploy>, NodeError> {
        let deployer = self.deployer()?;
        let mut out = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.contracts.iter().enumerate() {
            if c.name.is_empty() || !names.insert(c.name.clone()) {
                return Err(NodeError::Config(format!(
                    "genesis contract {i}: empty or repeated name {:?}",
                    c.name
                )));
            }
            let bad =
                |what: &str| NodeError::Config(format!("genesis contract {}: {what}", c.name));
            let code = hex::decode(&c.code).map_err(|_| bad("code is not hex"))?;
            let args = hex::decode(&c.args).map_err(|_| bad("args are not hex"))?;
            let code_hash = keel_engine::code_hash(&code);
            if hex::encode(code_hash) != c.code_hash {
                return Err(bad("code_hash is not blake3 of the code"));
            }
            let address = keel_engine::contract_address(&deployer, &code_hash, c.name.as_bytes());
            if hex::encode(address) != c.address {
                return Err(bad(
                    "address does not follow from deployer, code hash and name",
                ));
            }
            let nonce = 2 * i as u64;
            let tx = |nonce, action| keel_engine::Transaction {
                sender: deployer,
                nonce,
                gas_limit: self.block_gas_limit,
                action,
            };
            out.push(GenesisDeploy {
                name: c.name.clone(),
                address,
                code_hash,
                txs: [
                    tx(nonce, keel_engine::Action::Deploy { code }),
                    tx(
                        nonce + 1,
                        keel_engine::Action::Instantiate {
                            code_hash,
                            salt: c.name.as_bytes().to_vec(),
                            args,
                        },
                    ),
                ],
            });
        }
        Ok(out)
    }

    /// Runs the genesis transactions on `state` (at block height 0, timestamp 0) and returns
    /// the pending result, checking that every one of them succeeded.
    pub fn execute<S: keel_state::StateStore>(
        &self,
        engine: &mut keel_engine::Engine,
        state: &S,
    ) -> Result<(Vec<GenesisDeploy>, keel_engine::PendingBlock), NodeError> {
        let deploys = self.transactions()?;
        let txs: Vec<keel_engine::Transaction> =
            deploys.iter().flat_map(|d| d.txs.iter().cloned()).collect();
        let ctx = keel_engine::BlockContext {
            height: 0,
            timestamp: 0,
        };
        let pending = engine.execute_pending(state, &ctx, &txs)?;
        for (i, r) in pending.receipts.iter().enumerate() {
            if r.status != keel_engine::Status::Success {
                return Err(NodeError::Config(format!(
                    "genesis contract {}: {} did not succeed: {:?}",
                    deploys[i / 2].name,
                    if i % 2 == 0 { "deploy" } else { "instantiate" },
                    r.status
                )));
            }
        }
        Ok((deploys, pending))
    }
}

/// One genesis contract's transactions.
#[derive(Clone, Debug)]
pub struct GenesisDeploy {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: [u8; 32],
    /// Its code hash.
    pub code_hash: [u8; 32],
    /// `Deploy`, then `Instantiate`.
    pub txs: [keel_engine::Transaction; 2],
}

/// A node's own configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeConfig {
    /// A name for logs.
    pub moniker: String,
    /// Consensus listen address (multiaddr).
    pub p2p: String,
    /// Client API listen address.
    pub api: String,
    /// The other validators' consensus addresses.
    pub peers: Vec<String>,
}

/// A key file: the hex of a 32-byte ed25519 secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Secret (hex).
    pub secret: String,
    /// Public key (hex), for reference.
    pub public_key: String,
}

impl KeyFile {
    /// A fresh random key.
    pub fn generate() -> KeyFile {
        let secret: [u8; 32] = rand::random();
        let key = SigningKey::from_bytes(&secret);
        KeyFile {
            secret: hex::encode(secret),
            public_key: hex::encode(key.verifying_key().to_bytes()),
        }
    }

    /// The signing key.
    pub fn signing_key(&self) -> Result<SigningKey, NodeError> {
        Ok(SigningKey::from_bytes(&parse_key(&self.secret)?))
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<KeyFile, NodeError> {
        read_json(path)
    }
}

fn parse_key(s: &str) -> Result<[u8; 32], NodeError> {
    let b = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| NodeError::Config(format!("bad hex key {s:?}: {e}")))?;
    <[u8; 32]>::try_from(b.as_slice())
        .map_err(|_| NodeError::Config(format!("a key is 32 bytes, {s:?} is {}", b.len())))
}

/// Reads a JSON file with a clear error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, NodeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NodeError::Config(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| NodeError::Config(format!("{} is not valid: {e}", path.display())))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), NodeError> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| NodeError::Config(format!("cannot encode {}: {e}", path.display())))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| NodeError::Config(format!("cannot write {}: {e}", path.display())))
}

/// Options of `keel node testnet`.
#[derive(Clone, Debug)]
pub struct TestnetOptions {
    /// Number of validators.
    pub validators: usize,
    /// Where to write.
    pub home: PathBuf,
    /// Ports: validator k listens for consensus on `base_port + 2k` and serves its API on
    /// `base_port + 2k + 1`, unless `ports` is given.
    pub base_port: u16,
    /// Explicit (p2p, api) ports per validator (tests pick free ones).
    pub ports: Option<Vec<(u16, u16)>>,
    /// The chain id.
    pub chain_id: String,
    /// Minimum time per height (ms).
    pub block_time_ms: u64,
    /// Contracts deployed at genesis: (name, wasm code, SCALE constructor arguments).
    pub contracts: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// The genesis deployer (default: `keel_chain::account("keel.genesis")`).
    pub deployer: Option<[u8; 32]>,
}

/// Writes a testnet: a genesis and one home per validator.
pub fn testnet(o: &TestnetOptions) -> Result<Genesis, NodeError> {
    if o.validators == 0 {
        return Err(NodeError::Config("--validators must be at least 1".into()));
    }
    let ports: Vec<(u16, u16)> = match &o.ports {
        Some(p) if p.len() == o.validators => p.clone(),
        Some(_) => return Err(NodeError::Config("one port pair per validator".into())),
        None => (0..o.validators)
            .map(|k| {
                let p = o.base_port.saturating_add((2 * k) as u16);
                (p, p.saturating_add(1))
            })
            .collect(),
    };
    let keys: Vec<KeyFile> = (0..o.validators).map(|_| KeyFile::generate()).collect();
    let p2p = |k: usize| format!("/ip4/127.0.0.1/tcp/{}", ports[k].0);
    let mut genesis = Genesis {
        chain_id: o.chain_id.clone(),
        validators: (0..o.validators)
            .map(|k| GenesisValidator {
                public_key: keys[k].public_key.clone(),
                power: 1,
                p2p: p2p(k),
                api: format!("127.0.0.1:{}", ports[k].1),
            })
            .collect(),
        block_gas_limit: 2_000_000_000,
        block_max_bytes: 1 << 20,
        block_max_txs: 5_000,
        timeout_propose_ms: 1_000,
        timeout_vote_ms: 500,
        timeout_delta_ms: 250,
        block_time_ms: o.block_time_ms,
        deployer: o.deployer.map(hex::encode),
        contracts: Vec::new(),
        genesis_root: None,
    };
    {
        let deployer = genesis.deployer()?;
        for (name, code, args) in &o.contracts {
            let code_hash = keel_engine::code_hash(code);
            genesis.contracts.push(GenesisContract {
                name: name.clone(),
                code: hex::encode(code),
                code_hash: hex::encode(code_hash),
                args: hex::encode(args),
                address: hex::encode(keel_engine::contract_address(
                    &deployer,
                    &code_hash,
                    name.as_bytes(),
                )),
            });
        }
        // The root every validator must reach, computed here in memory with the same engine.
        let mut engine = keel_engine::Engine::new(keel_engine::EngineConfig::default());
        let mut mem = keel_state::MemStore::new();
        let (_, pending) = genesis.execute(&mut engine, &mem)?;
        let (_, root) = keel_state::StateStore::commit(&mut mem, &pending.changes)?;
        genesis.genesis_root = Some(hex::encode(root));
    }
    std::fs::create_dir_all(&o.home)
        .map_err(|e| NodeError::Config(format!("cannot create {}: {e}", o.home.display())))?;
    write_json(&o.home.join("genesis.json"), &genesis)?;
    for (k, key) in keys.iter().enumerate() {
        let dir = o.home.join(format!("node{k}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| NodeError::Config(format!("cannot create {}: {e}", dir.display())))?;
        write_json(&dir.join("genesis.json"), &genesis)?;
        write_json(&dir.join("key.json"), key)?;
        write_json(
            &dir.join("node.json"),
            &NodeConfig {
                moniker: format!("node{k}"),
                p2p: p2p(k),
                api: format!("127.0.0.1:{}", ports[k].1),
                peers: (0..o.validators).filter(|j| *j != k).map(p2p).collect(),
            },
        )?;
    }
    Ok(genesis)
}
