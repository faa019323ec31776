//! Target `module`: wasm-smith modules shaped like Keel contracts, and raw bytes, through
//! validation, deployment, instantiation and calls.
//!
//! Three kinds of module, chosen by the first byte: raw bytes (1/8, with a fixed layout so seeds
//! can be written by hand); a [`HostProgram`] (3/8): methods made of host-ABI calls with
//! pointers and lengths at interesting places, bounded loops, memory growth, traps, self-calls
//! and optional re-entrancy, rendered to WAT; and wasm-smith modules (1/2) with Keel's wasm
//! features, exporting everything (plus `memory`, spliced in), a quarter of them with
//! features Keel rejects. wasm-smith modules import nothing and choose their own export
//! names: its `available_imports` and `exports` need wasm-smith's `wasmparser` feature, which
//! would switch on wasmparser's `simd` feature for the whole workspace and so change the
//! engine's validation messages. Invariants:
//!
//! - validation (`Engine::check`, `check_code`) never panics; it returns the module's
//!   info or a typed error listing at least one problem, and the two agree;
//! - a `Deploy` succeeds exactly when validation accepts, and returns the code hash;
//! - every receipt: `gas_used <= gas_limit`, out of gas means `gas_used == gas_limit`, an
//!   invalid transaction uses 0 gas;
//! - the same scenario on a fresh store, with the module cache on or off, gives identical
//!   receipts, versions and roots;
//! - gas boundary: a call simulated with limit `F` and with `F - 1` (for modules that
//!   cannot observe their gas: no `gas_left`, no `call`): if the first used less than `F`, the
//!   second gives the identical receipt; if it used exactly `F`, the second runs out of gas.

use arbitrary::{Arbitrary, Unstructured};
use keel_engine::{
    Action, BlockContext, Engine, EngineConfig, Receipt, Status, Transaction, check_code,
};
use keel_state::{MemStore, StateStore};

/// The host ABI as (name, params, results), mirroring ARCHITECTURE.md.
pub const ABI: &[(&str, &str, &str)] = &[
    ("input", "i32 i32", "i32"),
    ("set_return", "i32 i32", ""),
    ("revert", "i32 i32", ""),
    ("storage_get", "i32 i32 i32 i32", "i64"),
    ("storage_set", "i32 i32 i32 i32", ""),
    ("storage_remove", "i32 i32", ""),
    ("storage_has", "i32 i32", "i32"),
    ("storage_next", "i32 i32 i32 i32", "i64"),
    ("sha256", "i32 i32 i32", ""),
    ("blake3", "i32 i32 i32", ""),
    ("caller", "i32", ""),
    ("self_address", "i32", ""),
    ("block_height", "", "i64"),
    ("block_timestamp", "", "i64"),
    ("gas_left", "", "i64"),
    ("emit_event", "i32 i32 i32 i32", ""),
    ("call", "i32 i32 i32 i32 i32 i64", "i32"),
    ("call_result", "i32 i32", "i32"),
    ("debug_log", "i32 i32", ""),
];

/// wasm-smith's configuration for Keel; `hostile` turns on features Keel rejects.
fn smith_config(u: &mut Unstructured<'_>, hostile: bool) -> wasm_smith::Config {
    let mut c = wasm_smith::Config {
        max_imports: 0,
        export_everything: true,
        max_type_size: 8,
        min_memories: 1,
        max_memories: 1,
        max_memory32_bytes: 4 * 65_536,
        memory64_enabled: false,
        max_tables: 1,
        max_table_elements: 64,
        max_funcs: 12,
        max_instructions: 200,
        max_globals: 8,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        max_nesting_depth: 8,
        allow_start_export: false,
        allow_floats: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        saturating_float_to_int_enabled: false,
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        min_uleb_size: 1,
        ..wasm_smith::Config::default()
    };
    if hostile {
        // Each forbidden feature independently: validation must reject with a typed error.
        c.allow_floats = u.arbitrary().unwrap_or(false);
        c.simd_enabled = u.arbitrary().unwrap_or(false);
        c.tail_call_enabled = u.arbitrary().unwrap_or(false);
        c.extended_const_enabled = u.arbitrary().unwrap_or(false);
        c.max_memories = if u.arbitrary().unwrap_or(false) { 2 } else { 1 };
        c.max_memory32_bytes = 64 * 65_536;
        c.allow_start_export = u.arbitrary().unwrap_or(false);
        c.max_funcs = 40;
        c.max_instructions = 1_000;
    }
    c
}

/// Adds an export `memory` of memory 0 to the module's export section (wasm-smith gives
/// exports arbitrary names). Returns `None` if the module has no export
/// section to extend.
fn export_memory(module: &[u8]) -> Option<Vec<u8>> {
    fn leb(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn read_leb(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = module.get(..8)?.to_vec();
    let mut pos = 8;
    let mut done = false;
    while pos < module.len() {
        let id = module[pos];
        pos += 1;
        let size = usize::try_from(read_leb(module, &mut pos)?).ok()?;
        let payload = module.get(pos..pos.checked_add(size)?)?;
        pos += size;
        if id == 7 && !done {
            let mut p = 0;
            let count = read_leb(payload, &mut p)?;
            let mut body = Vec::new();
            leb(count + 1, &mut body);
            body.extend_from_slice(&payload[p..]);
            body.push(6);
            body.extend_from_slice(b"memory");
            body.push(0x02);
            body.push(0);
            out.push(7);
            leb(body.len() as u64, &mut out);
            out.extend_from_slice(&body);
            done = true;
        } else {
            out.push(id);
            leb(size as u64, &mut out);
            out.extend_from_slice(payload);
        }
    }
    done.then_some(out)
}

/// Whether `code` imports a function that lets it observe its gas limit.
fn observes_gas(code: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        let Ok(wasmparser::Payload::ImportSection(reader)) = payload else {
            continue;
        };
        for import in reader.into_iter().flatten() {
            if matches!(import.name, "gas_left" | "call") {
                return true;
            }
        }
    }
    false
}

/// A pointer argument for a host call: interesting places in and around one page of memory.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Ptr {
    /// The start of the data segment.
    Zero,
    /// Where `SelfAddress` puts this contract's address (512).
    SelfAddr,
    /// Into the data segment (holds the input bytes).
    Data(u8),
    /// Scratch space at 4096 + the value.
    Scratch(u16),
    /// The last bytes of the first page.
    PageEnd(u8),
    /// Just past memory (65536 + the value).
    PastEnd(u8),
    /// A wild value.
    Wild(u32),
}

impl Ptr {
    fn value(self) -> i32 {
        (match self {
            Ptr::Zero => 0,
            Ptr::SelfAddr => 512,
            Ptr::Data(d) => u32::from(d),
            Ptr::Scratch(s) => 4096 + u32::from(s),
            Ptr::PageEnd(d) => 65_536 - 1 - u32::from(d),
            Ptr::PastEnd(d) => 65_536 + u32::from(d),
            Ptr::Wild(w) => w,
        }) as i32
    }
}

/// A length argument.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Len {
    /// A small length.
    Small(u8),
    /// A multiple of 32 (topics, addresses).
    Words(u8),
    /// A page-sized length.
    Page,
    /// A wild value.
    Wild(u32),
}

impl Len {
    fn value(self) -> i32 {
        (match self {
            Len::Small(n) => u32::from(n),
            Len::Words(n) => 32 * u32::from(n % 8),
            Len::Page => 65_536,
            Len::Wild(w) => w,
        }) as i32
    }
}

/// One statement of a generated method body.
#[derive(Debug, Clone, Arbitrary)]
pub enum Stmt {
    /// A host call: function index into [`ABI`], pointer and length arguments in order
    /// (i64 arguments take the wild value).
    Host(u8, [Ptr; 3], [Len; 3], i64),
    /// A bounded loop running its body `n % 8` times.
    Loop(u8, Vec<Stmt>),
    /// Write a byte at a pointer.
    Poke(Ptr, u8),
    /// Copy the self address to 512 (so `call` can target this contract).
    SelfAddress,
    /// `memory.grow`.
    Grow(u8),
    /// `memory.fill` of a range.
    Fill(Ptr, Len),
    /// Trap.
    Unreachable,
    /// An unbounded loop: runs until out of gas.
    Spin,
}

/// A contract written in terms of the host ABI, rendered to WAT: what wasm-smith cannot
/// produce, since importing the ABI needs a wasm-smith feature that would change the
/// engine's wasmparser build.
#[derive(Debug, Clone, Arbitrary)]
pub struct HostProgram {
    /// Bytes placed at address 0 (method names, SCALE queries, keys, addresses).
    pub data: Vec<u8>,
    /// Export `keel_reentrant`.
    pub reentrant: bool,
    /// The body of `init`.
    pub init: Vec<Stmt>,
    /// The body of `a`.
    pub a: Vec<Stmt>,
    /// The body of `b`.
    pub b: Vec<Stmt>,
}

impl HostProgram {
    fn stmts(
        out: &mut String,
        used: &mut std::collections::BTreeSet<&'static str>,
        stmts: &[Stmt],
        depth: usize,
        budget: &mut usize,
    ) {
        for stmt in stmts {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            match stmt {
                Stmt::Host(f, ptrs, lens, wide) => {
                    let (name, params, results) = ABI[usize::from(*f) % ABI.len()];
                    used.insert(name);
                    let (mut pi, mut li) = (0, 0);
                    let mut args = String::new();
                    for (i, ty) in params.split_whitespace().enumerate() {
                        // `call` is (addr, method, method_len, input, input_len, gas); the
                        // others alternate pointer, length.
                        let is_ptr = if name == "call" {
                            i == 0 || i % 2 == 1
                        } else {
                            i % 2 == 0
                        };
                        if ty == "i64" {
                            args.push_str(&format!(" (i64.const {wide})"));
                        } else if is_ptr {
                            args.push_str(&format!(" (i32.const {})", ptrs[pi % 3].value()));
                            pi += 1;
                        } else {
                            args.push_str(&format!(" (i32.const {})", lens[li % 3].value()));
                            li += 1;
                        }
                    }
                    out.push_str(&format!("(call ${name}{args})"));
                    if !results.is_empty() {
                        out.push_str("(drop)");
                    }
                }
                Stmt::Loop(n, body) if depth < 3 => {
                    let l = format!("$l{depth}");
                    out.push_str(&format!(
                        "(local.set {l} (i32.const {}))(block (loop",
                        n % 8
                    ));
                    out.push_str(&format!("(br_if 1 (i32.eqz (local.get {l})))"));
                    out.push_str(&format!(
                        "(local.set {l} (i32.sub (local.get {l}) (i32.const 1)))"
                    ));
                    Self::stmts(out, used, body, depth + 1, budget);
                    out.push_str("(br 0)))");
                }
                Stmt::Loop(..) => {}
                Stmt::Poke(p, b) => {
                    out.push_str(&format!(
                        "(i32.store8 (i32.const {}) (i32.const {b}))",
                        p.value()
                    ));
                }
                Stmt::SelfAddress => {
                    used.insert("self_address");
                    out.push_str("(call $self_address (i32.const 512))");
                }
                Stmt::Grow(n) => {
                    out.push_str(&format!("(drop (memory.grow (i32.const {})))", n % 20));
                }
                Stmt::Fill(p, l) => out.push_str(&format!(
                    "(memory.fill (i32.const {}) (i32.const 7) (i32.const {}))",
                    p.value(),
                    l.value()
                )),
                Stmt::Unreachable => out.push_str("(unreachable)"),
                Stmt::Spin => out.push_str("(loop (br 0))"),
            }
        }
    }

    /// The module's WAT text. It imports only the host functions it calls, so that
    /// programs without `gas_left` and `call` get the gas-boundary check.
    pub fn to_wat(&self) -> String {
        let mut used = std::collections::BTreeSet::new();
        let mut funcs = String::new();
        if self.reentrant {
            funcs.push_str("(func (export \"keel_reentrant\"))\n");
        }
        let mut budget = 64;
        for (name, body) in [("init", &self.init), ("a", &self.a), ("b", &self.b)] {
            funcs.push_str(&format!(
                "(func (export \"{name}\") (local $l0 i32) (local $l1 i32) (local $l2 i32)\n"
            ));
            Self::stmts(&mut funcs, &mut used, body, 0, &mut budget);
            funcs.push_str(")\n");
        }
        let mut wat = String::from("(module\n");
        for (name, params, results) in ABI.iter().filter(|(n, _, _)| used.contains(n)) {
            wat.push_str(&format!(
                "(import \"keel\" \"{name}\" (func ${name} (param {params}) (result {results})))\n"
            ));
        }
        wat.push_str("(memory (export \"memory\") 1)\n");
        let data: String = self
            .data
            .iter()
            .take(1024)
            .map(|b| format!("\\{b:02x}"))
            .collect();
        wat.push_str(&format!("(data (i32.const 0) \"{data}\")\n"));
        wat.push_str(&funcs);
        wat.push(')');
        wat
    }
}

/// One call of the scenario.
#[derive(Debug, Clone, Arbitrary)]
pub struct Call {
    /// Index into the module's methods (an out-of-range index calls an unknown name).
    pub method: u8,
    /// The call input.
    pub args: Vec<u8>,
    /// The gas limit, scaled into `0..=2_000_000`.
    pub gas: u32,
}

/// A decoded input: a module and what to do with it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The wasm bytes.
    pub code: Vec<u8>,
    /// Which generator made the module: "raw", "host" or "smith".
    pub kind: &'static str,
    /// The constructor input.
    pub init_args: Vec<u8>,
    /// The constructor's gas limit.
    pub init_gas: u32,
    /// The calls.
    pub calls: Vec<Call>,
}

impl Scenario {
    /// Decodes a scenario from fuzzer bytes. A first byte below 32 selects raw mode, with a
    /// fixed layout so that seeds can be written by hand ([`Scenario::raw_bytes`]):
    /// `mode, init_gas: u32 LE, n_calls, n × (method, gas: u32 LE, args_len, args), code...`
    /// (the constructor gets no arguments). Otherwise the bytes drive `arbitrary` and
    /// wasm-smith.
    pub fn from_bytes(data: &[u8]) -> arbitrary::Result<Self> {
        let mut u = Unstructured::new(data);
        let mode: u8 = u.arbitrary()?;
        if mode < 32 {
            let init_gas = u32::from_le_bytes(u.bytes(4)?.try_into().unwrap_or_default());
            let n = u.bytes(1)?[0] % 5;
            let mut calls = Vec::new();
            for _ in 0..n {
                let method = u.bytes(1)?[0];
                let gas = u32::from_le_bytes(u.bytes(4)?.try_into().unwrap_or_default());
                let len = usize::from(u.bytes(1)?[0]);
                let args = u.bytes(len)?.to_vec();
                calls.push(Call { method, args, gas });
            }
            return Ok(Scenario {
                code: u.take_rest().to_vec(),
                kind: "raw",
                init_args: Vec::new(),
                init_gas,
                calls,
            });
        }
        let init_args: Vec<u8> = u.arbitrary()?;
        let init_gas: u32 = u.arbitrary()?;
        let calls: Vec<Call> = (0..u.int_in_range(0..=4)?)
            .map(|_| u.arbitrary())
            .collect::<arbitrary::Result<_>>()?;
        let kind = if mode < 128 { "host" } else { "smith" };
        let code = if mode < 128 {
            let program = HostProgram::arbitrary(&mut u)?;
            wat::parse_str(program.to_wat()).map_err(|_| arbitrary::Error::IncorrectFormat)?
        } else {
            let hostile = mode >= 224;
            let config = smith_config(&mut u, hostile);
            let module = wasm_smith::Module::new(config, &mut u)?;
            let bytes = module.to_bytes();
            export_memory(&bytes).unwrap_or(bytes)
        };
        Ok(Scenario {
            code,
            kind,
            init_args,
            init_gas,
            calls,
        })
    }

    /// Encodes a raw-mode input (see [`Scenario::from_bytes`]); `init_args` are dropped and
    /// call arguments are cut at 255 bytes.
    pub fn raw_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8];
        out.extend_from_slice(&self.init_gas.to_le_bytes());
        out.push(self.calls.len().min(4) as u8);
        for call in self.calls.iter().take(4) {
            out.push(call.method);
            out.extend_from_slice(&call.gas.to_le_bytes());
            let args = &call.args[..call.args.len().min(255)];
            out.push(args.len() as u8);
            out.extend_from_slice(args);
        }
        out.extend_from_slice(&self.code);
        out
    }
}

const SENDER: [u8; 32] = [0xa1; 32];

fn check_receipt(r: &Receipt, gas_limit: u64, what: &str) {
    assert!(
        r.gas_used <= gas_limit,
        "{what}: gas_used {} > limit {gas_limit}",
        r.gas_used
    );
    match &r.status {
        Status::OutOfGas => assert_eq!(r.gas_used, gas_limit, "{what}: out of gas below the limit"),
        Status::Invalid(_) => assert_eq!(r.gas_used, 0, "{what}: invalid tx used gas"),
        _ => {}
    }
}

fn scale_gas(g: u32) -> u64 {
    u64::from(g) % 2_000_001
}

/// Everything observable from one run of a scenario.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    receipts: Vec<Receipt>,
    roots: Vec<(u64, [u8; 32])>,
}

fn run_scenario(s: &Scenario, config: EngineConfig, check_gas_boundary: bool) -> Trace {
    let mut engine = Engine::new(config);
    let mut store = MemStore::new();
    let ctx = BlockContext {
        height: 1,
        timestamp: 1_000,
    };
    let mut trace = Trace {
        receipts: Vec::new(),
        roots: Vec::new(),
    };
    let mut nonce = 0;
    // Runs one transaction as a block; the nonce advances unless the transaction is invalid.
    let mut block =
        |engine: &mut Engine, store: &mut MemStore, nonce: &mut u64, gas_limit, action| {
            let tx = Transaction {
                sender: SENDER,
                nonce: *nonce,
                gas_limit,
                action,
            };
            let out = engine.execute_block(store, &ctx, &[tx]).unwrap();
            assert_eq!(out.receipts.len(), 1);
            assert_eq!(out.state_root, store.root(), "outcome root != store root");
            let r = out.receipts.into_iter().next().unwrap();
            check_receipt(&r, gas_limit, "block tx");
            if !matches!(r.status, Status::Invalid(_)) {
                *nonce += 1;
            }
            trace.roots.push((out.version, out.state_root));
            trace.receipts.push(r.clone());
            r
        };

    let checked = engine.check(&s.code);
    let standalone = check_code(&s.code, engine.config());
    assert_eq!(checked, standalone, "Engine::check and check_code disagree");
    if let Err(e) = &checked {
        assert!(!e.problems.is_empty(), "rejection without a problem");
    }
    let deploy = block(
        &mut engine,
        &mut store,
        &mut nonce,
        100_000_000,
        Action::Deploy {
            code: s.code.clone(),
        },
    );
    let info = match (&checked, &deploy.status) {
        (Ok(info), Status::Success) => {
            assert_eq!(
                deploy.return_data, info.code_hash,
                "deploy returns the code hash"
            );
            info.clone()
        }
        (Err(_), Status::Reverted(_)) => return trace,
        (checked, status) => panic!("validation {checked:?} but deploy {status:?}"),
    };
    let init_gas = scale_gas(s.init_gas);
    let inst = block(
        &mut engine,
        &mut store,
        &mut nonce,
        init_gas,
        Action::Instantiate {
            code_hash: info.code_hash,
            salt: Vec::new(),
            args: s.init_args.clone(),
        },
    );
    if !inst.is_success() {
        return trace;
    }
    let contract: [u8; 32] = inst.return_data.clone().try_into().unwrap();
    for call in &s.calls {
        // Mostly a real method; sometimes a name the contract does not have.
        let method = match info.methods.len() {
            n if n > 0 && call.method < 240 => info.methods[usize::from(call.method) % n].clone(),
            _ => format!("m{}", call.method),
        };
        let gas = scale_gas(call.gas);
        let action = Action::Call {
            contract,
            method,
            args: call.args.clone(),
        };
        if check_gas_boundary && gas > 0 {
            let at = |gas_limit| Transaction {
                sender: SENDER,
                nonce,
                gas_limit,
                action: action.clone(),
            };
            let full = engine.simulate(&store, &ctx, &at(gas)).unwrap();
            let less = engine.simulate(&store, &ctx, &at(gas - 1)).unwrap();
            check_receipt(&full, gas, "simulate F");
            check_receipt(&less, gas - 1, "simulate F-1");
            match full.status {
                Status::OutOfGas => {
                    assert_eq!(
                        less.status,
                        Status::OutOfGas,
                        "out of gas at F but not at F-1"
                    );
                }
                Status::Invalid(_) => assert_eq!(less, full, "invalid depends on gas"),
                _ if full.gas_used < gas => {
                    assert_eq!(
                        less, full,
                        "F-1 differs although F used only {}",
                        full.gas_used
                    );
                }
                _ => assert_eq!(
                    less.status,
                    Status::OutOfGas,
                    "used exactly F = {gas} but F-1 did not run out: {less:?}"
                ),
            }
        }
        let simulated = engine
            .simulate(
                &store,
                &ctx,
                &Transaction {
                    sender: SENDER,
                    nonce,
                    gas_limit: gas,
                    action: action.clone(),
                },
            )
            .unwrap();
        let r = block(&mut engine, &mut store, &mut nonce, gas, action);
        assert_eq!(r, simulated, "simulate differs from execute_block");
    }
    trace
}

/// Runs a decoded scenario: twice (module cache on, then off), comparing the traces.
pub fn run_scenario_twice(s: &Scenario) {
    let boundary = !observes_gas(&s.code);
    let first = run_scenario(s, EngineConfig::default(), boundary);
    if std::env::var_os("KEEL_FUZZ_TRACE").is_some() {
        let statuses: Vec<_> = first
            .receipts
            .iter()
            .map(|r| (&r.status, r.gas_used))
            .collect();
        eprintln!("module: {} boundary={boundary} {statuses:?}", s.kind);
    }
    let uncached = EngineConfig {
        module_cache_capacity: 0,
        ..EngineConfig::default()
    };
    let second = run_scenario(s, uncached, false);
    assert_eq!(
        first, second,
        "the same scenario gave different receipts or roots"
    );
}

/// The fuzz target.
pub fn run(data: &[u8]) {
    if let Ok(s) = Scenario::from_bytes(data) {
        run_scenario_twice(&s);
    }
}
