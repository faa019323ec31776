//! The node's state: the chain store (state, blocks, commit certificates, receipts, a
//! transaction index, all in one RocksDB data dir), the engine and the mempool.
//!
//! Invariant: a decided block, its commit certificate, its receipts and its transaction
//! index entries are written in the same `WriteBatch` as the state it produces
//! (`Store::commit_with_metadata`), so after a kill -9 the data dir holds either all of height
//! h or none of it, and the next height to decide is always `version − GENESIS_VERSION + 1`.
//!
//! Invariant: store version 1 ([`GENESIS_VERSION`]) is the genesis state: the genesis
//! contracts (none for a chain without them), their names and the genesis hash, committed in
//! one `WriteBatch` when the node first opens an empty data dir, so height h is version h + 1.
//! Its root must equal the genesis file's `genesis_root`; block 1 carries it as `prev_root`.

use std::collections::BTreeMap;
use std::path::Path;

use keel_chain::mempool::{Mempool, MempoolConfig};
use keel_chain::tx::SignedTx;
use keel_engine::{Engine, EngineConfig, Receipt};
use keel_state::{OpenOptions, StateStore, Store};
use parity_scale_codec::{Decode, DecodeAll, Encode};

use crate::NodeError;
use crate::block::Block;
use crate::context::{Address, BlockHash};
use crate::genesis::Genesis;

const BLOCK: &[u8] = b"keel-node/block/";
const CERT: &[u8] = b"keel-node/cert/";
const RECEIPTS: &[u8] = b"keel-node/receipts/";
const TX: &[u8] = b"keel-node/tx/";
/// blake3 of the genesis file's JSON, written with the genesis state.
const GENESIS: &[u8] = b"keel-node/genesis";

/// The store version that holds the genesis state: height h is version h + 1.
pub const GENESIS_VERSION: u64 = 1;

fn hkey(prefix: &[u8], h: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&h.to_be_bytes());
    k
}

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TxLocation {
    /// Its block.
    pub height: u64,
    /// Its index in the block.
    pub index: u32,
}

/// What committing a decided block did.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The height.
    pub height: u64,
    /// The root after it.
    pub root: [u8; 32],
    /// Its transaction count.
    pub txs: usize,
}

/// The node's state.
pub struct NodeState {
    /// The chain's genesis.
    pub genesis: Genesis,
    /// This validator.
    pub me: Address,
    /// The data dir's store.
    pub store: Store,
    /// The engine.
    pub engine: Engine,
    /// The mempool.
    pub mempool: Mempool,
    /// Blocks seen in proposals or sync and not yet committed, by hash (pruned on commit).
    pub undecided: BTreeMap<BlockHash, (u64, Vec<u8>)>,
    /// Test-only fault hook (debug builds, `KEEL_NODE_FAULT_AT_HEIGHT`): from this height
    /// on, this node adds one write of its own to every block it executes.
    pub fault_at: Option<u64>,
    /// Why the node stopped, if it did.
    pub halted: Option<String>,
    /// Connected peers, as last reported by the network.
    pub peers: usize,
}

impl NodeState {
    /// Opens (creating) the data dir.
    pub fn open(data: &Path, genesis: Genesis, me: Address) -> Result<NodeState, NodeError> {
        let store = OpenOptions::new()
            .sync(false)
            .accept_rollback(true)
            .open(data)?;
        let mut store = store;
        let mut engine = Engine::new(EngineConfig::default());
        let genesis_hash = *blake3::hash(
            &serde_json::to_vec(&genesis)
                .map_err(|e| NodeError::Config(format!("genesis: {e}")))?,
        )
        .as_bytes();
        if store.version() == 0 {
            let (deploys, pending) = genesis.execute(&mut engine, &store)?;
            let mut meta = vec![(GENESIS.to_vec(), genesis_hash.to_vec())];
            for d in &deploys {
                meta.extend(keel_chain::Chain::name_entries_for(
                    Some(&d.address),
                    Some(&d.code_hash),
                    &d.name,
                ));
            }
            store.commit_with_metadata(&pending.changes, &meta)?;
        }
        match store.metadata(GENESIS)? {
            Some(h) if h == genesis_hash => {}
            _ => {
                return Err(NodeError::Config(format!(
                    "the data dir {} holds another chain's genesis (or none): use the data dir \
                     this genesis made, or an empty one",
                    data.display()
                )));
            }
        }
        // Checked on every open, not only the first: a data dir whose genesis state is not the
        // one the genesis file names never runs.
        let root = store.root_at(GENESIS_VERSION)?;
        if let Some(want) = &genesis.genesis_root
            && *want != hex::encode(root)
        {
            return Err(NodeError::Config(format!(
                "the genesis state root is {}, the genesis file says {want}: this build \
                 executes the genesis contracts differently",
                hex::encode(root)
            )));
        }
        engine.preload(&store)?;
        let mempool = Mempool::new(MempoolConfig {
            chain_id: genesis.chain_id.clone(),
            max_txs: 20_000,
            max_bytes: 64 << 20,
            max_tx_bytes: SignedTx::MAX_BYTES,
            block_gas_limit: genesis.block_gas_limit,
            max_nonce_ahead: 1_000,
        });
        let fault_at = if cfg!(debug_assertions) {
            std::env::var("KEEL_NODE_FAULT_AT_HEIGHT")
                .ok()
                .and_then(|s| s.parse().ok())
        } else {
            None
        };
        Ok(NodeState {
            genesis,
            me,
            store,
            engine,
            mempool,
            undecided: BTreeMap::new(),
            fault_at,
            halted: None,
            peers: 0,
        })
    }

    /// The last committed height (the store's version − [`GENESIS_VERSION`]; 0 is genesis).
    pub fn height(&self) -> u64 {
        self.store.version().saturating_sub(GENESIS_VERSION)
    }

    /// The store version of the state after height `h`.
    pub fn version_of(h: u64) -> u64 {
        h.saturating_add(GENESIS_VERSION)
    }

    /// The address of the genesis contract `name`.
    pub fn address_of(&self, name: &str) -> Result<Option<[u8; 32]>, NodeError> {
        Ok(self
            .store
            .metadata(&keel_chain::name_key(name))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()))
    }

    /// The name of a genesis contract at `address`.
    pub fn name_of(&self, address: &[u8; 32]) -> Result<Option<String>, NodeError> {
        Ok(self
            .store
            .metadata(&keel_chain::contract_name_key(address))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// An account's next nonce.
    pub fn nonce(&self, a: &[u8; 32]) -> Result<u64, String> {
        keel_engine::nonce(&self.store, a).map_err(|e| e.to_string())
    }

    /// The committed block at `h`.
    pub fn block_bytes(&self, h: u64) -> Result<Option<Vec<u8>>, NodeError> {
        Ok(self.store.metadata(&hkey(BLOCK, h))?)
    }

    /// The committed block at `h`, decoded.
    pub fn block(&self, h: u64) -> Result<Option<Block>, NodeError> {
        match self.block_bytes(h)? {
            None => Ok(None),
            Some(b) => Block::from_bytes(&b)
                .map(Some)
                .map_err(|_| NodeError::Corrupt(format!("block {h} does not decode"))),
        }
    }

    /// The stored commit certificate of `h`.
    pub fn certificate(&self, h: u64) -> Result<Option<Vec<u8>>, NodeError> {
        Ok(self.store.metadata(&hkey(CERT, h))?)
    }

    /// The receipts of height `h`.
    pub fn receipts(&self, h: u64) -> Result<Option<Vec<Receipt>>, NodeError> {
        match self.store.metadata(&hkey(RECEIPTS, h))? {
            None => Ok(None),
            Some(b) => Vec::<Receipt>::decode_all(&mut b.as_slice())
                .map(Some)
                .map_err(|_| NodeError::Corrupt(format!("receipts of {h} do not decode"))),
        }
    }

    /// Where a committed transaction is.
    pub fn tx_location(&self, hash: &[u8; 32]) -> Result<Option<TxLocation>, NodeError> {
        let mut k = TX.to_vec();
        k.extend_from_slice(hash);
        match self.store.metadata(&k)? {
            None => Ok(None),
            Some(b) => TxLocation::decode_all(&mut b.as_slice())
                .map(Some)
                .map_err(|_| NodeError::Corrupt("tx index entry does not decode".into())),
        }
    }

    /// The timestamp of the last committed block (0 before height 1).
    pub fn last_timestamp(&self) -> Result<u64, NodeError> {
        Ok(self.block(self.height())?.map(|b| b.timestamp).unwrap_or(0))
    }

    /// Executes the decided block `bytes` at the next height and commits it with its
    /// certificate. `Err(Diverged)` if its `prev_root` is not our root: nothing is written.
    pub fn commit_decided(&mut self, bytes: &[u8], cert: &[u8]) -> Result<Committed, NodeError> {
        let block = Block::from_bytes(bytes)
            .map_err(|_| NodeError::Corrupt("decided block does not decode".into()))?;
        let height = self.height() + 1;
        if block.height != height {
            return Err(NodeError::Corrupt(format!(
                "decided block has height {}, the next height is {height}",
                block.height
            )));
        }
        let ours = self.store.root();
        if block.prev_root != ours {
            return Err(NodeError::Diverged {
                height: height - 1,
                ours,
                theirs: block.prev_root,
            });
        }
        let ctx = keel_engine::BlockContext {
            height,
            timestamp: block.timestamp,
        };
        let txs = block.engine_txs(&self.genesis.chain_id);
        let mut pending = self.engine.execute_pending_raw(&self.store, &ctx, &txs)?;
        if self.fault_at.is_some_and(|f| height >= f) {
            // Test-only: a validator whose execution differs from everyone else's.
            pending.changes.put(
                b"\xffkeel-node-test-fault".to_vec(),
                height.to_le_bytes().to_vec(),
            );
        }
        let mut meta = vec![
            (hkey(BLOCK, height), bytes.to_vec()),
            (hkey(CERT, height), cert.to_vec()),
            (hkey(RECEIPTS, height), pending.receipts.encode()),
        ];
        for (i, t) in block.txs.iter().enumerate() {
            let mut k = TX.to_vec();
            k.extend_from_slice(&keel_chain::tx::tx_hash(t));
            meta.push((
                k,
                TxLocation {
                    height,
                    index: i as u32,
                }
                .encode(),
            ));
        }
        if self.store.version() != pending.base_version {
            return Err(NodeError::Corrupt("store moved during execution".into()));
        }
        let (_, root) = self.store.commit_with_metadata(&pending.changes, &meta)?;
        let store = &self.store;
        self.mempool
            .recheck(|a| keel_engine::nonce(store, a).map_err(|e| e.to_string()));
        self.undecided.retain(|_, (h, _)| *h > height);
        Ok(Committed {
            height,
            root,
            txs: block.txs.len(),
        })
    }
}
