//! [`Chain`]: the engine over any store, one block per state version, with the chain's clock,
//! transaction building and contract labels.
//!
//! The store is a type parameter ([`ChainStore`]): the CLI runs a data dir's RocksDB store
//! with contract names ([`crate::Named`], feature `rocksdb`), the testkit an in-memory store
//! or a temporary RocksDB one. Everything else (the clock rule, nonces, labels, how a
//! transaction is built and run as a block) is here once.

use std::collections::BTreeMap;

use keel_engine::{Action, BlockContext, Engine, Receipt, Trace, Transaction};
use keel_state::{Hash, MemStore, Proof, StateStore, Version};

use crate::{Address, DEFAULT_GAS_LIMIT, Error, Outcome, short_hex};

/// A store a [`Chain`] runs on: any [`StateStore`], told about each block's clock and asked
/// for the contract names its commits recorded. Both hooks default to doing nothing.
pub trait ChainStore: StateStore {
    /// The `(height, timestamp)` of the block about to be committed, before the engine runs
    /// it; `None` once it ran (committed or not). A store that persists the chain's clock
    /// writes it in that block's commit.
    fn block_clock(&mut self, clock: Option<(u64, u64)>) {
        let _ = clock;
    }

    /// The contracts the last commit named, as `(address, name)`; each is returned once.
    fn take_names(&mut self) -> Vec<(Address, String)> {
        Vec::new()
    }
}

impl ChainStore for MemStore {}

#[cfg(feature = "rocksdb")]
impl ChainStore for keel_state::Store {}

/// The clock of a [`Chain`]: the next block's height and timestamp, and the last committed
/// block's `(height, timestamp)` if one is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The height the next block will have.
    pub height: u64,
    /// The timestamp (ms) the next block will have.
    pub timestamp: u64,
    /// The last committed block's `(height, timestamp)`.
    pub last: Option<(u64, u64)>,
}

impl Clock {
    /// The clock of a store at `version` whose last block, if known, was `last`: the next
    /// block's height is `version + 1` and its timestamp `height × 1000`, or, when they are
    /// later, the last block's height + 1 and timestamp + 1000.
    pub fn starting(version: Version, last: Option<(u64, u64)>) -> Clock {
        let (last_height, last_time) = last.unwrap_or((0, 0));
        let height = version.saturating_add(1).max(last_height.saturating_add(1));
        let timestamp = height
            .saturating_mul(1000)
            .max(last.map_or(0, |_| last_time.saturating_add(1000)));
        Clock {
            height,
            timestamp,
            last,
        }
    }
}

/// The engine over a store: each [`execute_block`](Chain::execute_block) is one block at the
/// chain's clock, committed to the store.
///
/// Invariant: the clock never goes backwards. [`Chain::set_timestamp`] refuses a timestamp
/// before the last committed block's.
pub struct Chain<S: ChainStore> {
    engine: Engine,
    store: S,
    clock: Clock,
    block_time_ms: u64,
    gas_limit: u64,
    labels: BTreeMap<Address, String>,
}

impl<S: ChainStore> Chain<S> {
    /// A chain over `store`, with the engine configuration of a local chain
    /// ([`crate::engine_config`]). Its clock starts after the store's version
    /// ([`Clock::starting`], no last block known).
    pub fn new(store: S) -> Chain<S> {
        let clock = Clock::starting(store.version(), None);
        Chain::with_clock(store, clock, BTreeMap::new())
    }

    /// A chain over `store` with the given clock and labels.
    pub(crate) fn with_clock(
        store: S,
        clock: Clock,
        labels: BTreeMap<Address, String>,
    ) -> Chain<S> {
        Chain {
            engine: Engine::new(crate::engine_config()),
            store,
            clock,
            block_time_ms: 1000,
            gas_limit: DEFAULT_GAS_LIMIT,
            labels,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store underneath, mutably (writes outside a block; replacing it with a restored
    /// copy).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    // ---------------------------------------------------------------- clock

    /// The height the next block will have.
    pub fn height(&self) -> u64 {
        self.clock.height
    }

    /// The timestamp (ms) the next block will have.
    pub fn timestamp(&self) -> u64 {
        self.clock.timestamp
    }

    /// The block context the next block will run with.
    pub fn block_context(&self) -> BlockContext {
        BlockContext {
            height: self.clock.height,
            timestamp: self.clock.timestamp,
        }
    }

    /// Moves `blocks` blocks ahead: height + `blocks`, timestamp + `blocks` × the block time.
    pub fn advance(&mut self, blocks: u64) {
        self.clock.height = self.clock.height.saturating_add(blocks);
        self.clock.timestamp = self
            .clock
            .timestamp
            .saturating_add(blocks.saturating_mul(self.block_time_ms));
    }

    /// The block time [`Chain::advance`] uses (ms, default 1000).
    pub fn block_time(&self) -> u64 {
        self.block_time_ms
    }

    /// Sets the block time [`Chain::advance`] uses (ms).
    pub fn set_block_time(&mut self, ms: u64) {
        self.block_time_ms = ms;
    }

    /// Sets the next block's height.
    pub fn set_height(&mut self, height: u64) {
        self.clock.height = height;
    }

    /// Sets the next block's timestamp (ms). Refused ([`Error::Clock`]) if it is before the
    /// last committed block's timestamp: a chain's clock never goes backwards (equal is
    /// allowed).
    pub fn set_timestamp(&mut self, timestamp: u64) -> Result<(), Error> {
        if let Some((height, last)) = self.clock.last
            && timestamp < last
        {
            return Err(Error::Clock(format!(
                "timestamp {timestamp} is before block {height}'s timestamp {last}: a chain's \
                 clock never goes backwards"
            )));
        }
        self.clock.timestamp = timestamp;
        Ok(())
    }

    /// The last committed block's `(height, timestamp)`, if known.
    pub fn last_block_clock(&self) -> Option<(u64, u64)> {
        self.clock.last
    }

    /// The whole clock, to save with a copy of the store.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Puts back a clock saved with [`Chain::clock`], after the store was restored to the
    /// copy saved with it (so the last block it names is the store's again).
    pub fn restore_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    // ---------------------------------------------------------------- state

    /// The gas limit of the transactions this chain builds (default [`DEFAULT_GAS_LIMIT`]).
    pub fn gas_limit(&self) -> u64 {
        self.gas_limit
    }

    /// Sets the gas limit of the transactions this chain builds.
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
    pub fn get_raw(&self, state_key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.store.get(state_key)?)
    }

    /// A proof of any raw state key against the latest root, with that root and version.
    pub fn prove_raw(&self, state_key: &[u8]) -> Result<(Proof, Hash, Version), Error> {
        let version = self.version();
        Ok((self.store.prove(state_key, version)?, self.root(), version))
    }

    /// An account's next nonce, from state.
    pub fn nonce(&self, account: Address) -> Result<u64, Error> {
        Ok(keel_engine::nonce(&self.store, &account)?)
    }

    // ---------------------------------------------------------------- execution

    /// A transaction from `sender` with its next nonce and the chain's gas limit.
    pub fn transaction(&self, sender: Address, action: Action) -> Result<Transaction, Error> {
        Ok(Transaction {
            sender,
            nonce: self.nonce(sender)?,
            gas_limit: self.gas_limit,
            action,
        })
    }

    /// What an [`Outcome`] of `action` is labelled: `"contract.method"` (the contract by
    /// [`Chain::label_of`]), `"deploy"` or `"instantiate"`.
    pub fn label_for(&self, action: &Action) -> String {
        match action {
            Action::Deploy { .. } => "deploy".to_string(),
            Action::Instantiate { .. } => "instantiate".to_string(),
            Action::Call {
                contract, method, ..
            } => format!("{}.{method}", self.label_of(contract)),
        }
    }

    /// Runs `transactions` as one block at the chain's clock and commits it; returns the
    /// engine's receipts unchanged. Nonces are the caller's business here.
    pub fn execute_block(&mut self, transactions: &[Transaction]) -> Result<Vec<Receipt>, Error> {
        self.run_block(|engine, store, ctx| {
            engine
                .execute_block(store, ctx, transactions)
                .map(|out| (out.receipts, ()))
        })
        .map(|(receipts, ())| receipts)
    }

    /// [`Chain::execute_block`] with a trace of each transaction
    /// ([`Engine::execute_block_traced`]: the same receipts and root, and its call frames and
    /// host calls with their gas), in receipt order.
    pub fn execute_block_traced(
        &mut self,
        transactions: &[Transaction],
    ) -> Result<(Vec<Receipt>, Vec<Trace>), Error> {
        self.run_block(|engine, store, ctx| {
            engine
                .execute_block_traced(store, ctx, transactions)
                .map(|(out, traces)| (out.receipts, traces))
        })
    }

    /// Runs one block at the chain's clock with `run`, then records its clock and names.
    fn run_block<T>(
        &mut self,
        run: impl FnOnce(
            &mut Engine,
            &mut S,
            &BlockContext,
        ) -> Result<(Vec<Receipt>, T), keel_engine::EngineError>,
    ) -> Result<(Vec<Receipt>, T), Error> {
        let ctx = self.block_context();
        self.store.block_clock(Some((ctx.height, ctx.timestamp)));
        let out = run(&mut self.engine, &mut self.store, &ctx);
        self.store.block_clock(None);
        let out = out?;
        self.clock.last = Some((ctx.height, ctx.timestamp));
        for (address, name) in self.store.take_names() {
            self.labels.insert(address, name);
        }
        Ok(out)
    }

    /// Runs one transaction from `sender` (its next nonce, the chain's gas limit) as its own
    /// block.
    pub fn execute(&mut self, sender: Address, action: Action) -> Result<Outcome, Error> {
        let label = self.label_for(&action);
        let tx = self.transaction(sender, action)?;
        let receipt = self
            .execute_block(std::slice::from_ref(&tx))?
            .pop()
            .ok_or_else(|| Error::Engine("the engine returned no receipt".into()))?;
        Ok(Outcome { receipt, label })
    }

    /// Calls `method` of `contract` with SCALE-encoded `args` in a new block.
    pub fn call(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Outcome, Error> {
        self.execute(
            sender,
            Action::Call {
                contract,
                method: method.to_string(),
                args,
            },
        )
    }

    /// Runs a call read-only at the next block's clock: nothing is committed.
    pub fn simulate(
        &self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<Outcome, Error> {
        let action = Action::Call {
            contract,
            method: method.to_string(),
            args,
        };
        let label = self.label_for(&action);
        let tx = self.transaction(sender, action)?;
        let receipt = self
            .engine
            .simulate(&self.store, &self.block_context(), &tx)?;
        Ok(Outcome { receipt, label })
    }

    /// Runs a call read-only twice at the next block's clock, plainly and traced at
    /// [`keel_engine::TraceDetail::Functions`] (for `keel profile`): both receipts (equal
    /// unless the profiler is broken) and the trace. Nothing is committed.
    pub fn simulate_profiled(
        &self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Result<(Receipt, Receipt, Trace), Error> {
        let action = Action::Call {
            contract,
            method: method.to_string(),
            args,
        };
        let tx = self.transaction(sender, action)?;
        let ctx = self.block_context();
        let plain = self.engine.simulate(&self.store, &ctx, &tx)?;
        let (traced, trace) = self.engine.simulate_traced(
            &self.store,
            &ctx,
            &tx,
            keel_engine::TraceDetail::Functions,
        )?;
        Ok((plain, traced, trace))
    }

    // ---------------------------------------------------------------- labels

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

    /// Every label.
    pub fn labels(&self) -> &BTreeMap<Address, String> {
        &self.labels
    }

    /// Replaces every label (restoring a saved set).
    pub fn set_labels(&mut self, labels: BTreeMap<Address, String>) {
        self.labels = labels;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_clock_starts_after_the_store_and_the_last_block() {
        assert_eq!(
            Clock::starting(0, None),
            Clock {
                height: 1,
                timestamp: 1000,
                last: None
            }
        );
        // A last block with an explicit, later clock wins over the version.
        let c = Clock::starting(3, Some((10, 50_000)));
        assert_eq!((c.height, c.timestamp), (11, 51_000));
        // A last block with an early timestamp: height × 1000 wins.
        let c = Clock::starting(3, Some((3, 5)));
        assert_eq!((c.height, c.timestamp), (4, 4000));
    }

    #[test]
    fn an_in_memory_chain_refuses_a_clock_that_goes_backwards() {
        let mut chain = Chain::new(MemStore::new());
        chain.set_timestamp(42).unwrap(); // no block yet: any timestamp
        let receipts = chain.execute_block(&[]).unwrap();
        assert!(receipts.is_empty());
        assert_eq!(chain.last_block_clock(), Some((1, 42)));
        assert!(matches!(chain.set_timestamp(41), Err(Error::Clock(_))));
        chain.set_timestamp(42).unwrap();
        chain.advance(2);
        assert_eq!((chain.height(), chain.timestamp()), (3, 2042));
        assert_eq!(chain.version(), 1);
    }
}
