//! The gas profile of one call ([`Profile`]): where its gas goes, per wasm function, across the
//! contracts it calls and the host functions, as folded stacks and as a flamegraph SVG.
//!
//! Built from an engine trace at `TraceDetail::Functions` (`Engine::simulate_traced`), which
//! runs an instrumented copy of each contract's deployed code and uses exactly the production
//! gas. Function indices are those of the deployed module; they are named from a name section
//! ([`FunctionNames::from_name_section`], e.g. of the build [`crate::build_wasm_names`] makes),
//! else from the module's exports, else `func[N]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use keel_engine::{CallTrace, Receipt, Trace, TraceItem};

use crate::Error;
use keel_engine::Address;

/// Names of a module's functions by index (the module's function index space: imports first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionNames(pub BTreeMap<u32, String>);

impl FunctionNames {
    /// The names in a module's `name` custom section (function names, subsection 1), if any,
    /// demangled.
    pub fn from_name_section(wasm: &[u8]) -> Self {
        let mut names = BTreeMap::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            let Ok(wasmparser::Payload::CustomSection(c)) = payload else {
                continue;
            };
            let wasmparser::KnownCustom::Name(reader) = c.as_known() else {
                continue;
            };
            for sub in reader {
                if let Ok(wasmparser::Name::Function(map)) = sub {
                    for n in map.into_iter().flatten() {
                        // Rust symbols are mangled: `keel_sdk::env::caller`, without the hash.
                        let name = format!("{:#}", rustc_demangle::demangle(n.name));
                        names.insert(n.index, name);
                    }
                }
            }
        }
        Self(names)
    }

    /// The names in the name section of `named`, a build of the same contract that keeps its
    /// name section, if its code is exactly `deployed`'s: every section but custom sections
    /// byte for byte equal (so function indices agree). `Err` otherwise.
    pub fn matching(named: &[u8], deployed: &[u8]) -> Result<Self, Error> {
        fn code_sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>, Error> {
            let mut out = Vec::new();
            for payload in wasmparser::Parser::new(0).parse_all(wasm) {
                let payload = payload.map_err(|e| Error::Build(format!("not wasm: {e}")))?;
                if let Some((id, range)) = payload.as_section()
                    && id != 0
                {
                    out.push((id, wasm.get(range).unwrap_or(&[])));
                }
            }
            Ok(out)
        }
        if code_sections(named)? != code_sections(deployed)? {
            return Err(Error::Build(
                "the build with names is not the deployed code (its code sections differ)".into(),
            ));
        }
        Ok(Self::from_name_section(named))
    }

    /// The exported functions' export names (a method's entry point is its export).
    pub fn from_exports(wasm: &[u8]) -> Self {
        let mut names = BTreeMap::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            if let Ok(wasmparser::Payload::ExportSection(r)) = payload {
                for e in r.into_iter().flatten() {
                    if e.kind == wasmparser::ExternalKind::Func {
                        names.entry(e.index).or_insert_with(|| e.name.to_string());
                    }
                }
            }
        }
        Self(names)
    }

    /// The name of function `index`: this map's, else `func[N]`.
    pub fn name(&self, index: u32) -> String {
        self.0
            .get(&index)
            .cloned()
            .unwrap_or_else(|| format!("func[{index}]"))
    }
}

/// The gas profile of one call: stacks of frames with the gas spent exactly there.
///
/// A stack starts with the called contract and method (`token.transfer`), then the wasm
/// functions on the stack, then a host function (`keel::storage_get`) or a nested call
/// (`token.transfer;…;keel::call;escrow.release;…`). `(instantiate)` is a frame's
/// instantiation charge and `(transaction)` the transaction's own gas (intrinsic). The gas of
/// all stacks adds up to the receipt's `gas_used` ([`Profile::total`]). Gas is attributed at
/// the granularity of wasmi's fuel regions (`keel_engine::TraceDetail::Functions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The receipt of the profiled call: exactly the production receipt.
    pub receipt: Receipt,
    /// (stack, gas), in the order they were first reached, each stack once.
    pub stacks: Vec<(Vec<String>, u64)>,
}

/// How a [`Profile`] names things: a contract's label, and its function names.
pub(crate) struct Naming<'a> {
    pub label: &'a dyn Fn(&Address) -> String,
    pub functions: &'a dyn Fn(&Address) -> FunctionNames,
}

/// The names for a deployed module: its name section, with its exports where it has none.
pub fn names_of_code(code: Option<&[u8]>) -> FunctionNames {
    let Some(code) = code else {
        return FunctionNames::default();
    };
    let mut names = FunctionNames::from_name_section(code);
    for (i, n) in FunctionNames::from_exports(code).0 {
        names.0.entry(i).or_insert(n);
    }
    names
}

/// The profile of a call traced at `TraceDetail::Functions`, checked against the plain
/// simulation of the same transaction: the receipts must be equal and the stacks must add up
/// to its gas (a difference is an `Error::Engine`, never a wrong profile).
pub fn checked(
    plain: Receipt,
    traced: Receipt,
    trace: &Trace,
    label: &dyn Fn(&Address) -> String,
    functions: &dyn Fn(&Address) -> FunctionNames,
) -> Result<Profile, Error> {
    if plain != traced {
        return Err(Error::Engine(format!(
            "the profiled run differs from production ({:?}, {} gas, against {:?}, {} gas)",
            traced.status, traced.gas_used, plain.status, plain.gas_used
        )));
    }
    let profile = Profile::build(traced, trace, &Naming { label, functions })?;
    if profile.total() != profile.receipt.gas_used {
        return Err(Error::Engine(format!(
            "the profile adds up to {} gas, the receipt says {}",
            profile.total(),
            profile.receipt.gas_used
        )));
    }
    Ok(profile)
}

impl Profile {
    /// Builds the profile of a traced call. `Err` if the trace has no top-level frame.
    pub(crate) fn build(
        receipt: Receipt,
        trace: &Trace,
        naming: &Naming<'_>,
    ) -> Result<Self, Error> {
        let frame = trace
            .frame
            .as_ref()
            .ok_or_else(|| Error::Engine("the profiled transaction ran no call".into()))?;
        let mut acc = Acc::default();
        let mut cache: BTreeMap<Address, FunctionNames> = BTreeMap::new();
        acc.add(
            &["(transaction)".to_string()],
            trace.gas_used.saturating_sub(frame.gas_used),
        );
        walk(frame, &[], naming, &mut cache, &mut acc);
        Ok(Profile {
            receipt,
            stacks: acc.stacks,
        })
    }

    /// The gas of all stacks: equals `receipt.gas_used`.
    pub fn total(&self) -> u64 {
        self.stacks.iter().map(|(_, g)| *g).sum()
    }

    /// The folded-stack text (`a;b;c gas` per line), the input format of flamegraph tools.
    pub fn folded(&self) -> String {
        let mut out = String::new();
        for (stack, gas) in &self.stacks {
            let _ = writeln!(out, "{} {gas}", stack.join(";"));
        }
        out
    }

    /// Gas per function over the whole call, exclusive ("self") and inclusive, sorted by self
    /// gas, largest first: (name, self, inclusive).
    pub fn functions(&self) -> Vec<(String, u64, u64)> {
        let mut own: BTreeMap<&str, u64> = BTreeMap::new();
        let mut incl: BTreeMap<&str, u64> = BTreeMap::new();
        for (stack, gas) in &self.stacks {
            if let Some(last) = stack.last() {
                *own.entry(last).or_default() += gas;
            }
            let mut seen: Vec<&str> = Vec::new();
            for s in stack {
                if !seen.contains(&s.as_str()) {
                    seen.push(s);
                    *incl.entry(s).or_default() += gas;
                }
            }
        }
        let mut rows: Vec<(String, u64, u64)> = incl
            .iter()
            .map(|(n, i)| (n.to_string(), own.get(n).copied().unwrap_or(0), *i))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows
    }

    /// The profile as a flamegraph SVG (self-contained, no script): one box per stack frame,
    /// as wide as its gas, children above their caller, siblings in name order; hover a box
    /// for its name, gas and share. Host functions are blue, contract calls green.
    pub fn svg(&self, title: &str) -> String {
        crate::flame::svg(title, &self.stacks, self.total())
    }
}

#[derive(Default)]
struct Acc {
    index: BTreeMap<Vec<String>, usize>,
    stacks: Vec<(Vec<String>, u64)>,
}

impl Acc {
    fn add(&mut self, stack: &[String], gas: u64) {
        if gas == 0 {
            return;
        }
        match self.index.get(stack) {
            Some(&i) => self.stacks[i].1 += gas,
            None => {
                self.index.insert(stack.to_vec(), self.stacks.len());
                self.stacks.push((stack.to_vec(), gas));
            }
        }
    }
}

fn clean(s: &str) -> String {
    s.replace(';', ":")
}

fn walk(
    frame: &CallTrace,
    prefix: &[String],
    naming: &Naming<'_>,
    cache: &mut BTreeMap<Address, FunctionNames>,
    acc: &mut Acc,
) {
    let names = cache
        .entry(frame.contract)
        .or_insert_with(|| (naming.functions)(&frame.contract))
        .clone();
    let mut base = prefix.to_vec();
    base.push(clean(&format!(
        "{}.{}",
        (naming.label)(&frame.contract),
        frame.method
    )));
    let with = |stack: &[String], extra: &str| {
        let mut s = stack.to_vec();
        s.push(extra.to_string());
        s
    };
    acc.add(&with(&base, "(instantiate)"), frame.instantiation);
    let mut cursor = frame.instantiation;
    let mut stack = base.clone();
    for item in &frame.items {
        let at = match item {
            TraceItem::Host { at, .. }
            | TraceItem::Call { at, .. }
            | TraceItem::Enter { at, .. }
            | TraceItem::Exit { at, .. } => *at,
        };
        acc.add(&stack, at.saturating_sub(cursor));
        cursor = cursor.max(at);
        match item {
            TraceItem::Host { name, gas, .. } => {
                acc.add(&with(&stack, &format!("keel::{name}")), *gas);
                cursor += gas;
            }
            TraceItem::Call { frame: child, .. } => {
                let mut p = stack.clone();
                p.push("keel::call".to_string());
                walk(child, &p, naming, cache, acc);
                cursor += child.gas_used;
            }
            TraceItem::Enter { func, .. } => stack.push(clean(&names.name(*func))),
            TraceItem::Exit { .. } => {
                if stack.len() > base.len() {
                    stack.pop();
                }
            }
        }
    }
    acc.add(&stack, frame.gas_used.saturating_sub(cursor));
}
