//! [`TestChain`]: the in-process chain, on keel-chain's [`keel_chain::Chain`] over an
//! in-memory or temporary RocksDB store.

use std::collections::BTreeMap;
use std::ops::Bound;
#[cfg(feature = "rocksdb")]
use std::path::{Path, PathBuf};

use parity_scale_codec::{Decode, Encode};

use keel_chain::{Chain, ChainStore, Clock};
use keel_engine::{Action, BlockContext, Engine, Receipt, Transaction};
#[cfg(feature = "rocksdb")]
use keel_state::Store;
use keel_state::{
    ChangeSet, Entry, Hash, MemStore, Proof, StateError, StateRead, StateStore, Version,
};

use crate::{Address, Error, GasReport, Outcome, storage_key};

/// Which store a [`TestChain`] keeps its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// RocksDB in a temporary directory: the node's store (feature `rocksdb`).
    #[cfg(feature = "rocksdb")]
    RocksDb,
    /// `MemStore`: the same roots as RocksDB, in memory; cheaper to create and snapshot. The
    /// default.
    Memory,
}

/// Runs `$body` with `$s` bound to the backend's store, whichever it is.
macro_rules! on_store {
    ($backend:expr, $s:ident => $body:expr) => {
        match $backend {
            Backend::Mem($s) => $body,
            #[cfg(feature = "rocksdb")]
            Backend::Rocks { store: $s, .. } => $body,
        }
    };
}

/// The store under a [`TestChain`]'s [`keel_chain::Chain`].
enum Backend {
    Mem(MemStore),
    #[cfg(feature = "rocksdb")]
    Rocks {
        /// Boxed: a `Store` is several times the size of a `MemStore`.
        store: Box<Store>,
        path: PathBuf,
        /// Deleted on drop; `None` for a caller-owned directory.
        _dir: Option<tempfile::TempDir>,
    },
}

impl StateRead for Backend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        on_store!(self, s => s.get(key))
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<Entry>, StateError> {
        on_store!(self, s => s.next_entry(lower, upper))
    }
}

impl StateStore for Backend {
    fn version(&self) -> Version {
        on_store!(self, s => s.version())
    }

    fn root(&self) -> Hash {
        on_store!(self, s => s.root())
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        on_store!(self, s => s.commit(changes))
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        on_store!(self, s => s.prove(key, version))
    }
}

impl ChainStore for Backend {}

/// A saved state of a [`TestChain`], restored with [`TestChain::restore`].
///
/// For the in-memory store it is a clone; for RocksDB, a checkpoint (hard links to the
/// immutable table files) in a temporary directory.
pub struct Snapshot {
    state: SnapState,
    clock: Clock,
    labels: BTreeMap<[u8; 32], String>,
}

enum SnapState {
    Mem(MemStore),
    #[cfg(feature = "rocksdb")]
    Rocks(tempfile::TempDir),
}

/// A Merkle proof of one contract storage entry against the current root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The full state key (`0x04 ‖ address ‖ key`).
    pub state_key: Vec<u8>,
    /// The value at the proven version (`None`: absent).
    pub value: Option<Vec<u8>>,
    /// The root the proof is against.
    pub root: Hash,
    /// The version of that root.
    pub version: Version,
    /// The proof.
    pub proof: Proof,
}

impl StorageProof {
    /// Checks the proof against its root, for its value (or absence).
    pub fn verify(&self) -> Result<(), keel_state::proof::ProofError> {
        self.proof
            .verify(&self.root, &self.state_key, self.value.as_deref())
    }
}

/// One contract storage entry: (the contract's own key, value).
pub type StorageEntry = (Vec<u8>, Vec<u8>);

/// An in-process chain for testing contracts: the real engine over a real store.
///
/// It is keel-chain's [`Chain`] (the layer under the `keel` CLI and the node: the same
/// clock rule, nonces, transaction building and labels) over an in-memory or temporary
/// RocksDB store, with a gas report, snapshots and typed helpers. Each
/// [`call`](TestChain::call), [`deploy`](TestChain::deploy) or
/// [`execute_block`](TestChain::execute_block) is one block, executed with
/// `Engine::execute_block_traced` (the receipts, gas and root of `Engine::execute_block`, plus
/// the call tree the gas report's nested rows come from) at the chain's current height and
/// timestamp and committed to the store. Height and timestamp move only when you say so ([`TestChain::advance`],
/// [`TestChain::set_timestamp`]), unless [`TestChain::set_auto_advance`] is on.
pub struct TestChain {
    chain: Chain<Backend>,
    auto_advance: bool,
    gas: GasReport,
    /// Function names for profiles, per contract ([`TestChain::set_function_names`]).
    function_names: BTreeMap<Address, crate::FunctionNames>,
}

impl TestChain {
    /// A chain over the default store, `MemStore` (the same roots and gas as RocksDB). Never
    /// fails; it returns a `Result` so that tests can switch to [`TestChain::rocksdb`] freely.
    pub fn new() -> Result<Self, Error> {
        Ok(Self::in_memory())
    }

    /// A chain over an in-memory store.
    pub fn in_memory() -> Self {
        Self::from_backend(Backend::Mem(MemStore::new()))
    }

    /// A chain over RocksDB in a fresh temporary directory (deleted on drop), like a node
    /// (feature `rocksdb`).
    #[cfg(feature = "rocksdb")]
    pub fn rocksdb() -> Result<Self, Error> {
        Self::with_store(StoreKind::RocksDb)
    }

    /// A chain over the given kind of store.
    pub fn with_store(kind: StoreKind) -> Result<Self, Error> {
        match kind {
            StoreKind::Memory => Ok(Self::in_memory()),
            #[cfg(feature = "rocksdb")]
            StoreKind::RocksDb => {
                let dir = crate::tmp::tempdir("keel-testkit-")?;
                let path = dir.path().join("state");
                let store = crate::tmp::fresh_store(&path)?;
                Ok(Self::from_backend(Backend::Rocks {
                    store: Box::new(store),
                    path,
                    _dir: Some(dir),
                }))
            }
        }
    }

    /// A chain over a persistent RocksDB store at `path` (created if absent), kept after the
    /// chain is dropped. The next block height continues from the store's version (feature
    /// `rocksdb`). A data dir of the `keel` CLI is opened with keel-chain's `Chain::open`.
    #[cfg(feature = "rocksdb")]
    pub fn open(path: &Path) -> Result<Self, Error> {
        let store = Store::open(path)?;
        Ok(Self::from_backend(Backend::Rocks {
            store: Box::new(store),
            path: path.to_path_buf(),
            _dir: None,
        }))
    }

    fn from_backend(backend: Backend) -> Self {
        Self {
            chain: Chain::new(backend),
            auto_advance: false,
            gas: GasReport::default(),
            function_names: BTreeMap::new(),
        }
    }

    /// Which store this chain uses.
    pub fn store_kind(&self) -> StoreKind {
        match self.chain.store() {
            Backend::Mem(_) => StoreKind::Memory,
            #[cfg(feature = "rocksdb")]
            Backend::Rocks { .. } => StoreKind::RocksDb,
        }
    }

    /// The engine (for its configuration, or to run something by hand).
    pub fn engine(&self) -> &Engine {
        self.chain.engine()
    }

    // ---------------------------------------------------------------- time

    /// The height the next block will have.
    pub fn height(&self) -> u64 {
        self.chain.height()
    }

    /// The timestamp (ms) the next block will have.
    pub fn timestamp(&self) -> u64 {
        self.chain.timestamp()
    }

    /// Moves `blocks` blocks ahead: height += `blocks`, timestamp += `blocks` × block time.
    pub fn advance(&mut self, blocks: u64) {
        self.chain.advance(blocks);
    }

    /// Sets the next block's height.
    pub fn set_height(&mut self, height: u64) {
        self.chain.set_height(height);
    }

    /// Sets the next block's timestamp (ms). Refused, as on a node, if it is before the last
    /// committed block's timestamp: a chain's clock never goes backwards.
    pub fn set_timestamp(&mut self, timestamp: u64) -> Result<(), Error> {
        Ok(self.chain.set_timestamp(timestamp)?)
    }

    /// The block time used by [`TestChain::advance`] (default 1000 ms).
    pub fn set_block_time(&mut self, ms: u64) {
        self.chain.set_block_time(ms);
    }

    /// If on, every executed block advances the chain by one block afterwards.
    pub fn set_auto_advance(&mut self, on: bool) {
        self.auto_advance = on;
    }

    /// The gas limit of transactions this chain builds (default [`crate::DEFAULT_GAS_LIMIT`]).
    pub fn set_gas_limit(&mut self, gas_limit: u64) {
        self.chain.set_gas_limit(gas_limit);
    }

    /// The current default gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.chain.gas_limit()
    }

    // ---------------------------------------------------------------- state

    /// The latest committed version.
    pub fn version(&self) -> Version {
        self.chain.version()
    }

    /// The latest state root.
    pub fn root(&self) -> Hash {
        self.chain.root()
    }

    /// Any raw state key's value.
    pub fn get_raw(&self, state_key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.chain.get_raw(state_key)?)
    }

    /// A proof of any raw state key against the latest root.
    pub fn prove_raw(&self, state_key: &[u8]) -> Result<(Proof, Hash, Version), Error> {
        Ok(self.chain.prove_raw(state_key)?)
    }

    /// A contract's storage value at `key` (the contract's own key, without the prefix).
    pub fn storage(
        &self,
        contract: impl Into<Address>,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, Error> {
        self.get_raw(&storage_key(&contract.into(), key))
    }

    /// Every storage entry of a contract, in key order, as (its own key, value).
    pub fn storage_entries(
        &self,
        contract: impl Into<Address>,
    ) -> Result<Vec<StorageEntry>, Error> {
        let prefix = storage_key(&contract.into(), &[]);
        let mut upper = prefix.clone();
        // The prefix ends in the 32-byte address; the next prefix in order bounds the range.
        let upper = match upper.iter().rposition(|b| *b != 0xff) {
            Some(i) => {
                upper[i] += 1;
                upper.truncate(i + 1);
                Bound::Excluded(upper)
            }
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        let mut lower = Bound::Included(prefix.clone());
        while let Some((k, v)) = self.chain.store().next_entry(
            lower.as_ref().map(Vec::as_slice),
            upper.as_ref().map(Vec::as_slice),
        )? {
            out.push((k[prefix.len()..].to_vec(), v));
            lower = Bound::Excluded(k);
        }
        Ok(out)
    }

    /// A contract's storage value, decoded as `T`.
    pub fn storage_decoded<T: Decode>(
        &self,
        contract: impl Into<Address>,
        key: &[u8],
    ) -> Result<Option<T>, Error> {
        self.storage(contract, key)?
            .map(|v| keel_chain::decode_all(&v).map_err(Error::from))
            .transpose()
    }

    /// A proof of a contract's storage entry (present or absent) against the current root.
    /// Check it with [`StorageProof::verify`].
    ///
    /// ```
    /// use keel_testkit::{TestChain, account};
    /// # #[cfg(not(feature = "examples"))] fn main() {} // needs the bundled examples
    /// # #[cfg(feature = "examples")]
    /// # fn main() -> Result<(), keel_testkit::Error> {
    /// let alice = account("alice");
    /// let mut chain = TestChain::in_memory();
    /// let counter = chain.deploy_example(alice, "counter", ())?;
    /// chain.call(alice, counter, "increment", ())?.assert_success();
    /// let proof = chain.prove(counter, b"c")?; // the counter keeps its value at key "c"
    /// assert_eq!(proof.value, Some(vec![1, 0, 0, 0, 0, 0, 0, 0]));
    /// assert!(proof.verify().is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn prove(&self, contract: impl Into<Address>, key: &[u8]) -> Result<StorageProof, Error> {
        let state_key = storage_key(&contract.into(), key);
        let value = self.get_raw(&state_key)?;
        let (proof, root, version) = self.prove_raw(&state_key)?;
        Ok(StorageProof {
            state_key,
            value,
            root,
            version,
            proof,
        })
    }

    /// An account's next nonce, from state (`0x03 ‖ account`).
    pub fn nonce(&self, account: impl Into<Address>) -> Result<u64, Error> {
        Ok(self.chain.nonce(account.into().0)?)
    }

    // ---------------------------------------------------------------- execution

    /// A transaction from `sender` with its next nonce and the chain's gas limit.
    pub fn transaction(
        &self,
        sender: impl Into<Address>,
        action: Action,
    ) -> Result<Transaction, Error> {
        Ok(self.chain.transaction(sender.into().0, action)?)
    }

    /// The block context the next block will run with.
    pub fn block_context(&self) -> BlockContext {
        self.chain.block_context()
    }

    /// Runs `transactions` as one block through the engine's block path and commits it.
    /// Returns the engine's receipts unchanged. Nonces are the caller's business here.
    ///
    /// The block is executed traced (`Engine::execute_block_traced`: the same receipts and
    /// root as `Engine::execute_block`), so the gas report breaks nested calls out.
    pub fn execute_block(&mut self, transactions: &[Transaction]) -> Result<Vec<Receipt>, Error> {
        let (receipts, traces) = self.chain.execute_block_traced(transactions)?;
        for ((tx, r), trace) in transactions.iter().zip(&receipts).zip(&traces) {
            self.record_gas(&tx.action, r);
            if let (
                Action::Call {
                    contract, method, ..
                },
                Some(frame),
            ) = (&tx.action, &trace.frame)
            {
                self.gas.record_nested(*contract, method, frame);
            }
        }
        if self.auto_advance {
            self.advance(1);
        }
        Ok(receipts)
    }

    /// One gas-report row per receipt: a call under its contract, a deploy as the `(upload)`
    /// of its code and the `(instantiate)` of the contract made from it, each by outcome.
    fn record_gas(&mut self, action: &Action, r: &Receipt) {
        use crate::gas::{GasOutcome, Subject};
        let outcome = GasOutcome::of(&r.status);
        match action {
            Action::Deploy { code } => {
                let hash = keel_engine::code_hash(code);
                self.gas
                    .record_subject(Subject::Code(hash), "(upload)", outcome, r.gas_used);
            }
            Action::Instantiate { code_hash, .. } => {
                let made = (outcome == GasOutcome::Success)
                    .then(|| <[u8; 32]>::try_from(r.return_data.as_slice()).ok())
                    .flatten();
                match made {
                    Some(address) => {
                        self.gas.instantiated(*code_hash, address);
                        self.gas.record_subject(
                            Subject::Contract(address),
                            "(instantiate)",
                            outcome,
                            r.gas_used,
                        );
                    }
                    None => self.gas.record_subject(
                        Subject::Code(*code_hash),
                        "(instantiate)",
                        outcome,
                        r.gas_used,
                    ),
                }
            }
            Action::Call {
                contract, method, ..
            } => self
                .gas
                .record_subject(Subject::Contract(*contract), method, outcome, r.gas_used),
        }
    }

    /// The label used for `contract` in gas reports and messages: the example name it was
    /// deployed from, a name given with [`TestChain::set_label`], or its short hex.
    pub fn label_of(&self, contract: &Address) -> String {
        self.chain.label_of(&contract.0)
    }

    /// Names a contract in gas reports and messages.
    pub fn set_label(&mut self, contract: impl Into<Address>, label: &str) {
        let contract = contract.into().0;
        self.chain.set_label(contract, label);
        self.gas.set_label(contract, label);
    }

    /// Runs one transaction as its own block and returns its outcome (any status).
    pub fn execute(
        &mut self,
        sender: impl Into<Address>,
        action: Action,
    ) -> Result<Outcome, Error> {
        let label = self.chain.label_for(&action);
        let tx = self.transaction(sender, action)?;
        let mut receipts = self.execute_block(std::slice::from_ref(&tx))?;
        let receipt = receipts
            .pop()
            .ok_or_else(|| Error::Engine("the engine returned no receipt".into()))?;
        Ok(Outcome::from(keel_chain::Outcome { receipt, label }))
    }

    /// Uploads wasm code; returns its code hash. Fails unless the upload succeeds.
    pub fn upload(&mut self, sender: impl Into<Address>, code: &[u8]) -> Result<Hash, Error> {
        let out = self.execute(
            sender,
            Action::Deploy {
                code: code.to_vec(),
            },
        )?;
        require_success(&out, "deploy")?;
        out.decode::<Hash>()
    }

    /// Instantiates uploaded code with constructor `args`; returns the contract's address.
    pub fn instantiate<A: Encode>(
        &mut self,
        sender: impl Into<Address>,
        code_hash: Hash,
        salt: &[u8],
        args: A,
    ) -> Result<Address, Error> {
        let out = self.execute(
            sender,
            Action::Instantiate {
                code_hash,
                salt: salt.to_vec(),
                args: args.encode(),
            },
        )?;
        require_success(&out, "instantiate")?;
        out.decode::<Address>()
    }

    /// Uploads and instantiates `code` (salt: the sender's nonce) and returns the address.
    pub fn deploy<A: Encode>(
        &mut self,
        sender: impl Into<Address>,
        code: &[u8],
        args: A,
    ) -> Result<Address, Error> {
        let sender = sender.into();
        let code_hash = self.upload(sender, code)?;
        let salt = self.nonce(sender)?.to_le_bytes();
        self.instantiate(sender, code_hash, &salt, args)
    }

    /// Deploys a contract of the workspace by name (`"token"`, `"counter"`, ...: see
    /// [`examples`]) and labels it with that name in the gas report (feature `examples`).
    #[cfg(feature = "examples")]
    pub fn deploy_example<A: Encode>(
        &mut self,
        sender: impl Into<Address>,
        name: &str,
        args: A,
    ) -> Result<Address, Error> {
        let code = example(name).ok_or_else(|| Error::UnknownExample(name.to_string()))?;
        let address = self.deploy(sender, code, args)?;
        self.set_label(address, name);
        Ok(address)
    }

    /// Calls `method` of `contract` as `sender`, committing the result. Reverts, traps and
    /// out-of-gas are outcomes, not errors.
    pub fn call<A: Encode>(
        &mut self,
        sender: impl Into<Address>,
        contract: impl Into<Address>,
        method: &str,
        args: A,
    ) -> Result<Outcome, Error> {
        self.execute(
            sender,
            Action::Call {
                contract: contract.into().0,
                method: method.to_string(),
                args: args.encode(),
            },
        )
    }

    /// Calls a method and decodes its result, failing unless the call succeeds.
    pub fn call_decoded<A: Encode, R: Decode>(
        &mut self,
        sender: impl Into<Address>,
        contract: impl Into<Address>,
        method: &str,
        args: A,
    ) -> Result<R, Error> {
        let out = self.call(sender, contract, method, args)?;
        require_success(&out, &out.label)?;
        out.decode()
    }

    /// Runs a call read-only: nothing is committed and the gas report is not touched.
    /// Returns the outcome, whatever its status.
    pub fn simulate<A: Encode>(
        &self,
        sender: impl Into<Address>,
        contract: impl Into<Address>,
        method: &str,
        args: A,
    ) -> Result<Outcome, Error> {
        let out = self
            .chain
            .simulate(sender.into().0, contract.into().0, method, args.encode())?;
        Ok(Outcome::from(out))
    }

    /// The gas profile of a call (read-only, like [`TestChain::simulate`]): gas per wasm
    /// function, across the contracts it calls and the host functions, as folded stacks
    /// ([`crate::Profile::folded`]) or a flamegraph ([`crate::Profile::svg`]).
    ///
    /// It runs an instrumented copy of each contract's deployed code that uses exactly the
    /// production gas: [`crate::Profile::total`] equals the receipt's `gas_used`, and the
    /// receipt is the one [`TestChain::simulate`] returns (checked on every call; a difference
    /// is an error). Functions are named by [`TestChain::set_function_names`], else by the
    /// deployed code's name section, else by its exports, else `func[N]`.
    ///
    /// ```
    /// use keel_testkit::{TestChain, account};
    /// # #[cfg(not(feature = "examples"))] fn main() {} // needs the bundled examples
    /// # #[cfg(feature = "examples")]
    /// # fn main() -> Result<(), keel_testkit::Error> {
    /// let mut chain = TestChain::new()?;
    /// let alice = account("alice");
    /// let counter = chain.deploy_example(alice, "counter", ())?;
    /// let profile = chain.profile(alice, counter, "increment", ())?;
    /// assert_eq!(profile.total(), chain.simulate(alice, counter, "increment", ())?.gas_used());
    /// assert!(profile.folded().contains("counter.increment;increment;keel::storage_set "));
    /// std::fs::write(std::env::temp_dir().join("increment.svg"), profile.svg("counter.increment"))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn profile<A: Encode>(
        &self,
        sender: impl Into<Address>,
        contract: impl Into<Address>,
        method: &str,
        args: A,
    ) -> Result<crate::Profile, Error> {
        let (plain, receipt, trace) = self.chain.simulate_profiled(
            sender.into().0,
            contract.into().0,
            method,
            args.encode(),
        )?;
        crate::profile::checked(plain, receipt, &trace, &|a| self.chain.label_of(a), &|a| {
            self.function_names_of(a)
        })
    }

    /// Names the functions of `contract` in profiles (indices of its deployed module), e.g.
    /// from the name section of a build that keeps it ([`crate::FunctionNames::matching`]).
    pub fn set_function_names(
        &mut self,
        contract: impl Into<Address>,
        names: crate::FunctionNames,
    ) {
        self.function_names.insert(contract.into(), names);
    }

    fn function_names_of(&self, contract: &[u8; 32]) -> crate::FunctionNames {
        if let Some(n) = self.function_names.get(&Address(*contract)) {
            return n.clone();
        }
        let code = keel_engine::contract_code(self.chain.store(), contract)
            .ok()
            .flatten()
            .map(|(_, code)| code);
        crate::profile::names_of_code(code.as_deref())
    }

    /// A read-only call decoded as `R`; fails unless it succeeds.
    pub fn query<A: Encode, R: Decode>(
        &self,
        sender: impl Into<Address>,
        contract: impl Into<Address>,
        method: &str,
        args: A,
    ) -> Result<R, Error> {
        let out = self.simulate(sender, contract, method, args)?;
        require_success(&out, &out.label)?;
        out.decode()
    }

    // ---------------------------------------------------------------- gas report

    /// Gas per (contract, method) of every transaction executed so far.
    pub fn gas_report(&self) -> &GasReport {
        &self.gas
    }

    /// Prints the gas report table to stdout (shown by `cargo test -- --nocapture`, or for a
    /// failing test).
    pub fn print_gas_report(&self) {
        println!("{}", self.gas);
    }

    /// Forgets the gas recorded so far.
    pub fn reset_gas_report(&mut self) {
        self.gas.clear();
    }

    // ---------------------------------------------------------------- snapshots

    /// Saves the state, height, timestamp and labels (not the gas report).
    ///
    /// ```
    /// use keel_testkit::{TestChain, account};
    /// # #[cfg(not(feature = "examples"))] fn main() {} // needs the bundled examples
    /// # #[cfg(feature = "examples")]
    /// # fn main() -> Result<(), keel_testkit::Error> {
    /// let alice = account("alice");
    /// let mut chain = TestChain::new()?;
    /// let counter = chain.deploy_example(alice, "counter", ())?;
    /// let before = chain.snapshot()?;
    /// chain.call(alice, counter, "increment", ())?.assert_success();
    /// chain.restore(&before)?;
    /// assert_eq!(chain.query::<_, u64>(alice, counter, "get", ())?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let state = match self.chain.store() {
            Backend::Mem(s) => SnapState::Mem(s.clone()),
            #[cfg(feature = "rocksdb")]
            Backend::Rocks { store, .. } => {
                let dir = crate::tmp::tempdir("keel-snap-")?;
                store.checkpoint_to(dir.path().join("state"))?;
                SnapState::Rocks(dir)
            }
        };
        Ok(Snapshot {
            state,
            clock: self.chain.clock(),
            labels: self.chain.labels().clone(),
        })
    }

    /// Returns to a snapshot taken from this chain (or another chain with the same store
    /// kind). The snapshot stays valid and can be restored again.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        match (self.chain.store_mut(), &snapshot.state) {
            (Backend::Mem(s), SnapState::Mem(saved)) => *s = saved.clone(),
            #[cfg(feature = "rocksdb")]
            (Backend::Rocks { store, path, _dir }, SnapState::Rocks(saved)) => {
                // Copy the saved checkpoint (a closed RocksDB dir) into a fresh directory,
                // hard-linking its immutable table files, and open the copy: the snapshot
                // itself is never opened or written, so it can be restored again.
                let dir = crate::tmp::tempdir("keel-testkit-")?;
                let new_path = dir.path().join("state");
                crate::tmp::copy_store_files(&saved.path().join("state"), &new_path)?;
                **store = Store::open(&new_path)?;
                *path = new_path;
                *_dir = Some(dir);
            }
            #[cfg(feature = "rocksdb")]
            _ => return Err(Error::SnapshotMismatch),
        }
        self.chain.restore_clock(snapshot.clock);
        self.chain.set_labels(snapshot.labels.clone());
        for (a, l) in &snapshot.labels {
            self.gas.set_label(*a, l);
        }
        Ok(())
    }
}

/// `TestChain` runs the typed clients `#[contract]` generates (`XClient::new(&mut chain,
/// address)`): each client call is [`TestChain::call`], one committed block. The default
/// sender is `account("alice")`.
impl keel_sdk::host::Chain for TestChain {
    type Receipt = Outcome;
    type Error = Error;

    fn default_sender(&self) -> Address {
        crate::account("alice")
    }

    fn call_raw(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Outcome, Error> {
        self.execute(
            sender,
            Action::Call {
                contract: contract.0,
                method: method.to_string(),
                args,
            },
        )
    }
}

impl TestChain {
    /// A contract's `Item`, read from state with the key the SDK uses (`None`: absent).
    pub fn item<T: Encode + Decode>(
        &self,
        contract: impl Into<Address>,
        item: &keel_sdk::Item<T>,
    ) -> Result<Option<T>, Error> {
        self.storage_decoded(contract, &item.storage_key())
    }

    /// One entry of a contract's `Map`, read from state with the key the SDK uses.
    pub fn map_get<K: Encode, V: Encode + Decode>(
        &self,
        contract: impl Into<Address>,
        map: &keel_sdk::Map<K, V>,
        key: &K,
    ) -> Result<Option<V>, Error> {
        self.storage_decoded(contract, &map.storage_key(key))
    }
}

impl TestChain {
    /// An independent copy of this chain (state, height, time, labels; a fresh gas report):
    /// explore a scenario on the fork, the original is untouched. For RocksDB the fork is a
    /// checkpoint in a new temporary directory.
    pub fn fork(&self) -> Result<TestChain, Error> {
        let snapshot = self.snapshot()?;
        let mut fork = TestChain::with_store(self.store_kind())?;
        fork.restore(&snapshot)?;
        fork.chain.set_block_time(self.chain.block_time());
        fork.auto_advance = self.auto_advance;
        fork.chain.set_gas_limit(self.chain.gas_limit());
        Ok(fork)
    }
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChain")
            .field("store", &self.store_kind())
            .field("height", &self.height())
            .field("timestamp", &self.timestamp())
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

fn require_success(out: &Outcome, what: &str) -> Result<(), Error> {
    if out.is_success() {
        Ok(())
    } else {
        Err(Error::Failed {
            what: what.to_string(),
            outcome: Box::new(out.clone()),
        })
    }
}

/// The wasm bytes of a workspace contract by name, from `keel-contracts` (feature `examples`).
#[cfg(feature = "examples")]
pub fn example(name: &str) -> Option<&'static [u8]> {
    keel_contracts::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// The names of the workspace contracts [`TestChain::deploy_example`] knows (feature
/// `examples`).
#[cfg(feature = "examples")]
pub fn examples() -> Vec<&'static str> {
    keel_contracts::ALL.iter().map(|(n, _)| *n).collect()
}
