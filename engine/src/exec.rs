//! Running transactions and call frames.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use keel_state::{Overlay, StateRead};
use lru::LruCache;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use wasmi::{Global, Instance, Memory, Store, StoreLimits, StoreLimitsBuilder, Val};

use crate::config::{EngineConfig, wasmi_config};
use crate::error::EngineError;
use crate::host::{Abort, resolve};
use crate::types::{
    Action, Address, BlockContext, CallStatus, ContractInfo, Event, FLAG_REENTRANT, Hash,
    InvalidReason, Receipt, Status, Transaction, TrapKind,
};
use crate::validate::{
    CodeInfo, Problem, Shape, ValidationError, compile, compile_live_form, scan_code,
};

/// What `Deploy` records about a module beside its code (`0x05 ‖ code_hash`), so that every
/// decision before execution (is this a method, does it accept re-entry, what does an
/// instantiation cost) is a small state read and never a compile. SCALE-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub(crate) struct CodeMeta {
    /// [`META_REENTRANT`], [`META_HAS_INIT`].
    pub flags: u32,
    /// What deployment and instantiation are priced by.
    pub shape: Shape,
    /// The callable methods, sorted, each as a little-endian `u16` length and the name's bytes:
    /// searched in place, without decoding into strings.
    pub methods: Vec<u8>,
}

/// `CodeMeta::flags` bit: the module exports `keel_reentrant`.
pub(crate) const META_REENTRANT: u32 = 1;
/// `CodeMeta::flags` bit: the module exports `init`.
pub(crate) const META_HAS_INIT: u32 = 2;

impl CodeMeta {
    pub(crate) fn from_info(info: &CodeInfo) -> Self {
        let mut methods = Vec::new();
        for m in &info.methods {
            let len = u16::try_from(m.len()).unwrap_or(u16::MAX);
            methods.extend_from_slice(&len.to_le_bytes());
            methods.extend_from_slice(m.as_bytes().get(..usize::from(len)).unwrap_or(&[]));
        }
        let mut flags = 0;
        if info.reentrant {
            flags |= META_REENTRANT;
        }
        if info.has_init {
            flags |= META_HAS_INIT;
        }
        Self {
            flags,
            shape: info.shape.clone(),
            methods,
        }
    }

    /// Whether `name` is a callable method: one pass over the table, no allocation.
    pub(crate) fn is_method(&self, name: &str) -> bool {
        let mut rest = self.methods.as_slice();
        while let [a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_le_bytes([*a, *b]));
            let Some((m, next)) = tail.split_at_checked(len) else {
                return false;
            };
            if m == name.as_bytes() {
                return true;
            }
            rest = next;
        }
        false
    }

    fn reentrant(&self) -> bool {
        self.flags & META_REENTRANT != 0
    }

    fn has_init(&self) -> bool {
        self.flags & META_HAS_INIT != 0
    }
}

/// A compiled module, ready to instantiate.
#[derive(Debug)]
pub(crate) struct CachedModule {
    pub module: wasmi::Module,
    /// The names of the module's `keel` imports, in import order. Kept here so that an
    /// instantiation does not walk (and clone the types of) the module's imports again.
    pub imports: Vec<String>,
    /// The pool generation (wasmi engine) it was compiled into.
    generation: u64,
    /// Its code bytes, for the pool's garbage accounting.
    code_len: u64,
    /// Unique per compile in this engine: tells an idle instance of an evicted module from one
    /// of the module now cached under the same hash.
    id: u64,
    /// The export names of its mutable globals if its instances can be reset exactly
    /// (`validate::reset_form`); `None`: every frame instantiates it afresh.
    reset_globals: Option<Vec<String>>,
    /// The linear memory of a fresh instance (data segments applied), taken from the first
    /// instance that goes back to the instance pool. The same for every instance.
    fresh_memory: OnceLock<FreshMemory>,
}

impl CachedModule {
    /// A module outside the module cache and the instance pool (the profiler's instrumented
    /// copies): never reset, never reused.
    pub(crate) fn standalone(module: wasmi::Module, imports: Vec<String>) -> Self {
        Self {
            module,
            imports,
            generation: u64::MAX,
            code_len: 0,
            id: u64::MAX,
            reset_globals: None,
            fresh_memory: OnceLock::new(),
        }
    }
}

/// The memory of a fresh instance: its size and its non-zero byte runs (a reset zeroes the
/// memory, then writes the runs back: cheaper than copying the whole image).
#[derive(Debug)]
struct FreshMemory {
    len: usize,
    runs: Vec<(usize, Box<[u8]>)>,
}

impl FreshMemory {
    fn new(image: &[u8]) -> Self {
        // Zero gaps shorter than this stay inside a run.
        const GAP: usize = 64;
        let mut runs: Vec<(usize, Box<[u8]>)> = Vec::new();
        let mut i = 0;
        while let Some(start) = image.get(i..).and_then(|r| r.iter().position(|b| *b != 0)) {
            let start = i + start;
            let mut end = start;
            let mut zeros = 0;
            for (j, b) in image.iter().enumerate().skip(start) {
                if *b == 0 {
                    zeros += 1;
                    if zeros >= GAP {
                        break;
                    }
                } else {
                    zeros = 0;
                    end = j + 1;
                }
            }
            runs.push((start, image.get(start..end).unwrap_or(&[]).into()));
            i = end;
        }
        Self {
            len: image.len(),
            runs,
        }
    }

    /// Writes this image over `memory` (of the same length).
    fn restore(&self, memory: &mut [u8]) {
        memory.fill(0);
        for (offset, bytes) in &self.runs {
            if let Some(dst) = memory.get_mut(*offset..offset + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
    }
}

/// An instance kept for reuse, in exactly the state of a fresh instantiation of its module.
struct Pooled {
    module_id: u64,
    store: Store<Frame>,
    instance: Instance,
    memory: Option<Memory>,
    /// The module's mutable globals with their values after instantiation.
    globals: Vec<(Global, Val)>,
    /// Its memory size after instantiation, bytes.
    memory_bytes: usize,
    /// Whether it may go back to the pool (its module can be reset exactly).
    reusable: bool,
}

/// Idle instances, by code hash. Which instance a frame gets never changes anything
/// observable: each is reset to the state of a fresh instantiation before it is put back
/// (`release`), and gas never depends on whether a frame got one (instantiation is charged
/// from the metadata either way).
#[derive(Default)]
struct InstancePool {
    idle: HashMap<Hash, Vec<Pooled>>,
    /// The memory bytes of all idle instances.
    bytes: usize,
}

impl std::fmt::Debug for InstancePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePool")
            .field("modules", &self.idle.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Most idle instances kept per module (nested and re-entrant calls need more than one).
const POOL_PER_MODULE: usize = 4;
/// Most memory bytes held by idle instances in all.
const POOL_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Start a new wasmi engine once this many bytes of code compiled into the current one are
/// garbage (rejected, evicted, or compiled only to validate). wasmi's `CodeMap` never frees
/// compiled code, so this bounds the memory that compiles nobody keeps can hold.
const RECYCLE_GARBAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Start a new pool engine before this many functions were compiled into the current one
/// (wasmi's hard limit is 100M per engine; reaching it would fail compiles at a moment that
/// depends on each node's history).
const POOL_MAX_FUNCTIONS: u64 = 10_000_000;

/// The wasmi engine that compiles for validation only (`Deploy`'s check, `Engine::check`):
/// everything compiled into it is garbage, so it is replaced every `RECYCLE_GARBAGE_BYTES`.
#[derive(Debug)]
struct Scratch {
    engine: wasmi::Engine,
    bytes: u64,
}

/// The wasmi engine live modules are compiled into, and how much of it is garbage.
#[derive(Debug)]
struct Pool {
    engine: wasmi::Engine,
    generation: u64,
    functions: u64,
    garbage: u64,
}

/// Counters that tests and benchmarks read to assert structural bounds (how many compiles a
/// workload caused, how many wasmi engines were created). Never affect any receipt.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub compiles: AtomicU64,
    pub engines: AtomicU64,
    pub state_meta_reads: AtomicU64,
    /// Frames that instantiated their module, and frames that reused a pooled instance.
    pub instantiations: AtomicU64,
    pub reuses: AtomicU64,
}

/// Everything the engine shares between transactions: configuration, wasmi, the caches.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Arc<EngineConfig>,
    wasmi_config: wasmi::Config,
    scratch: Mutex<Scratch>,
    pool: Mutex<Pool>,
    modules: Mutex<Option<LruCache<Hash, Arc<CachedModule>>>>,
    /// Code metadata read from state. A pure function of the code (and the rules), so a hit is
    /// as good as a read; filled only from state, and never consulted for existence.
    metas: Mutex<HashMap<Hash, Arc<CodeMeta>>>,
    /// Idle instances for reuse (`EngineConfig::instance_pool`).
    instances: Mutex<InstancePool>,
    next_module_id: AtomicU64,
    pub counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(config: EngineConfig) -> Self {
        let wasmi_config = wasmi_config(&config);
        let modules = match config.module_cache_capacity {
            usize::MAX => Some(LruCache::unbounded()),
            n => NonZeroUsize::new(n).map(LruCache::new),
        };
        let counters = Counters::default();
        counters.engines.store(2, Ordering::Relaxed);
        Self {
            scratch: Mutex::new(Scratch {
                engine: wasmi::Engine::new(&wasmi_config),
                bytes: 0,
            }),
            pool: Mutex::new(Pool {
                engine: wasmi::Engine::new(&wasmi_config),
                generation: 0,
                functions: 0,
                garbage: 0,
            }),
            wasmi_config,
            config: Arc::new(config),
            modules: Mutex::new(modules),
            metas: Mutex::new(HashMap::new()),
            instances: Mutex::new(InstancePool::default()),
            next_module_id: AtomicU64::new(0),
            counters,
        }
    }

    /// Number of modules in the cache.
    pub(crate) fn cached_modules(&self) -> usize {
        lock(&self.modules).as_ref().map_or(0, LruCache::len)
    }

    fn cache_get(&self, hash: &Hash) -> Option<Arc<CachedModule>> {
        lock(&self.modules)
            .as_mut()
            .and_then(|c| c.get(hash).cloned())
    }

    /// Validates `code` as `Deploy` does: the scan, then a compile into the scratch engine.
    pub(crate) fn check(&self, code: &[u8]) -> Result<CodeInfo, ValidationError> {
        let info = scan_code(code, &self.config)?;
        self.check_compile(code)
            .map(|()| info)
            .map_err(|p| ValidationError { problems: vec![p] })
    }

    /// Compiles `code` (already scanned) into the scratch engine and throws the result away.
    fn check_compile(&self, code: &[u8]) -> Result<(), Problem> {
        let engine = {
            let mut s = lock(&self.scratch);
            if s.bytes > RECYCLE_GARBAGE_BYTES {
                s.engine = wasmi::Engine::new(&self.wasmi_config);
                s.bytes = 0;
                self.counters.engines.fetch_add(1, Ordering::Relaxed);
            }
            s.bytes = s.bytes.saturating_add(code.len() as u64);
            s.engine.clone()
        };
        self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        compile(&engine, code, &self.config.gas).map(drop)
    }

    /// Compiles `code` into the pool and caches it under `hash`.
    fn compile_live(&self, hash: Hash, code: &[u8]) -> Result<Arc<CachedModule>, Problem> {
        let functions = u64::from(scan_functions(code));
        let (engine, generation) = {
            let mut p = lock(&self.pool);
            if p.garbage > RECYCLE_GARBAGE_BYTES
                || p.functions.saturating_add(functions) > POOL_MAX_FUNCTIONS
            {
                p.engine = wasmi::Engine::new(&self.wasmi_config);
                p.generation += 1;
                p.functions = 0;
                p.garbage = 0;
                self.counters.engines.fetch_add(1, Ordering::Relaxed);
            }
            p.functions = p.functions.saturating_add(functions);
            (p.engine.clone(), p.generation)
        };
        self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        let compiled = if self.config.instance_pool {
            compile_live_form(&engine, code, &self.config.gas)
        } else {
            compile(&engine, code, &self.config.gas).map(|m| (m, None))
        };
        let (module, reset_globals) = match compiled {
            Ok(m) => m,
            Err(p) => {
                self.add_garbage(generation, code.len() as u64);
                return Err(p);
            }
        };
        // Validation admits only `keel` imports.
        let imports = module.imports().map(|i| i.name().to_string()).collect();
        let cached = Arc::new(CachedModule {
            module,
            imports,
            generation,
            code_len: code.len() as u64,
            id: self.next_module_id.fetch_add(1, Ordering::Relaxed),
            reset_globals,
            fresh_memory: OnceLock::new(),
        });
        let evicted = lock(&self.modules)
            .as_mut()
            .map(|c| c.push(hash, cached.clone()));
        match evicted {
            // Replaced or evicted: that module's code is garbage in its engine.
            Some(Some((old_hash, old))) => {
                self.add_garbage(old.generation, old.code_len);
                self.drop_idle(&old_hash);
            }
            // No cache: every compile is garbage once its frame ends.
            None => self.add_garbage(generation, code.len() as u64),
            Some(None) => {}
        }
        Ok(cached)
    }

    /// Drops the idle instances of `hash` (its module left the cache).
    fn drop_idle(&self, hash: &Hash) {
        let mut pool = lock(&self.instances);
        if let Some(list) = pool.idle.remove(hash) {
            let bytes: usize = list.iter().map(|p| p.memory_bytes).sum();
            pool.bytes = pool.bytes.saturating_sub(bytes);
        }
    }

    /// An idle instance of `code` (cached under `hash`), if the pool holds one.
    fn take_idle(&self, hash: &Hash, code: &CachedModule) -> Option<Pooled> {
        let mut pool = lock(&self.instances);
        let list = pool.idle.get_mut(hash)?;
        let pooled = list.pop()?;
        let bytes = pooled.memory_bytes;
        pool.bytes = pool.bytes.saturating_sub(bytes);
        // An instance of a module that was evicted and compiled again is dropped.
        (pooled.module_id == code.id).then_some(pooled)
    }

    /// Resets `pooled` to the state of a fresh instance of `code` and keeps it for reuse; drops
    /// it if that cannot be done exactly (its memory grew) or the pool is full.
    fn release(&self, hash: &Hash, code: &CachedModule, mut pooled: Pooled) {
        // Without a module cache each frame compiles anew: its instances are never reused.
        if self.config.module_cache_capacity == 0 {
            return;
        }
        let Some(fresh) = code.fresh_memory.get() else {
            return;
        };
        let Some(memory) = pooled.memory else {
            return;
        };
        let memory = memory.data_mut(&mut pooled.store);
        // A grown memory cannot shrink back: that instance is dropped.
        if memory.len() != fresh.len {
            return;
        }
        fresh.restore(memory);
        for (global, value) in &pooled.globals {
            if global.set(&mut pooled.store, value.clone()).is_err() {
                return;
            }
        }
        let frame = pooled.store.data_mut();
        frame.input = Vec::new();
        frame.return_data = Vec::new();
        frame.last_call = Vec::new();
        let mut pool = lock(&self.instances);
        if pool.bytes.saturating_add(pooled.memory_bytes) > POOL_MAX_BYTES {
            return;
        }
        let bytes = pooled.memory_bytes;
        let list = pool.idle.entry(*hash).or_default();
        if list.len() >= POOL_PER_MODULE {
            return;
        }
        list.push(pooled);
        pool.bytes += bytes;
    }

    fn add_garbage(&self, generation: u64, bytes: u64) {
        let mut p = lock(&self.pool);
        if p.generation == generation {
            p.garbage = p.garbage.saturating_add(bytes);
        }
    }

    /// The metadata of `hash`. `cached_ok`: the caller already knows from state that the code
    /// exists (a contract record names it), so a cached copy may answer; otherwise state is
    /// read, since existence must come from state, never from this node's cache.
    fn meta(
        &self,
        state: &impl StateRead,
        hash: &Hash,
        cached_ok: bool,
    ) -> Result<Option<Arc<CodeMeta>>, Abort> {
        if cached_ok && let Some(m) = lock(&self.metas).get(hash) {
            return Ok(Some(m.clone()));
        }
        self.counters
            .state_meta_reads
            .fetch_add(1, Ordering::Relaxed);
        let Some(bytes) = state.get(&meta_key(hash)).map_err(Abort::Store)? else {
            return Ok(None);
        };
        let meta = CodeMeta::decode_all(&mut bytes.as_slice())
            .map_err(|_| Abort::Internal("undecodable code metadata in state"))?;
        let meta = Arc::new(meta);
        lock(&self.metas).insert(*hash, meta.clone());
        Ok(Some(meta))
    }

    /// The compiled module of `hash`, whose metadata is known to exist: from the cache, or
    /// compiled from state once. Failing here means the node's state is broken (code with
    /// metadata always compiled when it was deployed, under the same pinned wasmi).
    fn module(&self, state: &impl StateRead, hash: &Hash) -> Result<Arc<CachedModule>, Abort> {
        if let Some(m) = self.cache_get(hash) {
            return Ok(m);
        }
        let Some(code) = state.get(&code_key(hash)).map_err(Abort::Store)? else {
            return Err(Abort::Internal("code with metadata is missing from state"));
        };
        self.compile_live(*hash, &code)
            .map_err(|_| Abort::Internal("stored code with metadata no longer compiles"))
    }
}

impl Shared {
    /// Compiles every deployed module in `state` that the cache does not hold yet; returns how
    /// many were compiled. For nodes at startup, so that no block after it compiles anything.
    pub(crate) fn preload(&self, state: &impl StateRead) -> Result<usize, Abort> {
        use std::ops::Bound;
        let mut compiled = 0;
        let mut lower = vec![0x05];
        let upper = [0x06];
        let mut bound = Bound::Included(lower.as_slice());
        while let Some((key, _)) = state
            .next_entry(bound, Bound::Excluded(&upper))
            .map_err(Abort::Store)?
        {
            let hash: Hash = key
                .get(1..)
                .and_then(|h| h.try_into().ok())
                .ok_or(Abort::Internal("malformed code-metadata key in state"))?;
            if self.cache_get(&hash).is_none() {
                self.module(state, &hash)?;
                compiled += 1;
            }
            lower = key;
            bound = Bound::Excluded(lower.as_slice());
        }
        Ok(compiled)
    }
}

/// The number of functions (imported and defined) a module declares, read from its section
/// headers (for the pool's accounting; 0 for anything unreadable).
fn scan_functions(code: &[u8]) -> u32 {
    let mut n = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        match payload {
            Ok(wasmparser::Payload::ImportSection(r)) => n = n.saturating_add(r.count()),
            Ok(wasmparser::Payload::FunctionSection(r)) => n = n.saturating_add(r.count()),
            Ok(wasmparser::Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    n
}

/// The state key of deployed code: `0x01 ‖ code_hash` (its value is the module's bytes).
pub fn code_key(hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x01);
    k.extend_from_slice(hash);
    k
}

/// `0x05 ‖ code_hash`: the code's [`CodeMeta`].
pub(crate) fn meta_key(hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x05);
    k.extend_from_slice(hash);
    k
}

/// The state key of a contract's record: `0x02 ‖ address` (its value is the SCALE
/// [`ContractInfo`], which starts with the code hash).
pub fn contract_key(address: &Address) -> Vec<u8> {
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
    /// The block will be committed (not a simulation): a successful `Deploy` compiles its
    /// module into the pool, where it stays live.
    pub committing: bool,
    /// The trace being recorded (`None`: tracing is off, the default).
    pub trace: Option<Box<crate::trace::Recorder>>,
}

impl<'s> TxEnv<'s> {
    pub(crate) fn new(base: &'s dyn StateRead, committing: bool) -> Self {
        Self {
            overlay: Overlay::new(base),
            events: Vec::new(),
            logs: Vec::new(),
            stack: Vec::new(),
            committing,
            trace: None,
        }
    }
}

/// The wasmi store data of a call frame. It borrows nothing, so that a store and its instance
/// can outlive the frame in the instance pool; what a host function reaches beyond it (the
/// engine and the block's state) is the frame's context ([`with_ctx`]).
pub(crate) struct Frame {
    pub config: Arc<EngineConfig>,
    pub block: BlockContext,
    pub address: Address,
    pub caller: Address,
    pub input: Vec<u8>,
    pub return_data: Vec<u8>,
    pub last_call: Vec<u8>,
    pub memory: Option<Memory>,
    limits: StoreLimits,
}

/// What the host functions of a running frame reach beyond its store data: the engine and the
/// block's environment. Set for the duration of a call by [`enter`], read by [`with_ctx`].
pub(crate) struct Ctx<'r, 's> {
    pub shared: &'r Shared,
    pub env: &'r RefCell<TxEnv<'s>>,
}

/// A [`Ctx`] with its lifetimes erased; only [`enter`] stores one and only [`with_ctx`] reads
/// one.
type CtxPtr = NonNull<Ctx<'static, 'static>>;

thread_local! {
    /// The context of the innermost frame running on this thread, if any.
    static CURRENT: Cell<Option<CtxPtr>> = const { Cell::new(None) };
}

/// Runs `f` (a wasm call) with `ctx` as the current frame context of this thread, and puts the
/// previous one back afterwards, also when `f` unwinds. Nested frames nest their contexts.
fn enter<R>(ctx: &Ctx<'_, '_>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<CtxPtr>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let ptr: CtxPtr = NonNull::from(ctx).cast();
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(ptr))));
    f()
}

/// Runs `f` on the context of the frame running on this thread (the caller of a host
/// function); `Abort::Internal` outside any frame.
#[allow(unsafe_code)]
pub(crate) fn with_ctx<R>(f: impl for<'a, 'b> FnOnce(&'a Ctx<'a, 'b>) -> R) -> Result<R, Abort> {
    let ptr = CURRENT
        .with(Cell::get)
        .ok_or(Abort::Internal("host function called outside a frame"))?;
    // SAFETY: `CURRENT` holds only pointers stored by `enter`, made from a `&Ctx` that `enter`
    // borrows for as long as the pointer is there: `enter` puts the previous value back before
    // it returns or unwinds, and contexts nest strictly on one thread (a thread-local). So the
    // `Ctx` is alive and only shared-borrowed (its `env` is a `RefCell`, checked at runtime)
    // for the whole of this call, which runs inside that `enter` on the same thread. Its
    // lifetimes were erased; `f` is generic over them, so nothing it returns can borrow from
    // the context, and the only `TxEnv<'b>` values it can build come from the environment
    // itself. Covered by the engine's tests: every host call that touches state runs here,
    // nested calls included (tests/instance_pool.rs, tests/abi.rs).
    let ctx: &Ctx<'_, '_> = unsafe { ptr.cast::<Ctx<'_, '_>>().as_ref() };
    Ok(f(ctx))
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
    pub code_hash: &'a Hash,
    pub meta: &'a CodeMeta,
    pub address: Address,
    pub caller: Address,
    pub method: &'a str,
    pub input: Vec<u8>,
    pub fuel: u64,
}

/// A fresh instance of `code` in its own store: the imports created in it from the module's
/// import list, then `Instance::new`. `Err` is how the frame ends (an import outside the ABI,
/// or an instantiation failure). wasmi charges no fuel for any of this.
fn instantiate(
    shared: &Shared,
    code: &CachedModule,
    block: BlockContext,
    traced: bool,
) -> Result<Pooled, FrameEnd> {
    let limits = &shared.config.limits;
    let store_limits = StoreLimitsBuilder::new()
        .memory_size(limits.max_memory_pages as usize * 65_536)
        .table_elements(limits.max_table_entries as usize)
        .instances(1)
        .memories(1)
        .tables(100)
        .build();
    let module = &code.module;
    let mut store = Store::new(
        module.engine(),
        Frame {
            config: shared.config.clone(),
            block,
            address: [0; 32],
            caller: [0; 32],
            input: Vec::new(),
            return_data: Vec::new(),
            last_call: Vec::new(),
            memory: None,
            limits: store_limits,
        },
    );
    store.limiter(|f| &mut f.limits);
    let mut imports = Vec::with_capacity(code.imports.len());
    for name in &code.imports {
        let import = if traced {
            crate::trace::resolve(&mut store, name)
        } else {
            resolve(&mut store, name)
        };
        match import {
            Some(f) => imports.push(f),
            None => return Err(FrameEnd::Trapped(TrapKind::AbiViolation)),
        }
    }
    let instance = match Instance::new(&mut store, module, &imports) {
        Ok(i) => i,
        Err(e) => return Err(classify(e).unwrap_or(FrameEnd::Trapped(TrapKind::AbiViolation))),
    };
    shared
        .counters
        .instantiations
        .fetch_add(1, Ordering::Relaxed);
    let memory = instance.get_memory(&store, "memory");
    store.data_mut().memory = memory;
    // Only a module whose instances can be reset exactly goes back to the pool: it needs its
    // memory and the snapshot of its mutable globals.
    // (Without a memory the frame runs, and traps at its first host call that needs one.)
    // A traced frame's imports are wrapped: its instance is never pooled.
    let pool = shared.config.instance_pool && !traced;
    let (Some(names), Some(mem), true) = (&code.reset_globals, memory, pool) else {
        return Ok(unpooled(store, instance, memory));
    };
    let mut globals = Vec::with_capacity(names.len());
    for name in names {
        let Some(g) = instance.get_global(&store, name) else {
            return Ok(unpooled(store, instance, memory));
        };
        globals.push((g, g.get(&store)));
    }
    code.fresh_memory
        .get_or_init(|| FreshMemory::new(mem.data(&store)));
    let memory_bytes = mem.data_size(&store);
    Ok(Pooled {
        module_id: code.id,
        store,
        instance,
        memory: Some(mem),
        globals,
        memory_bytes,
        reusable: true,
    })
}

/// An instance that is never put back in the pool.
fn unpooled(store: Store<Frame>, instance: Instance, memory: Option<Memory>) -> Pooled {
    Pooled {
        module_id: u64::MAX,
        store,
        instance,
        memory,
        globals: Vec::new(),
        memory_bytes: 0,
        reusable: false,
    }
}

/// Instantiates `call.code` (or takes an idle instance of it from the pool, which is the same
/// thing, observably) with `call.fuel` and runs `call.method`. Returns how it ended and the
/// fuel left. Charges the instantiation (base, initial pages and the module's shape, from its
/// metadata) from the frame's fuel first, identically on a cache or pool hit or miss.
pub(crate) fn run_frame<'r, 's>(
    shared: &'r Shared,
    env: &'r RefCell<TxEnv<'s>>,
    block: BlockContext,
    call: FrameCall<'_>,
) -> Result<(FrameEnd, u64), Abort> {
    let cost = shared.config.gas.instantiation(&call.meta.shape);
    // Tracing (off by default) only observes: one `Option` check per frame when off.
    if !crate::trace::begin_frame(env, call.address, call.method, call.fuel, cost)? {
        return run_frame_inner(shared, env, block, call, cost, false);
    }
    let result = run_frame_inner(shared, env, block, call, cost, true);
    crate::trace::end_frame(env, &result)?;
    result
}

fn run_frame_inner<'r, 's>(
    shared: &'r Shared,
    env: &'r RefCell<TxEnv<'s>>,
    block: BlockContext,
    call: FrameCall<'_>,
    cost: u64,
    traced: bool,
) -> Result<(FrameEnd, u64), Abort> {
    let Some(fuel) = call.fuel.checked_sub(cost) else {
        return Ok((FrameEnd::OutOfGas, 0));
    };
    // A traced frame never takes a pooled instance (whose imports are not the tracing ones).
    let pooled = if shared.config.instance_pool && !traced {
        shared.take_idle(call.code_hash, call.code)
    } else {
        None
    };
    let mut slot = match pooled {
        Some(p) => {
            shared.counters.reuses.fetch_add(1, Ordering::Relaxed);
            p
        }
        None => match instantiate(shared, call.code, block, traced) {
            Ok(p) => p,
            Err(end) => return Ok((end, fuel)),
        },
    };
    let frame = slot.store.data_mut();
    frame.block = block;
    frame.address = call.address;
    frame.caller = call.caller;
    frame.input = call.input;
    slot.store
        .set_fuel(fuel)
        .map_err(|_| Abort::Internal("fuel metering disabled"))?;
    let Ok(func) = slot
        .instance
        .get_typed_func::<(), ()>(&slot.store, call.method)
    else {
        if slot.reusable {
            shared.release(call.code_hash, call.code, slot);
        }
        return Ok((FrameEnd::Trapped(TrapKind::AbiViolation), fuel));
    };
    let ctx = Ctx { shared, env };
    let result = enter(&ctx, || func.call(&mut slot.store, ()));
    let left = slot.store.get_fuel().unwrap_or(0);
    let end = match result {
        Ok(()) => FrameEnd::Returned(std::mem::take(&mut slot.store.data_mut().return_data)),
        Err(e) => classify(e)?,
    };
    let left = if matches!(end, FrameEnd::OutOfGas) {
        0
    } else {
        left
    };
    if slot.reusable {
        shared.release(call.code_hash, call.code, slot);
    }
    Ok((end, left))
}

fn borrow_err<E>(_: E) -> Abort {
    Abort::Internal("state borrowed")
}

fn read_contract(
    env: &RefCell<TxEnv<'_>>,
    address: &Address,
) -> Result<Option<ContractInfo>, Abort> {
    let env = env.try_borrow().map_err(borrow_err)?;
    let Some(bytes) = env
        .overlay
        .get(&contract_key(address))
        .map_err(Abort::Store)?
    else {
        return Ok(None);
    };
    ContractInfo::decode_all(&mut bytes.as_slice())
        .map(Some)
        .map_err(|_| Abort::Internal("undecodable contract info in state"))
}

fn read_meta(
    shared: &Shared,
    env: &RefCell<TxEnv<'_>>,
    hash: &Hash,
    cached_ok: bool,
) -> Result<Option<Arc<CodeMeta>>, Abort> {
    let env = env.try_borrow().map_err(borrow_err)?;
    shared.meta(&env.overlay, hash, cached_ok)
}

fn load_module(
    shared: &Shared,
    env: &RefCell<TxEnv<'_>>,
    hash: &Hash,
) -> Result<Arc<CachedModule>, Abort> {
    if let Some(profiled) = crate::trace::substitute(shared, env, hash)? {
        return Ok(profiled);
    }
    let env = env.try_borrow().map_err(borrow_err)?;
    shared.module(&env.overlay, hash)
}

/// A nested call from the frame of `caller`. Returns the status code for the contract, the
/// data for `call_result`, and the gas the callee used. Out of gas propagates as an error and
/// ends the transaction. Every refusal is decided from the callee's record and metadata, before
/// anything is compiled or instantiated.
pub(crate) fn run_call(
    ctx: &Ctx<'_, '_>,
    block: BlockContext,
    me: Address,
    target: Address,
    method: &str,
    input: Vec<u8>,
    forward: u64,
) -> Result<(CallStatus, Vec<u8>, u64), wasmi::Error> {
    let refused = Ok((CallStatus::Refused, Vec::new(), 0));
    let (shared, env) = (ctx.shared, ctx.env);
    let host = wasmi::Error::host;
    let depth = env
        .try_borrow()
        .map_err(|e| host(borrow_err(e)))?
        .stack
        .len();
    if depth >= shared.config.limits.max_call_depth as usize {
        return refused;
    }
    let Some(info) = read_contract(env, &target).map_err(host)? else {
        return refused;
    };
    // Code without metadata (stored by an older engine) is unusable: refused here, exactly as
    // a top-level transaction gets `Invalid(UnknownCode)`.
    let Some(meta) = read_meta(shared, env, &info.code_hash, true).map_err(host)? else {
        return refused;
    };
    if !meta.is_method(method) {
        return refused;
    }
    {
        let e = env.try_borrow().map_err(|e| host(borrow_err(e)))?;
        if e.stack.contains(&target) && !meta.reentrant() {
            return refused;
        }
    }
    let code = load_module(shared, env, &info.code_hash).map_err(host)?;
    let (checkpoint, events_mark) = {
        let mut e = env.try_borrow_mut().map_err(|e| host(borrow_err(e)))?;
        e.stack.push(target);
        (e.overlay.checkpoint(), e.events.len())
    };
    let result = run_frame(
        shared,
        env,
        block,
        FrameCall {
            code: &code,
            code_hash: &info.code_hash,
            meta: &meta,
            address: target,
            caller: me,
            method,
            input,
            fuel: forward,
        },
    );
    let mut e = env.try_borrow_mut().map_err(|e| host(borrow_err(e)))?;
    e.stack.pop();
    let (end, left) = match result {
        Ok(r) => r,
        Err(abort) => {
            e.overlay.revert(checkpoint);
            return Err(host(abort));
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
            Err(host(Abort::OutOfGas))
        }
    }
}

pub(crate) fn engine_error(abort: Abort) -> EngineError {
    match abort {
        Abort::Store(e) => EngineError::State(e),
        Abort::Internal(m) => EngineError::Internal(m.to_string()),
        other => EngineError::Internal(format!("unexpected abort {other:?}")),
    }
}

fn borrowed<E>(_: E) -> EngineError {
    EngineError::Internal("state borrowed".into())
}

/// A `Deploy`'s work after the intrinsic gas: the scan, the shape charge, the check compile,
/// and on success the code and its metadata written (and, in a committed block, the module
/// compiled into the pool). Returns how it ended and the fuel left.
fn deploy(
    shared: &Shared,
    env: &RefCell<TxEnv<'_>>,
    code: &[u8],
    fuel: u64,
) -> Result<(FrameEnd, u64), EngineError> {
    let reject = |problems: Vec<Problem>| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        FrameEnd::Reverted(lines.join("\n").into_bytes())
    };
    let info = match scan_code(code, &shared.config) {
        Ok(info) => info,
        Err(v) => return Ok((reject(v.problems), fuel)),
    };
    let Some(fuel) = fuel.checked_sub(shared.config.gas.deploy_shape(&info.shape)) else {
        return Ok((FrameEnd::OutOfGas, 0));
    };
    if let Err(p) = shared.check_compile(code) {
        return Ok((reject(vec![p]), fuel));
    }
    let hash = info.code_hash;
    let committing = {
        let mut e = env.try_borrow_mut().map_err(borrowed)?;
        e.overlay.put(code_key(&hash), code.to_vec());
        e.overlay
            .put(meta_key(&hash), CodeMeta::from_info(&info).encode());
        e.committing
    };
    if committing && shared.cache_get(&hash).is_none() {
        // The module stays compiled for the engine's lifetime: later calls never compile it.
        shared.compile_live(hash, code).map_err(|p| {
            EngineError::Internal(format!("a checked module failed to compile: {p}"))
        })?;
    }
    Ok((FrameEnd::Returned(hash.to_vec()), fuel))
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
        let e = env.try_borrow().map_err(borrowed)?;
        match e.overlay.get(&nkey)? {
            None => 0,
            Some(v) => u64::decode_all(&mut v.as_slice())
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

    // Pre-checks (an `Invalid` receipt changes nothing) and the intrinsic gas. Every check
    // reads at most the nonce, one contract record and one code metadata entry: nothing is
    // compiled or instantiated before the transaction is known to be paid for.
    enum Plan {
        Deploy,
        Instantiate {
            meta: Arc<CodeMeta>,
            address: Address,
        },
        Call {
            meta: Arc<CodeMeta>,
            code_hash: Hash,
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
            // Code without metadata (stored by an older engine) is unknown code.
            let Some(meta) = read_meta(shared, env, code_hash, false).map_err(engine_error)? else {
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
                Plan::Instantiate { meta, address },
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
            // Code without metadata (stored by an older engine) is unusable, the same outcome
            // as an `Instantiate` of it, and as `Refused` for a nested call.
            let Some(meta) = read_meta(shared, env, &info.code_hash, true).map_err(engine_error)?
            else {
                return Ok(Receipt::invalid(InvalidReason::UnknownCode));
            };
            if !meta.is_method(method) {
                return Ok(Receipt::invalid(InvalidReason::UnknownMethod));
            }
            (
                Plan::Call {
                    meta,
                    code_hash: info.code_hash,
                },
                (method.len() as u64).saturating_add(args.len() as u64),
            )
        }
    };
    let mut intrinsic = gas
        .tx_base
        .saturating_add(payload.saturating_mul(gas.tx_byte));
    match plan {
        Plan::Deploy => {
            intrinsic = intrinsic
                .saturating_add(gas.deploy_base)
                .saturating_add(payload.saturating_mul(gas.deploy_byte));
        }
        // The contract record is a write, with its commit work.
        Plan::Instantiate { .. } => intrinsic = intrinsic.saturating_add(gas.storage_write_base),
        Plan::Call { .. } => {}
    }

    let mut e = env.try_borrow_mut().map_err(borrowed)?;
    e.events.clear();
    e.logs.clear();
    e.stack.clear();
    let checkpoint = e.overlay.checkpoint();
    drop(e);

    let (end, left) = match tx.gas_limit.checked_sub(intrinsic) {
        None => (FrameEnd::OutOfGas, 0),
        Some(fuel) => match (&plan, &tx.action) {
            (Plan::Deploy, Action::Deploy { code }) => deploy(shared, env, code, fuel)?,
            (
                Plan::Instantiate { meta, address },
                Action::Instantiate {
                    code_hash, args, ..
                },
            ) => {
                let info = ContractInfo {
                    code_hash: *code_hash,
                    flags: if meta.reentrant() { FLAG_REENTRANT } else { 0 },
                };
                {
                    let mut e = env.try_borrow_mut().map_err(borrowed)?;
                    e.overlay.put(contract_key(address), info.encode());
                    e.stack.push(*address);
                }
                if meta.has_init() {
                    let code = load_module(shared, env, code_hash).map_err(engine_error)?;
                    let (end, left) = run_frame(
                        shared,
                        env,
                        block,
                        FrameCall {
                            code: &code,
                            code_hash,
                            meta,
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
                Plan::Call { meta, code_hash },
                Action::Call {
                    contract,
                    method,
                    args,
                },
            ) => {
                let code = load_module(shared, env, code_hash).map_err(engine_error)?;
                env.try_borrow_mut()
                    .map_err(borrowed)?
                    .stack
                    .push(*contract);
                run_frame(
                    shared,
                    env,
                    block,
                    FrameCall {
                        code: &code,
                        code_hash,
                        meta,
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

    let mut e = env.try_borrow_mut().map_err(borrowed)?;
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

#[cfg(test)]
mod tests {
    use super::FreshMemory;

    #[test]
    fn a_fresh_memory_image_restores_every_byte() {
        let mut image = vec![0u8; 4096];
        image[0] = 1;
        image[50] = 2; // within 64 zeros of the last non-zero byte: same run
        image[1000..1010].copy_from_slice(&[9; 10]);
        image[4095] = 3;
        let fresh = FreshMemory::new(&image);
        assert_eq!(fresh.runs.len(), 3);
        for dirt in [0u8, 0x5a, 0xff] {
            let mut memory = vec![dirt; 4096];
            fresh.restore(&mut memory);
            assert_eq!(memory, image);
        }
        let zero = FreshMemory::new(&[0; 100]);
        assert!(zero.runs.is_empty());
        let mut memory = vec![7u8; 100];
        zero.restore(&mut memory);
        assert_eq!(memory, vec![0; 100]);
    }
}
