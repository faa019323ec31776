//! Execution traces: the call tree of one transaction, for tools (ARCHITECTURE.md, "Traces").
//!
//! A trace is asked for with [`crate::Engine::simulate_traced`] or
//! [`crate::Engine::execute_block_traced`]. It records each call frame (contract, method,
//! status, gas inclusive and exclusive of its children), every host function call with the gas
//! it charged, and, at [`TraceDetail::Functions`], the entry and exit of every wasm function.
//!
//! Invariant: tracing never changes gas, receipts or roots. When tracing is off the engine
//! checks one `Option` per call frame and per module load, and allocates nothing. When it is
//! on, host functions are wrapped (the wrapper calls the production host function and reads
//! the fuel before and after), and at [`TraceDetail::Functions`] each contract runs an
//! instrumented copy of its code ([`crate::instrument`]) whose entry and exit hooks refund
//! exactly the fuel their own instructions cost. The copy is compiled into a wasmi engine of
//! the trace's own, never stored, hashed or cached.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmi::{Caller, Extern, Func, Store, Val};

use crate::exec::{CachedModule, Frame, FrameEnd, TxEnv, code_key};
use crate::host::Abort;
use crate::types::{Address, Hash, TrapKind};

/// How much a trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceDetail {
    /// Call frames and host function calls.
    Calls,
    /// Also the entry and exit of every wasm function ([`TraceItem::Enter`],
    /// [`TraceItem::Exit`]), from an instrumented copy of each contract's code. Gas is
    /// attributed at the granularity of wasmi's fuel regions: wasmi charges a straight-line
    /// region of code (up to the next loop or branch target) when it enters it, so the cost of
    /// the code after a call that returns is counted where the region starts.
    Functions,
}

/// How a call frame ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameStatus {
    /// It returned.
    Success,
    /// It called `revert`.
    Reverted,
    /// It trapped.
    Trapped(TrapKind),
    /// It ran out of gas (which ends the whole transaction).
    OutOfGas,
}

/// One call frame: a contract method, top-level or called by another contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallTrace {
    /// The contract called.
    pub contract: Address,
    /// The method (`init` for a constructor).
    pub method: String,
    /// How it ended.
    pub status: FrameStatus,
    /// The gas the frame was given.
    pub gas_limit: u64,
    /// The gas it used, children included: instantiation, wasm, host functions, nested calls.
    pub gas_used: u64,
    /// Of which the instantiation charge (charged before any of its code runs).
    pub instantiation: u64,
    /// What happened in it, in order.
    pub items: Vec<TraceItem>,
}

/// An event inside a call frame. Every `at` is the gas the frame had used when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceItem {
    /// A host function call and the gas it charged (for `call`: its own charge, without the
    /// callee's gas, which is the [`TraceItem::Call`] that follows it).
    Host {
        /// The import's name in the `keel` module.
        name: &'static str,
        /// Frame gas used before the call.
        at: u64,
        /// The gas it charged.
        gas: u64,
    },
    /// A nested call frame that ran (refused calls run nothing and are only their `call`).
    Call {
        /// Frame gas used when the callee started.
        at: u64,
        /// The callee's frame.
        frame: CallTrace,
    },
    /// A wasm function was entered ([`TraceDetail::Functions`]). `func` is its index in the
    /// deployed module's function index space (imports first), as in its name section.
    Enter {
        /// The function index.
        func: u32,
        /// Frame gas used.
        at: u64,
    },
    /// A wasm function returned ([`TraceDetail::Functions`]). A trap or revert ends the frame
    /// without exits.
    Exit {
        /// The function index.
        func: u32,
        /// Frame gas used.
        at: u64,
    },
}

impl CallTrace {
    /// The gas of this frame alone: [`CallTrace::gas_used`] less its nested calls'.
    pub fn exclusive_gas(&self) -> u64 {
        self.gas_used
            .saturating_sub(self.calls().fold(0u64, |a, c| a.saturating_add(c.gas_used)))
    }

    /// The nested calls that ran in this frame, in order.
    pub fn calls(&self) -> impl Iterator<Item = &CallTrace> {
        self.items.iter().filter_map(|i| match i {
            TraceItem::Call { frame, .. } => Some(frame),
            _ => None,
        })
    }

    /// The gas charged by this frame's host function calls (not its children's).
    pub fn host_gas(&self) -> u64 {
        self.items.iter().fold(0u64, |a, i| match i {
            TraceItem::Host { gas, .. } => a.saturating_add(*gas),
            _ => a,
        })
    }
}

/// The trace of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The receipt's `gas_used`.
    pub gas_used: u64,
    /// The top-level frame: a call's method or a constructor (`init`). `None` for a `Deploy`,
    /// an `Instantiate` without `init`, an `Invalid` transaction, or one whose intrinsic gas
    /// was not covered. `gas_used - frame.gas_used` is the transaction's own gas (intrinsic,
    /// and for a deploy its validation).
    pub frame: Option<CallTrace>,
}

/// What wasmi 2.0.0 charges for entering a fuel region, on top of its operators' costs
/// ("every `ConsumeFuel` charges at least 1 unit").
const REGION_BASE: u64 = 1;

/// The recording state of one traced transaction, kept in the block's `TxEnv`.
pub(crate) struct Recorder {
    detail: TraceDetail,
    /// Open frames, outermost first, each with the fuel it started with.
    open: Vec<(CallTrace, u64)>,
    /// The finished top-level frame.
    done: Option<CallTrace>,
    /// At [`TraceDetail::Functions`]: the instrumented modules, per code hash.
    profiled: BTreeMap<Hash, Arc<CachedModule>>,
    profile_engine: Option<wasmi::Engine>,
    /// `block`, `loop` and `end` cost no fuel, which the instrumentation needs to be exact.
    profilable: bool,
}

impl Recorder {
    pub(crate) fn new(detail: TraceDetail, gas: &crate::gas::GasSchedule) -> Self {
        let cost = gas.operator_cost();
        Self {
            detail,
            open: Vec::new(),
            done: None,
            profiled: BTreeMap::new(),
            profile_engine: None,
            profilable: cost.block == 0 && cost.loop_ == 0 && cost.end == 0,
        }
    }

    /// The finished transaction's trace.
    pub(crate) fn finish(&mut self, gas_used: u64) -> Trace {
        self.open.clear();
        Trace {
            gas_used,
            frame: self.done.take(),
        }
    }

    fn top(&mut self) -> Option<&mut (CallTrace, u64)> {
        self.open.last_mut()
    }
}

fn with_recorder<R>(
    env: &std::cell::RefCell<TxEnv<'_>>,
    f: impl FnOnce(&mut Recorder) -> R,
) -> Result<Option<R>, Abort> {
    let mut e = env
        .try_borrow_mut()
        .map_err(|_| Abort::Internal("state borrowed"))?;
    Ok(e.trace.as_deref_mut().map(f))
}

/// [`with_recorder`] on the environment of the frame running on this thread (inside a host
/// function or profiler hook), as a wasmi error for the host function to return.
fn with_current_recorder<R>(f: impl FnOnce(&mut Recorder) -> R) -> Result<Option<R>, wasmi::Error> {
    crate::exec::with_ctx(|ctx| with_recorder(ctx.env, f))
        .and_then(|r| r)
        .map_err(wasmi::Error::host)
}

/// Frame start: whether this transaction is traced (`false`, one `Option` check, when off).
pub(crate) fn begin_frame(
    env: &std::cell::RefCell<TxEnv<'_>>,
    contract: Address,
    method: &str,
    fuel: u64,
    instantiation: u64,
) -> Result<bool, Abort> {
    let on = with_recorder(env, |r| {
        r.open.push((
            CallTrace {
                contract,
                method: method.to_string(),
                status: FrameStatus::Success,
                gas_limit: fuel,
                gas_used: 0,
                instantiation: instantiation.min(fuel),
                items: Vec::new(),
            },
            fuel,
        ));
    })?;
    Ok(on.is_some())
}

/// Frame end (traced frames only): the frame goes into its parent, or becomes the top frame.
pub(crate) fn end_frame(
    env: &std::cell::RefCell<TxEnv<'_>>,
    result: &Result<(FrameEnd, u64), Abort>,
) -> Result<(), Abort> {
    with_recorder(env, |r| {
        let Some((mut frame, start)) = r.open.pop() else {
            return;
        };
        if let Ok((end, left)) = result {
            frame.status = match end {
                FrameEnd::Returned(_) => FrameStatus::Success,
                FrameEnd::Reverted(_) => FrameStatus::Reverted,
                FrameEnd::Trapped(k) => FrameStatus::Trapped(*k),
                FrameEnd::OutOfGas => FrameStatus::OutOfGas,
            };
            frame.gas_used = start.saturating_sub(*left);
        }
        match r.top() {
            Some((parent, _)) => parent.items.push(TraceItem::Call { at: 0, frame }),
            None => r.done = Some(frame),
        }
    })?;
    Ok(())
}

/// At [`TraceDetail::Functions`], the instrumented copy of the code `hash` (compiled once per
/// trace); `None` otherwise, or when tracing is off.
pub(crate) fn substitute(
    shared: &crate::exec::Shared,
    env: &std::cell::RefCell<TxEnv<'_>>,
    hash: &Hash,
) -> Result<Option<Arc<CachedModule>>, Abort> {
    use keel_state::StateRead;
    let mut e = env
        .try_borrow_mut()
        .map_err(|_| Abort::Internal("state borrowed"))?;
    let e = &mut *e;
    let Some(r) = e.trace.as_deref_mut() else {
        return Ok(None);
    };
    if r.detail != TraceDetail::Functions {
        return Ok(None);
    }
    if !r.profilable {
        return Err(Abort::Internal(
            "profiler: the gas schedule prices block, loop or end",
        ));
    }
    if let Some(m) = r.profiled.get(hash) {
        return Ok(Some(m.clone()));
    }
    let Some(code) = e.overlay.get(&code_key(hash)).map_err(Abort::Store)? else {
        return Ok(None);
    };
    let gas = &shared.config.gas;
    let metered = crate::validate::meter_locals(&code, gas.locals_per_gas)
        .map_err(|_| Abort::Internal("profiler: the stored code does not parse"))?;
    let instrumented = crate::instrument::instrument(&metered)
        .map_err(|_| Abort::Internal("profiler: the code cannot be instrumented"))?;
    let engine = r
        .profile_engine
        .get_or_insert_with(|| wasmi::Engine::new(&profile_config(&shared.config)));
    // The nops for locals are already in the instrumented code (inside the body's fuel
    // region, so they count for the function, after its entry hook).
    let unmetered = crate::gas::GasSchedule {
        locals_per_gas: 0,
        ..gas.clone()
    };
    let module = crate::validate::compile(engine, &instrumented, &unmetered)
        .map_err(|_| Abort::Internal("profiler: the instrumented code does not compile"))?;
    let imports = module
        .imports()
        .map(|i| match i.module() {
            crate::instrument::HOOK_MODULE => format!("{}.{}", i.module(), i.name()),
            _ => i.name().to_string(),
        })
        .collect();
    let cached = Arc::new(CachedModule::standalone(module, imports));
    r.profiled.insert(*hash, cached.clone());
    Ok(Some(cached))
}

/// The wasmi configuration of the instrumented copies: the engine's, with `call` free,
/// `f32.const` priced as `call` and `f64.const` free, and floats on for those two constants
/// ([`crate::instrument`]).
fn profile_config(config: &crate::config::EngineConfig) -> wasmi::Config {
    let mut cost = config.gas.operator_cost();
    cost.f32_const = cost.call;
    cost.call = 0;
    cost.f64_const = 0;
    let mut c = crate::config::wasmi_config(config);
    c.operator_cost(cost).floats(true);
    c
}

type C<'a> = Caller<'a, Frame>;

/// The import `name` for a traced frame: the host function wrapped so that its gas is
/// recorded, or a profiler hook. `None` if neither.
pub(crate) fn resolve(store: &mut Store<Frame>, name: &str) -> Option<Extern> {
    match name {
        "keel_profile.enter" => {
            return Some(Extern::Func(Func::wrap(&mut *store, |c: C<'_>, f: f64| {
                hook(c, f, true)
            })));
        }
        "keel_profile.exit" => {
            return Some(Extern::Func(Func::wrap(&mut *store, |c: C<'_>, f: f64| {
                hook(c, f, false)
            })));
        }
        _ => {}
    }
    let (name, _, _) = crate::host::HOST_ABI.iter().find(|(n, _, _)| *n == name)?;
    let name: &'static str = name;
    let inner = crate::host::resolve(store, name)?.into_func()?;
    let ty = inner.ty(&*store);
    Some(Extern::Func(Func::new(
        &mut *store,
        ty,
        move |mut caller: C<'_>, params: &[Val], results: &mut [Val]| {
            let before = caller.get_fuel()?;
            let mark = with_current_recorder(|r| {
                let (frame, start) = r.top()?;
                frame.items.push(TraceItem::Host {
                    name,
                    at: start.saturating_sub(before),
                    gas: 0,
                });
                Some(frame.items.len())
            })?
            .flatten();
            let result = inner.call(&mut caller, params, results);
            let after = caller.get_fuel().unwrap_or(0);
            with_current_recorder(|r| {
                let (Some(mark), Some((frame, _))) = (mark, r.top()) else {
                    return;
                };
                // The callee of `call` (if one ran) is the item after this one.
                let mut child = 0;
                if let Some(TraceItem::Call { frame: callee, .. }) = frame.items.get(mark) {
                    child = callee.gas_used;
                }
                let gas = before.saturating_sub(after).saturating_sub(child);
                if let Some(TraceItem::Host { at, gas: g, .. }) = frame.items.get_mut(mark - 1) {
                    *g = gas;
                    let callee_at = *at + gas;
                    if let Some(TraceItem::Call { at, .. }) = frame.items.get_mut(mark) {
                        *at = callee_at;
                    }
                }
            })?;
            result
        },
    )))
}

/// A profiler hook: records the event. The entry hook refunds the 1 that wasmi charges for
/// the body's own fuel region, entered right after it; the frame's gas at the hook is what
/// production has used at the same point.
fn hook(mut caller: C<'_>, func: f64, enter: bool) -> Result<(), wasmi::Error> {
    let mut fuel = caller.get_fuel()?;
    if enter {
        fuel = fuel.saturating_add(REGION_BASE);
        caller.set_fuel(fuel)?;
    }
    // The argument is a function index written by the instrumentation: exact in an f64.
    let func = func as u32;
    with_current_recorder(|r| {
        if let Some((frame, start)) = r.top() {
            let at = start.saturating_sub(fuel);
            frame.items.push(if enter {
                TraceItem::Enter { func, at }
            } else {
                TraceItem::Exit { func, at }
            });
        }
    })?;
    Ok(())
}
