//! Running transactions and call frames.

use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use keel_state::{Overlay, StateRead};
use lru::LruCache;
use parity_scale_codec::{Decode, Encode};
use wasmi::{Instance, Memory, Store, StoreLimits, StoreLimitsBuilder};

use crate::config::{EngineConfig, wasmi_config};
use crate::error::EngineError;
use crate::host::{Abort, resolve};
use crate::types::{
    Action, Address, BlockContext, CallStatus, ContractInfo, Event, FLAG_REENTRANT, Hash,
    InvalidReason, Receipt, Status, Transaction, TrapKind,
};
use crate::validate::check_and_compile;

/// A compiled module and what validation learned about it.
#[derive(Debug)]
pub(crate) struct CachedModule {
    pub module: wasmi::Module,
    pub initial_pages: u32,
    pub reentrant: bool,
    pub has_init: bool,
    /// Sorted.
    pub methods: Vec<String>,
    /// The names of the module's `keel` imports, in import order. Kept here so that an
    /// instantiation does not walk (and clone the types of) the module's imports again.
    pub imports: Vec<String>,
}

impl CachedModule {
    fn is_method(&self, name: &str) -> bool {
        self.methods
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }
}

/// Everything the engine shares between transactions: configuration, wasmi, the module cache.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub wasmi: wasmi::Engine,
    cache: Mutex<Option<LruCache<Hash, Arc<CachedModule>>>>,
}

impl Shared {
    pub(crate) fn new(config: EngineConfig) -> Self {
        let wasmi = wasmi::Engine::new(&wasmi_config(&config));
        let cache = NonZeroUsize::new(config.module_cache_capacity).map(LruCache::new);
        Self {
            config,
            wasmi,
            cache: Mutex::new(cache),
        }
    }

    fn cache_get(&self, hash: &Hash) -> Option<Arc<CachedModule>> {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().and_then(|c| c.get(hash).cloned())
    }

    fn cache_put(&self, hash: Hash, module: Arc<CachedModule>) {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = guard.as_mut() {
            c.put(hash, module);
        }
    }

    /// Number of modules in the cache.
    pub(crate) fn cached_modules(&self) -> usize {
        let guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map_or(0, LruCache::len)
    }

    /// Compiles `code` (already known valid or not) into a cache entry.
    fn compile(&self, code: &[u8]) -> Result<Arc<CachedModule>, crate::ValidationError> {
        let (info, module) = check_and_compile(&self.wasmi, code, &self.config)?;
        // Validation admits only `keel` imports.
        let imports = module.imports().map(|i| i.name().to_string()).collect();
        Ok(Arc::new(CachedModule {
            imports,
            module,
            initial_pages: info.initial_pages,
            reentrant: info.reentrant,
            has_init: info.has_init,
            methods: info.methods,
        }))
    }

    /// The module stored under `hash`, from the cache or compiled from state. A hit or a miss
    /// charges nothing: callers charge the same gas either way.
    fn module(
        &self,
        state: &impl StateRead,
        hash: &Hash,
    ) -> Result<Option<Arc<CachedModule>>, keel_state::StateError> {
        if let Some(m) = self.cache_get(hash) {
            return Ok(Some(m));
        }
        let Some(code) = state.get(&code_key(hash))? else {
            return Ok(None);
        };
        match self.compile(&code) {
            Ok(m) => {
                self.cache_put(*hash, m.clone());
                Ok(Some(m))
            }
            // Stored code that no longer validates (a config change): treat as absent.
            Err(_) => Ok(None),
        }
    }
}

/// `0x01 ‖ code_hash`.
pub(crate) fn code_key(hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x01);
    k.extend_from_slice(hash);
    k
}

/// `0x02 ‖ address`.
pub(crate) fn contract_key(address: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x02);
    k.extend_from_slice(address);
    k
}

/// `0x03 ‖ account`.
pub(crate) fn nonce_key(account: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x03);
    k.extend_from_slice(account);
    k
}

/// The address of a contract instantiated by `deployer` from `code_hash` with `salt`:
/// `blake3("keel.contract" ‖ deployer ‖ code_hash ‖ salt)`.
pub fn contract_address(deployer: &Address, code_hash: &Hash, salt: &[u8]) -> Address {
    let mut h = blake3::Hasher::new();
    h.update(b"keel.contract");
    h.update(deployer);
    h.update(code_hash);
    h.update(salt);
    *h.finalize().as_bytes()
}

/// The per-block mutable state every frame of every transaction works on.
pub(crate) struct TxEnv<'s> {
    pub overlay: Overlay<&'s dyn StateRead>,
    pub events: Vec<Event>,
    pub logs: Vec<String>,
    /// The contracts with an open frame, outermost first (for re-entry checks).
    pub stack: Vec<Address>,
}

impl<'s> TxEnv<'s> {
    pub(crate) fn new(base: &'s dyn StateRead) -> Self {
        Self {
            overlay: Overlay::new(base),
            events: Vec::new(),
            logs: Vec::new(),
            stack: Vec::new(),
        }
    }
}

/// The wasmi store data of one call frame.
pub(crate) struct Frame<'r, 's> {
    pub shared: &'r Shared,
    pub env: &'r RefCell<TxEnv<'s>>,
    pub block: BlockContext,
    pub address: Address,
    pub caller: Address,
    pub input: Vec<u8>,
    pub return_data: Vec<u8>,
    pub last_call: Vec<u8>,
    pub memory: Option<Memory>,
    limits: StoreLimits,
}

/// How a frame ended.
#[derive(Debug)]
pub(crate) enum FrameEnd {
    Returned(Vec<u8>),
    Reverted(Vec<u8>),
    Trapped(TrapKind),
    OutOfGas,
}

/// Turns a wasmi error into how the frame ended, or an engine-level failure.
fn classify(error: wasmi::Error) -> Result<FrameEnd, Abort> {
    if let Some(code) = error.as_trap_code() {
        return Ok(match TrapKind::from_trap_code(code) {
            Some(kind) => FrameEnd::Trapped(kind),
            None => FrameEnd::OutOfGas,
        });
    }
    match error.downcast::<Abort>() {
        Some(Abort::OutOfGas) => Ok(FrameEnd::OutOfGas),
        Some(Abort::Revert(msg)) => Ok(FrameEnd::Reverted(msg)),
        Some(Abort::Trap(kind)) => Ok(FrameEnd::Trapped(kind)),
        Some(other) => Err(other),
        // Instantiation failures and other wasmi errors that carry no trap code.
        None => Ok(FrameEnd::Trapped(TrapKind::AbiViolation)),
    }
}

/// What to run in a frame.
pub(crate) struct FrameCall<'a> {
    pub code: &'a CachedModule,
    pub address: Address,
    pub caller: Address,
    pub method: &'a str,
    pub input: Vec<u8>,
    pub fuel: u64,
}

/// Instantiates `call.code` in a fresh store with `call.fuel` and runs `call.method`.
/// Returns how it ended and the fuel left. Charges instantiation (base + initial pages) from
/// the frame's fuel first, identically on a cache hit or miss.
pub(crate) fn run_frame<'r, 's>(
    shared: &'r Shared,
    env: &'r RefCell<TxEnv<'s>>,
    block: BlockContext,
    call: FrameCall<'_>,
) -> Result<(FrameEnd, u64), Abort> {
    let gas = &shared.config.gas;
    let limits = &shared.config.limits;
    let cost = gas
        .instantiate_base
        .saturating_add(gas.memory_pages(u64::from(call.code.initial_pages)));
    let Some(fuel) = call.fuel.checked_sub(cost) else {
        return Ok((FrameEnd::OutOfGas, 0));
    };
    let store_limits = StoreLimitsBuilder::new()
        .memory_size(limits.max_memory_pages as usize * 65_536)
        .table_elements(limits.max_table_entries as usize)
        .instances(1)
        .memories(1)
        .tables(100)
        .build();
    let mut store = Store::new(
        &shared.wasmi,
        Frame {
            shared,
            env,
            block,
            address: call.address,
            caller: call.caller,
            input: call.input,
            return_data: Vec::new(),
            last_call: Vec::new(),
            memory: None,
            limits: store_limits,
        },
    );
    store.limiter(|f| &mut f.limits);
    store
        .set_fuel(fuel)
        .map_err(|_| Abort::Internal("fuel metering disabled"))?;
    let module = &call.code.module;
    let mut imports = Vec::with_capacity(call.code.imports.len());
    for name in &call.code.imports {
        match resolve(&mut store, name) {
            Some(f) => imports.push(f),
            None => return Ok((FrameEnd::Trapped(TrapKind::AbiViolation), fuel)),
        }
    }
    let instance = match Instance::new(&mut store, module, &imports) {
        Ok(i) => i,
        Err(e) => {
            let left = store.get_fuel().unwrap_or(0);
            return classify(e).map(|end| (end, left));
        }
    };
    let memory = instance.get_memory(&store, "memory");
    store.data_mut().memory = memory;
    let Ok(func) = instance.get_typed_func::<(), ()>(&store, call.method) else {
        return Ok((FrameEnd::Trapped(TrapKind::AbiViolation), fuel));
    };
    let result = func.call(&mut store, ());
    let left = store.get_fuel().unwrap_or(0);
    match result {
        Ok(()) => Ok((FrameEnd::Returned(store.into_data().return_data), left)),
        Err(e) => {
            let end = classify(e)?;
            let left = if matches!(end, FrameEnd::OutOfGas) {
                0
            } else {
                left
            };
            Ok((end, left))
        }
    }
}

fn read_contract(
    env: &RefCell<TxEnv<'_>>,
    address: &Address,
) -> Result<Option<ContractInfo>, Abort> {
    let env = env
        .try_borrow()
        .map_err(|_| Abort::Internal("state borrowed"))?;
    let Some(bytes) = env
        .overlay
        .get(&contract_key(address))
        .map_err(Abort::Store)?
    else {
        return Ok(None);
    };
    ContractInfo::decode(&mut bytes.as_slice())
        .map(Some)
        .map_err(|_| Abort::Internal("undecodable contract info in state"))
}

fn load_module(
    shared: &Shared,
    env: &RefCell<TxEnv<'_>>,
    hash: &Hash,
) -> Result<Option<Arc<CachedModule>>, Abort> {
    let env = env
        .try_borrow()
        .map_err(|_| Abort::Internal("state borrowed"))?;
    shared.module(&env.overlay, hash).map_err(Abort::Store)
}

/// A nested call from the frame of `caller`. Returns the status code for the contract, the
/// data for `call_result`, and the gas the callee used. Out of gas propagates as an error and
/// ends the transaction.
pub(crate) fn run_call(
    caller: &wasmi::Caller<'_, Frame<'_, '_>>,
    target: Address,
    method: &str,
    input: Vec<u8>,
    forward: u64,
) -> Result<(CallStatus, Vec<u8>, u64), wasmi::Error> {
    let refused = Ok((CallStatus::Refused, Vec::new(), 0));
    let data = caller.data();
    let (shared, env, block, me) = (data.shared, data.env, data.block, data.address);
    let depth = env
        .try_borrow()
        .map_err(|_| wasmi::Error::host(Abort::Internal("state borrowed")))?
        .stack
        .len();
    if depth >= shared.config.limits.max_call_depth as usize {
        return refused;
    }
    let Some(info) = read_contract(env, &target).map_err(wasmi::Error::host)? else {
        return refused;
    };
    let Some(code) = load_module(shared, env, &info.code_hash).map_err(wasmi::Error::host)? else {
        return refused;
    };
    if !code.is_method(method) {
        return refused;
    }
    let (checkpoint, events_mark) = {
        let mut e = env
            .try_borrow_mut()
            .map_err(|_| wasmi::Error::host(Abort::Internal("state borrowed")))?;
        if e.stack.contains(&target) && !code.reentrant {
            return refused;
        }
        e.stack.push(target);
        (e.overlay.checkpoint(), e.events.len())
    };
    let result = run_frame(
        shared,
        env,
        block,
        FrameCall {
            code: &code,
            address: target,
            caller: me,
            method,
            input,
            fuel: forward,
        },
    );
    let mut e = env
        .try_borrow_mut()
        .map_err(|_| wasmi::Error::host(Abort::Internal("state borrowed")))?;
    e.stack.pop();
    let (end, left) = match result {
        Ok(r) => r,
        Err(abort) => {
            e.overlay.revert(checkpoint);
            return Err(wasmi::Error::host(abort));
        }
    };
    let used = forward.saturating_sub(left);
    match end {
        FrameEnd::Returned(d) => {
            e.overlay.commit(checkpoint);
            Ok((CallStatus::Success, d, used))
        }
        FrameEnd::Reverted(m) => {
            e.overlay.revert(checkpoint);
            e.events.truncate(events_mark);
            Ok((CallStatus::Reverted, m, used))
        }
        FrameEnd::Trapped(_) => {
            e.overlay.revert(checkpoint);
            e.events.truncate(events_mark);
            Ok((CallStatus::Trapped, Vec::new(), used))
        }
        FrameEnd::OutOfGas => {
            e.overlay.revert(checkpoint);
            Err(wasmi::Error::host(Abort::OutOfGas))
        }
    }
}

fn engine_error(abort: Abort) -> EngineError {
    match abort {
        Abort::Store(e) => EngineError::State(e),
        Abort::Internal(m) => EngineError::Internal(m.to_string()),
        other => EngineError::Internal(format!("unexpected abort {other:?}")),
    }
}

/// Runs one transaction against the block's environment. `Err` only for store failures.
pub(crate) fn execute_tx(
    shared: &Shared,
    env: &RefCell<TxEnv<'_>>,
    block: BlockContext,
    tx: &Transaction,
) -> Result<Receipt, EngineError> {
    let gas = &shared.config.gas;
    let limits = &shared.config.limits;
    let nkey = nonce_key(&tx.sender);
    let expected = {
        let e = env
            .try_borrow()
            .map_err(|_| EngineError::Internal("state borrowed".into()))?;
        match e.overlay.get(&nkey)? {
            None => 0,
            Some(v) => u64::decode(&mut v.as_slice())
                .map_err(|_| EngineError::Internal("undecodable nonce in state".into()))?,
        }
    };
    // An account at nonce u64::MAX can send nothing more (its nonce cannot be bumped).
    let next_nonce = match expected.checked_add(1) {
        Some(next) if tx.nonce == expected => next,
        _ => {
            return Ok(Receipt::invalid(InvalidReason::BadNonce {
                expected,
                got: tx.nonce,
            }));
        }
    };
    let max_payload = limits.max_return_len as usize;

    // Pre-checks (an `Invalid` receipt changes nothing) and the intrinsic gas.
    enum Plan {
        Deploy,
        Instantiate {
            code: Arc<CachedModule>,
            address: Address,
        },
        Call {
            code: Arc<CachedModule>,
        },
    }
    let (plan, payload) = match &tx.action {
        Action::Deploy { code } => (Plan::Deploy, code.len() as u64),
        Action::Instantiate {
            code_hash,
            salt,
            args,
        } => {
            if args.len() > max_payload || salt.len() > 256 {
                return Ok(Receipt::invalid(InvalidReason::TooLarge));
            }
            let Some(code) = load_module(shared, env, code_hash).map_err(engine_error)? else {
                return Ok(Receipt::invalid(InvalidReason::UnknownCode));
            };
            let address = contract_address(&tx.sender, code_hash, salt);
            if read_contract(env, &address)
                .map_err(engine_error)?
                .is_some()
            {
                return Ok(Receipt::invalid(InvalidReason::AddressInUse));
            }
            (
                Plan::Instantiate { code, address },
                (salt.len() as u64).saturating_add(args.len() as u64),
            )
        }
        Action::Call {
            contract,
            method,
            args,
        } => {
            if args.len() > max_payload || method.len() > 256 {
                return Ok(Receipt::invalid(InvalidReason::TooLarge));
            }
            let Some(info) = read_contract(env, contract).map_err(engine_error)? else {
                return Ok(Receipt::invalid(InvalidReason::UnknownContract));
            };
            let Some(code) = load_module(shared, env, &info.code_hash).map_err(engine_error)?
            else {
                return Err(EngineError::Internal(
                    "a contract's code is missing from state".into(),
                ));
            };
            if !code.is_method(method) {
                return Ok(Receipt::invalid(InvalidReason::UnknownMethod));
            }
            (
                Plan::Call { code },
                (method.len() as u64).saturating_add(args.len() as u64),
            )
        }
    };
    let mut intrinsic = gas
        .tx_base
        .saturating_add(payload.saturating_mul(gas.tx_byte));
    if matches!(plan, Plan::Deploy) {
        intrinsic = intrinsic
            .saturating_add(gas.deploy_base)
            .saturating_add(payload.saturating_mul(gas.deploy_byte));
    }

    let mut e = env
        .try_borrow_mut()
        .map_err(|_| EngineError::Internal("state borrowed".into()))?;
    e.events.clear();
    e.logs.clear();
    e.stack.clear();
    let checkpoint = e.overlay.checkpoint();
    drop(e);

    let (end, left) = match tx.gas_limit.checked_sub(intrinsic) {
        None => (FrameEnd::OutOfGas, 0),
        Some(fuel) => match (&plan, &tx.action) {
            (Plan::Deploy, Action::Deploy { code }) => match shared.compile(code) {
                Ok(module) => {
                    let hash = crate::validate::code_hash(code);
                    let mut e = env
                        .try_borrow_mut()
                        .map_err(|_| EngineError::Internal("state borrowed".into()))?;
                    e.overlay.put(code_key(&hash), code.clone());
                    drop(e);
                    shared.cache_put(hash, module);
                    (FrameEnd::Returned(hash.to_vec()), fuel)
                }
                Err(v) => {
                    let lines: Vec<String> = v.problems.iter().map(|p| p.to_string()).collect();
                    (FrameEnd::Reverted(lines.join("\n").into_bytes()), fuel)
                }
            },
            (
                Plan::Instantiate { code, address },
                Action::Instantiate {
                    code_hash, args, ..
                },
            ) => {
                let info = ContractInfo {
                    code_hash: *code_hash,
                    flags: if code.reentrant { FLAG_REENTRANT } else { 0 },
                };
                {
                    let mut e = env
                        .try_borrow_mut()
                        .map_err(|_| EngineError::Internal("state borrowed".into()))?;
                    e.overlay.put(contract_key(address), info.encode());
                    e.stack.push(*address);
                }
                if code.has_init {
                    let (end, left) = run_frame(
                        shared,
                        env,
                        block,
                        FrameCall {
                            code,
                            address: *address,
                            caller: tx.sender,
                            method: "init",
                            input: args.clone(),
                            fuel,
                        },
                    )
                    .map_err(engine_error)?;
                    match end {
                        FrameEnd::Returned(_) => (FrameEnd::Returned(address.to_vec()), left),
                        other => (other, left),
                    }
                } else {
                    (FrameEnd::Returned(address.to_vec()), fuel)
                }
            }
            (
                Plan::Call { code },
                Action::Call {
                    contract,
                    method,
                    args,
                },
            ) => {
                env.try_borrow_mut()
                    .map_err(|_| EngineError::Internal("state borrowed".into()))?
                    .stack
                    .push(*contract);
                run_frame(
                    shared,
                    env,
                    block,
                    FrameCall {
                        code,
                        address: *contract,
                        caller: tx.sender,
                        method,
                        input: args.clone(),
                        fuel,
                    },
                )
                .map_err(engine_error)?
            }
            _ => return Err(EngineError::Internal("plan does not match action".into())),
        },
    };

    let mut e = env
        .try_borrow_mut()
        .map_err(|_| EngineError::Internal("state borrowed".into()))?;
    let (status, return_data, gas_used) = match end {
        FrameEnd::Returned(d) => {
            e.overlay.commit(checkpoint);
            (Status::Success, d, tx.gas_limit.saturating_sub(left))
        }
        FrameEnd::Reverted(m) => {
            e.overlay.revert(checkpoint);
            (
                Status::Reverted(m),
                Vec::new(),
                tx.gas_limit.saturating_sub(left),
            )
        }
        FrameEnd::Trapped(k) => {
            e.overlay.revert(checkpoint);
            (
                Status::Trapped(k),
                Vec::new(),
                tx.gas_limit.saturating_sub(left),
            )
        }
        FrameEnd::OutOfGas => {
            e.overlay.revert(checkpoint);
            (Status::OutOfGas, Vec::new(), tx.gas_limit)
        }
    };
    let events = if matches!(status, Status::Success) {
        std::mem::take(&mut e.events)
    } else {
        Vec::new()
    };
    let logs = std::mem::take(&mut e.logs);
    e.stack.clear();
    e.overlay.put(nkey, next_nonce.encode());
    Ok(Receipt {
        status,
        gas_used,
        return_data,
        events,
        logs,
    })
}
