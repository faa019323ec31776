//! [`Chain`]: the engine over a data dir's store, one block per state version.
//!
//! Contract and code names live in the store's own metadata (not in state, not in any root),
//! and are written in the same `WriteBatch` as the block that creates what they name: a
//! [`Named`] store wraps the `Store` for the engine and adds the names to the commit, so a
//! kill between a deploy's commit and anything after it cannot lose a name.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use crate::{Error as KitError, Outcome, short_hex};
use keel_engine::{Action, BlockContext, Engine, Receipt, Transaction};
use keel_state::{
    ChangeSet, Entry, Hash, OpenOptions, Proof, StateError, StateRead, StateStore, Store, Version,
};
use parity_scale_codec::{DecodeAll, Encode};

/// A 32-byte address.
pub type Address = [u8; 32];

/// Metadata key prefixes (inside the store's embedder namespace).
const CONTRACT: &[u8] = b"keel-cli/contract/";
const CODE: &[u8] = b"keel-cli/code/";
const NAME: &[u8] = b"keel-cli/name/";
/// The last committed block's `(height, timestamp)`, SCALE, written with each block: the next
/// block's clock starts after it, so a data dir's clock never goes backwards.
const CLOCK: &[u8] = b"keel-cli/clock";

/// State key prefixes the engine writes (ARCHITECTURE.md, "State layout").
const CODE_PREFIX: u8 = 0x01;
const INFO_PREFIX: u8 = 0x02;

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(rest);
    k
}

/// The metadata entries naming everything `changes` creates as `name`: code it uploads
/// (`0x01 ‖ code hash`) and contracts it instantiates (`0x02 ‖ address`), whose name then
/// resolves to that address.
pub fn name_entries(changes: &ChangeSet, name: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (k, v) in changes.iter() {
        let (Some(_), [prefix, rest @ ..]) = (v, k) else {
            continue;
        };
        if rest.len() != 32 {
            continue;
        }
        match *prefix {
            CODE_PREFIX => out.push((key(CODE, rest), name.as_bytes().to_vec())),
            INFO_PREFIX => {
                out.push((key(CONTRACT, rest), name.as_bytes().to_vec()));
                out.push((key(NAME, name.as_bytes()), rest.to_vec()));
            }
            _ => {}
        }
    }
    out
}

/// The data dir's store as the engine sees it: commits carry the pending name's metadata.
pub struct Named {
    store: Store,
    /// The name for what the next commits create.
    name: Option<String>,
    /// The names the last commit wrote.
    committed: Vec<Entry>,
    /// The `(height, timestamp)` of the block being committed, written as [`CLOCK`].
    clock: Option<(u64, u64)>,
}

impl StateRead for Named {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get(key)
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<Entry>, StateError> {
        self.store.next_entry(lower, upper)
    }
}

impl StateStore for Named {
    fn version(&self) -> Version {
        self.store.version()
    }

    fn root(&self) -> Hash {
        self.store.root()
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        let mut meta = match &self.name {
            Some(name) => name_entries(changes, name),
            None => Vec::new(),
        };
        let names = meta.len();
        if let Some(clock) = self.clock {
            meta.push((CLOCK.to_vec(), clock.encode()));
        }
        let out = self.store.commit_with_metadata(changes, &meta)?;
        meta.truncate(names);
        self.committed = meta;
        Ok(out)
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        self.store.prove(key, version)
    }
}

/// How to open the data dir.
#[derive(Debug, Clone, Copy)]
pub struct Durability {
    /// fsync every commit (`--sync on`).
    pub sync: bool,
    /// Open a store that lost acknowledged versions (`--accept-rollback`).
    pub accept_rollback: bool,
}

/// The chain in a data dir.
pub struct Chain {
    engine: Engine,
    store: Named,
    height: u64,
    timestamp: u64,
    /// The last committed block's `(height, timestamp)`, if the data dir recorded one.
    last: Option<(u64, u64)>,
    gas_limit: u64,
    labels: BTreeMap<Address, String>,
}

fn engine_error(e: keel_engine::EngineError) -> KitError {
    KitError::from(e)
}

impl Chain {
    /// Opens (creating if absent or empty) the store at `path`. The next block's height is
    /// the store's version + 1 and its timestamp `height × 1000`, or, when they are later,
    /// the last committed block's height + 1 and timestamp + 1000: the clock never goes
    /// backwards, whatever explicit heights and timestamps earlier blocks had.
    pub fn open(path: &Path, how: Durability) -> Result<Chain, KitError> {
        let store = OpenOptions::new()
            .sync(how.sync)
            .accept_rollback(how.accept_rollback)
            .open(path)?;
        let mut labels = BTreeMap::new();
        for (k, v) in store.metadata_prefix(CONTRACT)? {
            if let (Ok(a), Ok(name)) = (
                Address::try_from(&k[CONTRACT.len()..]),
                String::from_utf8(v),
            ) {
                labels.insert(a, name);
            }
        }
        let last = match store.metadata(CLOCK)? {
            None => None,
            Some(v) => Some(<(u64, u64)>::decode_all(&mut v.as_slice()).map_err(|_| {
                KitError::Decode("the data dir's last block clock (keel-cli/clock)".into())
            })?),
        };
        let (last_height, last_time) = last.unwrap_or((0, 0));
        let height = (store.version() + 1).max(last_height.saturating_add(1));
        let timestamp = height
            .saturating_mul(1000)
            .max(last.map_or(0, |_| last_time.saturating_add(1000)));
        Ok(Chain {
            engine: Engine::new(crate::engine_config()),
            store: Named {
                store,
                name: None,
                committed: Vec::new(),
                clock: None,
            },
            height,
            timestamp,
            last,
            gas_limit: crate::DEFAULT_GAS_LIMIT,
            labels,
        })
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store.store
    }

    /// The store underneath, for writes outside a block (importing names).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store.store
    }

    /// Names what the next blocks create (uploaded code, instantiated contracts) `name`, in
    /// the same commit; `None` stops naming.
    pub fn name_next_blocks(&mut self, name: Option<&str>) {
        self.store.name = name.map(str::to_string);
    }

    /// The address most recently deployed under `name`.
    pub fn address_of(&self, name: &str) -> Result<Option<Address>, KitError> {
        Ok(self
            .store()
            .metadata(&key(NAME, name.as_bytes()))?
            .and_then(|v| Address::try_from(v.as_slice()).ok()))
    }

    /// Every contract name deployed here.
    pub fn names(&self) -> Result<Vec<String>, KitError> {
        Ok(self
            .store()
            .metadata_prefix(NAME)?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[NAME.len()..]).into_owned())
            .collect())
    }

    /// The metadata entries that name `address` (and make `name` resolve to it) and
    /// `code_hash`, for importing names kept elsewhere.
    pub fn name_entries_for(
        address: Option<&Address>,
        code_hash: Option<&Hash>,
        name: &str,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        if let Some(a) = address {
            out.push((key(CONTRACT, a), name.as_bytes().to_vec()));
            out.push((key(NAME, name.as_bytes()), a.to_vec()));
        }
        if let Some(h) = code_hash {
            out.push((key(CODE, h), name.as_bytes().to_vec()));
        }
        out
    }

    /// The height the next block will have.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The timestamp (ms) the next block will have.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Moves `blocks` blocks ahead (1000 ms each).
    pub fn advance(&mut self, blocks: u64) {
        self.height = self.height.saturating_add(blocks);
        self.timestamp = self.timestamp.saturating_add(blocks.saturating_mul(1000));
    }

    /// Sets the next block's height.
    pub fn set_height(&mut self, height: u64) {
        self.height = height;
    }

    /// Sets the next block's timestamp (ms). Refused if it is before the last committed
    /// block's timestamp: a chain's clock never goes backwards (equal is allowed).
    pub fn set_timestamp(&mut self, timestamp: u64) -> Result<(), KitError> {
        if let Some((height, last)) = self.last
            && timestamp < last
        {
            return Err(KitError::Clock(format!(
                "timestamp {timestamp} is before block {height}'s timestamp {last}: a chain's \
                 clock never goes backwards"
            )));
        }
        self.timestamp = timestamp;
        Ok(())
    }

    /// The last committed block's `(height, timestamp)`, if the data dir recorded one.
    pub fn last_block_clock(&self) -> Option<(u64, u64)> {
        self.last
    }

    /// The gas limit of transactions this chain builds.
    pub fn set_gas_limit(&mut self, gas_limit: u64) {
        self.gas_limit = gas_limit;
    }

    /// The latest version.
    pub fn version(&self) -> Version {
        self.store.version()
    }

    /// The latest root.
    pub fn root(&self) -> Hash {
        self.store.root()
    }

    /// Any raw state key's value.
    pub fn get_raw(&self, state_key: &[u8]) -> Result<Option<Vec<u8>>, KitError> {
        Ok(self.store.get(state_key)?)
    }

    /// A proof of any raw state key against the latest root.
    pub fn prove_raw(&self, state_key: &[u8]) -> Result<(Proof, Hash, Version), KitError> {
        let version = self.version();
        Ok((self.store.prove(state_key, version)?, self.root(), version))
    }

    /// An account's next nonce, from state.
    pub fn nonce(&self, account: Address) -> Result<u64, KitError> {
        keel_engine::nonce(&self.store, &account).map_err(engine_error)
    }

    fn context(&self) -> BlockContext {
        BlockContext {
            height: self.height,
            timestamp: self.timestamp,
        }
    }

    /// Runs `transactions` as one block and commits it (with the pending name's metadata).
    pub fn execute_block(
        &mut self,
        transactions: &[Transaction],
    ) -> Result<Vec<Receipt>, KitError> {
        let ctx = self.context();
        self.store.clock = Some((ctx.height, ctx.timestamp));
        let out = self
            .engine
            .execute_block(&mut self.store, &ctx, transactions)
            .map_err(engine_error);
        self.store.clock = None;
        let out = out?;
        self.last = Some((ctx.height, ctx.timestamp));
        for (k, v) in std::mem::take(&mut self.store.committed) {
            if let Some(a) = k.strip_prefix(CONTRACT)
                && let Ok(a) = Address::try_from(a)
            {
                self.labels
                    .insert(a, String::from_utf8_lossy(&v).into_owned());
            }
        }
        Ok(out.receipts)
    }

    fn label_for(&self, action: &Action) -> String {
        match action {
            Action::Deploy { .. } => "deploy".to_string(),
            Action::Instantiate { .. } => "instantiate".to_string(),
            Action::Call {
                contract, method, ..
            } => format!("{}.{method}", self.label_of(contract)),
        }
    }

    fn transaction(&self, sender: Address, action: Action) -> Result<Transaction, KitError> {
        Ok(Transaction {
            sender,
            nonce: self.nonce(sender)?,
            gas_limit: self.gas_limit,
            action,
        })
    }

    /// Runs one transaction as its own block.
    pub fn execute(&mut self, sender: Address, action: Action) -> Result<Outcome, KitError> {
        let label = self.label_for(&action);
        let tx = self.transaction(sender, action)?;
        let receipt = self
            .execute_block(std::slice::from_ref(&tx))?
            .pop()
            .ok_or_else(|| KitError::Engine("the engine returned no receipt".into()))?;
        Ok(Outcome { receipt, label })
    }

    /// Calls a method in a new block.
    pub fn call(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Outcome, KitError> {
        self.execute(
            sender,
            Action::Call {
                contract,
                method: method.to_string(),
                args,
            },
        )
    }

    /// Runs a call read-only.
    pub fn simulate(
        &self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Outcome, KitError> {
        let action = Action::Call {
            contract,
            method: method.to_string(),
            args,
        };
        let label = self.label_for(&action);
        let tx = self.transaction(sender, action)?;
        let receipt = self
            .engine
            .simulate(&self.store, &self.context(), &tx)
            .map_err(engine_error)?;
        Ok(Outcome { receipt, label })
    }

    /// Runs a call read-only twice, plainly and traced at `TraceDetail::Functions` (for
    /// `keel profile`): both receipts (equal unless the profiler is broken) and the trace.
    pub fn simulate_profiled(
        &self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<(Receipt, Receipt, keel_engine::Trace), KitError> {
        let action = Action::Call {
            contract,
            method: method.to_string(),
            args,
        };
        let tx = self.transaction(sender, action)?;
        let ctx = self.context();
        let plain = self
            .engine
            .simulate(&self.store, &ctx, &tx)
            .map_err(engine_error)?;
        let (traced, trace) = self
            .engine
            .simulate_traced(&self.store, &ctx, &tx, keel_engine::TraceDetail::Functions)
            .map_err(engine_error)?;
        Ok((plain, traced, trace))
    }

    /// The label of `contract` in output: its name here, or its short hex.
    pub fn label_of(&self, contract: &Address) -> String {
        self.labels
            .get(contract)
            .cloned()
            .unwrap_or_else(|| short_hex(contract))
    }

    /// Labels `contract` in output (not stored).
    pub fn set_label(&mut self, contract: Address, label: &str) {
        self.labels.insert(contract, label.to_string());
    }
}
