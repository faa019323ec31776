//! keel-engine: Keel's deterministic, metered WebAssembly contract execution engine.
//!
//! The node hands [`Engine::execute_block`] a [`BlockContext`] and a list of [`Transaction`]s
//! (or raw SCALE bytes, [`Engine::execute_block_raw`]); the engine runs each in `wasmi` with
//! fuel metering against one [`keel_state::Overlay`] for the whole block (each transaction and
//! each nested call frame is a checkpoint), then commits the block's changes to the store in
//! one write. Receipts, gas and the state root are a pure function of (previous state, block).
//!
//! Embedding rules:
//! - no global state: everything lives in an [`Engine`], which is `Send + Sync`;
//! - state is behind the `keel-state` traits ([`keel_state::StateRead`] to simulate,
//!   [`keel_state::StateStore`] to commit), so any store plugs in;
//! - [`EngineError`] is only for store failures and misuse. A contract trap, revert or
//!   out-of-gas is a [`Receipt`] [`Status`].
//!
//! Receipt rules (consensus):
//! - `Invalid` (undecodable bytes, wrong nonce, unknown contract, method or code, address in
//!   use, oversized payload): checked before anything runs; no state change, the nonce is not
//!   bumped, `gas_used == 0`. A node should drop such transactions from its mempool.
//! - Every other status bumps the nonce and charges gas: `Success` keeps the transaction's
//!   writes and events; `Reverted`, `Trapped` and `OutOfGas` roll them back (the transaction is
//!   one overlay checkpoint). `OutOfGas` always reports `gas_used == gas_limit`, and cannot be
//!   caught by a calling contract.
//! - A `Deploy` whose code fails validation is `Reverted`, with the problems found (at most
//!   `Limits::max_problems`, the rest counted), one per line, as the message (validation work
//!   is paid for). Its return data on success is the code
//!   hash; an `Instantiate`'s is the new address ([`contract_address`]).
//! - Gas = intrinsic (`tx_base`, `tx_byte` per payload byte, plus `deploy_*` for a deploy,
//!   with the module's shape) + instantiation ([`GasSchedule::instantiation`] of the module's
//!   shape) + wasm fuel (including the per-call charge for declared locals) + host-function
//!   charges; see [`GasSchedule`]. A module-cache hit or miss never changes it, and no
//!   transaction compiles a module this engine has loaded before (ARCHITECTURE.md, "Gas
//!   bounds work").
//!
//! ```
//! use keel_engine::{Action, BlockContext, Engine, EngineConfig, Status, Transaction};
//! use keel_state::MemStore;
//!
//! // A contract whose method `ping` returns the 4 bytes "pong".
//! let wasm = wat::parse_str(r#"(module
//!     (import "keel" "set_return" (func $ret (param i32 i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 0) "pong")
//!     (func (export "ping") (call $ret (i32.const 0) (i32.const 4))))"#).unwrap();
//!
//! let mut engine = Engine::new(EngineConfig::default());
//! let mut store = MemStore::new();
//! let ctx = BlockContext { height: 1, timestamp: 0 };
//! let alice = [1u8; 32];
//! let tx = |nonce, action| Transaction { sender: alice, nonce, gas_limit: 10_000_000, action };
//!
//! let deploy = engine.execute_block(&mut store, &ctx, &[tx(0, Action::Deploy { code: wasm })]).unwrap();
//! let code_hash: [u8; 32] = deploy.receipts[0].return_data.clone().try_into().unwrap();
//! let inst = engine.execute_block(&mut store, &ctx, &[tx(1, Action::Instantiate {
//!     code_hash, salt: vec![], args: vec![] })]).unwrap();
//! let contract: [u8; 32] = inst.receipts[0].return_data.clone().try_into().unwrap();
//!
//! let call = tx(2, Action::Call { contract, method: "ping".into(), args: vec![] });
//! let out = engine.execute_block(&mut store, &ctx, &[call]).unwrap();
//! assert_eq!(out.receipts[0].status, Status::Success);
//! assert_eq!(out.receipts[0].return_data, b"pong");
//! ```
// One `unsafe` block, in `exec::with_ctx` (the frame context of the instance pool).
#![deny(unsafe_code)]

mod block;
mod config;
mod error;
mod exec;
mod gas;
mod host;
mod instrument;
mod trace;
mod types;
mod validate;

use std::cell::RefCell;

use keel_state::{StateRead, StateStore};
use parity_scale_codec::DecodeAll;

pub use block::{PendingBlock, contract_code, nonce, receipts_root};
pub use config::{EngineConfig, Limits, keel_features, wasmi_config};
pub use error::EngineError;
pub use exec::{code_key, contract_address, contract_key};
pub use gas::GasSchedule;
pub use host::{AbiType, HOST_ABI};
pub use trace::{CallTrace, FrameStatus, Trace, TraceDetail, TraceItem};
pub use types::{
    Action, Address, BlockContext, BlockOutcome, CallStatus, ContractInfo, Event, FLAG_REENTRANT,
    Hash, InvalidReason, Receipt, Status, Transaction, TrapKind,
};
pub use validate::{CodeInfo, Problem, Shape, ValidationError, check_code, code_hash};

/// What [`Engine::stats`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Compiled modules in the cache.
    pub cached_modules: usize,
    /// Module compilations so far (checks, deploys and loads of stored code).
    pub compiles: u64,
    /// wasmi engines created so far (two at start; more as compiled garbage is recycled).
    pub wasmi_engines: u64,
    /// Code-metadata entries read from state (cache misses of the metadata cache).
    pub meta_reads: u64,
    /// Call frames that instantiated their module.
    pub instantiations: u64,
    /// Call frames that reused an idle instance from the instance pool instead.
    pub instance_reuses: u64,
}

use exec::{Shared, TxEnv, execute_tx};

/// The execution engine: configuration, the wasmi engine and the compiled-module cache.
#[derive(Debug)]
pub struct Engine {
    shared: Shared,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

impl Engine {
    /// An engine with `config`.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            shared: Shared::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// How many compiled modules the cache holds now (never affects gas).
    pub fn cached_modules(&self) -> usize {
        self.shared.cached_modules()
    }

    /// Counters of the work this engine has done behind the receipts: for tests and
    /// benchmarks that assert structural bounds. Never affects gas or any receipt.
    pub fn stats(&self) -> EngineStats {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.shared.counters;
        EngineStats {
            cached_modules: self.shared.cached_modules(),
            compiles: c.compiles.load(Relaxed),
            wasmi_engines: c.engines.load(Relaxed),
            meta_reads: c.state_meta_reads.load(Relaxed),
            instantiations: c.instantiations.load(Relaxed),
            instance_reuses: c.reuses.load(Relaxed),
        }
    }

    /// Compiles every module deployed in `state` that this engine has not loaded yet, and
    /// returns how many it compiled. A node calls it once at startup, before executing blocks:
    /// afterwards no transaction makes this engine compile anything it did not pay a `Deploy`
    /// for. Without it, each module compiles on its first use instead (same gas either way).
    pub fn preload<S: StateRead>(&self, state: &S) -> Result<usize, EngineError> {
        self.shared.preload(state).map_err(exec::engine_error)
    }

    /// Validates `code` exactly as `Deploy` would, without deploying it. Its compile goes to
    /// a scratch wasmi engine that is replaced as it fills, so any number of checks keeps the
    /// engine's memory bounded.
    pub fn check(&self, code: &[u8]) -> Result<CodeInfo, ValidationError> {
        self.shared.check(code)
    }

    /// Runs `txs` as one block on top of `state` and commits the result atomically: one
    /// overlay for the block, a checkpoint per transaction, one `state.commit`.
    /// `Err` only if the store fails; then nothing is committed.
    pub fn execute_block<S: StateStore>(
        &mut self,
        state: &mut S,
        ctx: &BlockContext,
        txs: &[Transaction],
    ) -> Result<BlockOutcome, EngineError> {
        self.run_block(state, ctx, txs.iter().map(Some))
    }

    /// Like [`Engine::execute_block`], from SCALE-encoded transactions: bytes that do not
    /// decode (exactly, with no trailing bytes) get an `Invalid(Undecodable)` receipt.
    pub fn execute_block_raw<S: StateStore, B: AsRef<[u8]>>(
        &mut self,
        state: &mut S,
        ctx: &BlockContext,
        txs: &[B],
    ) -> Result<BlockOutcome, EngineError> {
        let decoded: Vec<Option<Transaction>> = txs
            .iter()
            .map(|b| Transaction::decode_all(&mut b.as_ref()).ok())
            .collect();
        self.run_block(state, ctx, decoded.iter().map(Option::as_ref))
    }

    fn run_block<'t, S: StateStore>(
        &mut self,
        state: &mut S,
        ctx: &BlockContext,
        txs: impl Iterator<Item = Option<&'t Transaction>>,
    ) -> Result<BlockOutcome, EngineError> {
        let pending = self.pending_block(&*state, ctx, txs)?;
        self.commit_pending(state, pending)
    }

    /// Runs `txs` as one block on top of `state` like [`Engine::execute_block`], but commits
    /// nothing: the [`PendingBlock`] holds the receipts and the block's change set, for
    /// [`Engine::commit_pending`]. The receipts are exactly those `execute_block` returns.
    pub fn execute_pending<S: StateStore>(
        &mut self,
        state: &S,
        ctx: &BlockContext,
        txs: &[Transaction],
    ) -> Result<PendingBlock, EngineError> {
        self.pending_block(state, ctx, txs.iter().map(Some))
    }

    /// [`Engine::execute_pending`] from SCALE-encoded transactions (as
    /// [`Engine::execute_block_raw`]).
    pub fn execute_pending_raw<S: StateStore, B: AsRef<[u8]>>(
        &mut self,
        state: &S,
        ctx: &BlockContext,
        txs: &[B],
    ) -> Result<PendingBlock, EngineError> {
        let decoded: Vec<Option<Transaction>> = txs
            .iter()
            .map(|b| Transaction::decode_all(&mut b.as_ref()).ok())
            .collect();
        self.pending_block(state, ctx, decoded.iter().map(Option::as_ref))
    }

    /// Commits a block executed by [`Engine::execute_pending`]: one `state.commit` of its
    /// change set. `Err(Internal)` if `state` is no longer at the version and root the block
    /// was executed on (then nothing is written); `Err(State)` if the store fails.
    pub fn commit_pending<S: StateStore>(
        &self,
        state: &mut S,
        pending: PendingBlock,
    ) -> Result<BlockOutcome, EngineError> {
        if state.version() != pending.base_version || state.root() != pending.base_root {
            return Err(EngineError::Internal(format!(
                "pending block executed on version {} is committed on version {}",
                pending.base_version,
                state.version()
            )));
        }
        let (version, state_root) = state.commit(&pending.changes)?;
        Ok(BlockOutcome {
            receipts: pending.receipts,
            version,
            state_root,
        })
    }

    /// [`Engine::execute_block`] with a [`Trace`] of each transaction ([`TraceDetail::Calls`]):
    /// the same receipts, version and root (tracing never changes them), and one trace per
    /// receipt, in order.
    pub fn execute_block_traced<S: StateStore>(
        &mut self,
        state: &mut S,
        ctx: &BlockContext,
        txs: &[Transaction],
    ) -> Result<(BlockOutcome, Vec<Trace>), EngineError> {
        let mut traces = Vec::with_capacity(txs.len());
        let pending =
            self.pending_block_with(&*state, ctx, txs.iter().map(Some), Some(&mut traces))?;
        Ok((self.commit_pending(state, pending)?, traces))
    }

    fn pending_block<'t, S: StateStore>(
        &mut self,
        state: &S,
        ctx: &BlockContext,
        txs: impl Iterator<Item = Option<&'t Transaction>>,
    ) -> Result<PendingBlock, EngineError> {
        self.pending_block_with(state, ctx, txs, None)
    }

    fn pending_block_with<'t, S: StateStore>(
        &mut self,
        state: &S,
        ctx: &BlockContext,
        txs: impl Iterator<Item = Option<&'t Transaction>>,
        mut traces: Option<&mut Vec<Trace>>,
    ) -> Result<PendingBlock, EngineError> {
        let base: &dyn StateRead = state;
        let mut tx_env = TxEnv::new(base, true);
        if traces.is_some() {
            tx_env.trace = Some(Box::new(trace::Recorder::new(
                TraceDetail::Calls,
                &self.shared.config.gas,
            )));
        }
        let env = RefCell::new(tx_env);
        let mut receipts = Vec::new();
        for tx in txs {
            let receipt = match tx {
                Some(tx) => execute_tx(&self.shared, &env, *ctx, tx)?,
                None => Receipt::invalid(InvalidReason::Undecodable),
            };
            if let Some(traces) = traces.as_deref_mut() {
                traces.push(finish_trace(&env, receipt.gas_used)?);
            }
            receipts.push(receipt);
        }
        Ok(PendingBlock {
            receipts,
            changes: env.into_inner().overlay.into_changes(),
            base_version: state.version(),
            base_root: state.root(),
        })
    }

    /// Runs `tx` on top of `state` without committing anything: the receipt, including gas,
    /// is exactly what [`Engine::execute_block`] would produce for a block holding only `tx`.
    pub fn simulate<S: StateRead>(
        &self,
        state: &S,
        ctx: &BlockContext,
        tx: &Transaction,
    ) -> Result<Receipt, EngineError> {
        let base: &dyn StateRead = state;
        let env = RefCell::new(TxEnv::new(base, false));
        execute_tx(&self.shared, &env, *ctx, tx)
    }

    /// [`Engine::simulate`] with a [`Trace`] of the transaction: its call tree, with the gas of
    /// every frame and host function call, and at [`TraceDetail::Functions`] the entry and exit
    /// of every wasm function. The receipt is exactly what [`Engine::simulate`] returns:
    /// tracing never changes gas, receipts or roots.
    ///
    /// ```
    /// use keel_engine::{Action, BlockContext, Engine, TraceDetail, TraceItem, Transaction};
    /// use keel_state::MemStore;
    ///
    /// let wasm = wat::parse_str(r#"(module
    ///     (import "keel" "set_return" (func $ret (param i32 i32)))
    ///     (memory (export "memory") 1)
    ///     (func $pong (call $ret (i32.const 0) (i32.const 4)))
    ///     (func (export "ping") (call $pong)))"#).unwrap();
    /// let mut engine = Engine::default();
    /// let mut store = MemStore::new();
    /// let ctx = BlockContext { height: 1, timestamp: 0 };
    /// let alice = [1u8; 32];
    /// let tx = |nonce, action| Transaction { sender: alice, nonce, gas_limit: 10_000_000, action };
    /// let out = engine.execute_block(&mut store, &ctx, &[tx(0, Action::Deploy { code: wasm })]).unwrap();
    /// let code_hash: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
    /// let out = engine.execute_block(&mut store, &ctx, &[tx(1, Action::Instantiate {
    ///     code_hash, salt: vec![], args: vec![] })]).unwrap();
    /// let contract: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
    ///
    /// let call = tx(2, Action::Call { contract, method: "ping".into(), args: vec![] });
    /// let (receipt, trace) = engine.simulate_traced(&store, &ctx, &call, TraceDetail::Functions).unwrap();
    /// assert_eq!(receipt, engine.simulate(&store, &ctx, &call).unwrap()); // the same gas
    /// let frame = trace.frame.unwrap();
    /// assert_eq!((frame.method.as_str(), frame.contract), ("ping", contract));
    /// // `ping` (function 2: the import is 0, `$pong` is 1) calls `$pong`, which calls `set_return`.
    /// let events: Vec<String> = frame.items.iter().map(|i| match i {
    ///     TraceItem::Enter { func, .. } => format!("enter {func}"),
    ///     TraceItem::Exit { func, .. } => format!("exit {func}"),
    ///     TraceItem::Host { name, gas, .. } => format!("{name} {gas}"),
    ///     TraceItem::Call { frame, .. } => format!("call {}", frame.method),
    /// }).collect();
    /// let host = engine.config().gas.host_base + 4 * engine.config().gas.copy_byte;
    /// assert_eq!(events, ["enter 2", "enter 1", &format!("set_return {host}"), "exit 1", "exit 2"]);
    /// assert_eq!(receipt.gas_used - frame.gas_used, trace.gas_used - frame.gas_used);
    /// ```
    pub fn simulate_traced<S: StateRead>(
        &self,
        state: &S,
        ctx: &BlockContext,
        tx: &Transaction,
        detail: TraceDetail,
    ) -> Result<(Receipt, Trace), EngineError> {
        let base: &dyn StateRead = state;
        let mut tx_env = TxEnv::new(base, false);
        tx_env.trace = Some(Box::new(trace::Recorder::new(
            detail,
            &self.shared.config.gas,
        )));
        let env = RefCell::new(tx_env);
        let receipt = execute_tx(&self.shared, &env, *ctx, tx)?;
        let trace = finish_trace(&env, receipt.gas_used)?;
        Ok((receipt, trace))
    }

    /// A read-only call (a view, or gas estimation): runs `method` of `contract` as `caller`
    /// with `gas_limit`, using the caller's current nonce, and commits nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn query<S: StateRead>(
        &self,
        state: &S,
        ctx: &BlockContext,
        caller: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
        gas_limit: u64,
    ) -> Result<Receipt, EngineError> {
        let nonce = block::nonce(state, &caller)?;
        let tx = Transaction {
            sender: caller,
            nonce,
            gas_limit,
            action: Action::Call {
                contract,
                method: method.to_string(),
                args,
            },
        };
        self.simulate(state, ctx, &tx)
    }
}

fn finish_trace(env: &RefCell<TxEnv<'_>>, gas_used: u64) -> Result<Trace, EngineError> {
    let mut e = env
        .try_borrow_mut()
        .map_err(|_| EngineError::Internal("state borrowed".into()))?;
    Ok(match e.trace.as_deref_mut() {
        Some(r) => r.finish(gas_used),
        None => Trace {
            gas_used,
            frame: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<Engine>();
    }
}
