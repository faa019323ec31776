//! Hostile module generators: wasm modules built to make the engine work hard for little gas.
//!
//! Every generator is a pure function returning wasm bytes. Unless its documentation says the
//! point is rejection, each module is a valid Keel contract under today's upload rules: it
//! imports only from `keel` (with the ABI's signatures), exports `memory`, its methods are
//! `() -> ()`, it has no floats and no start function. Methods read their parameters through
//! `keel.input`, so one deployed module serves every size: the input is four little-endian
//! `u32`s ([`input`]), `n` (the loop count) then `p1`, `p2`, `p3`, then free bytes.
//!
//! The generators are used by the engine's regression tests (structural bounds) and by
//! `keel-benches` (`keel-calibrate`, which measures wall time per gas). [`Kernel`] is the
//! builder underneath: a method that runs `body` `n` times, plus helper functions, a table,
//! globals and data; the calibration suite uses it for one kernel per cost.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataCountSection, DataSection, ElementMode, ElementSection,
    ElementSegment, Elements, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, HeapType, ImportSection, MemArg, MemorySection, MemoryType, Module,
    RefType, TableSection, TableType, TypeSection, ValType,
};

pub use wasm_encoder::Instruction;

/// An instruction with owned data (the form [`Kernel`] bodies take).
pub type Ins = Instruction<'static>;

/// The host ABI (import module `keel`), as defined once by the engine.
pub use keel_engine::HOST_ABI as ABI;

fn val_type(t: &keel_engine::AbiType) -> ValType {
    match t {
        keel_engine::AbiType::I32 => ValType::I32,
        keel_engine::AbiType::I64 => ValType::I64,
    }
}

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// Where a method copies its input: offset 0, at most this many bytes.
pub const INPUT_CAP: u32 = 32 * 1024;
/// The first byte after the input area: free scratch memory for kernel bodies.
pub const SCRATCH: u32 = INPUT_CAP;
/// Local of every method: the loop counter `n` (counts down to 0).
pub const L_N: u32 = 0;
/// Local of every method: the input's second `u32`.
pub const L_P1: u32 = 1;
/// Local of every method: the input's third `u32`.
pub const L_P2: u32 = 2;
/// Local of every method: the input's fourth `u32`.
pub const L_P3: u32 = 3;
/// Local of every method: an `i32` scratch (starts at 0).
pub const L_T: u32 = 4;
/// Local of every method: an `i64` scratch (starts at 0).
pub const L_X: u32 = 5;
/// The first of [`Kernel::extra_locals`] `i32` locals.
pub const L_EXTRA: u32 = 6;
/// Type index of `() -> ()` in every generated module (`call_indirect` bodies use it).
pub const TYPE_VOID: u32 = 0;

/// The input of a method: `n`, `p1`, `p2`, `p3` as little-endian `u32`s.
pub fn input(n: u32, p1: u32, p2: u32, p3: u32) -> Vec<u8> {
    [n, p1, p2, p3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// A function that is not a method (not exported), callable from method bodies.
#[derive(Clone, Debug, Default)]
pub struct Helper {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
    /// Declared locals, as (count, type) groups.
    pub locals: Vec<(u32, ValType)>,
    /// The body, without the final `end`.
    pub body: Vec<Ins>,
}

impl Helper {
    /// A `() -> ()` helper with `locals` declared `i32` locals and `body`.
    pub fn void(locals: u32, body: Vec<Ins>) -> Self {
        Self {
            locals: if locals > 0 {
                vec![(locals, I32)]
            } else {
                Vec::new()
            },
            body,
            ..Self::default()
        }
    }
}

/// An exported method.
#[derive(Clone, Debug)]
pub struct Method {
    /// The export name.
    pub name: String,
    /// Run once, after the input is read into the locals.
    pub setup: Vec<Ins>,
    /// Run `n` times (the body must leave the stack as it found it).
    pub body: Vec<Ins>,
    /// Whether `body` runs `n` times (else once, and `n` is just a parameter).
    pub looped: bool,
}

/// A module under construction: imports (from `keel`), helpers, methods, and the optional
/// table, globals and data. Function indices: imports first (in order), then helpers (in the
/// order added), then methods.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// `keel` imports, in order (duplicates allowed; a name outside the ABI gets `() -> ()`).
    pub imports: Vec<String>,
    /// Helper functions.
    pub helpers: Vec<Helper>,
    /// Methods.
    pub methods: Vec<Method>,
    /// Extra `i32` locals of every method, from [`L_EXTRA`].
    pub extra_locals: u32,
    /// Initial memory pages.
    pub pages: u32,
    /// Maximum memory pages, if any.
    pub max_pages: Option<u32>,
    /// A `funcref` table: (initial, maximum).
    pub table: Option<(u64, Option<u64>)>,
    /// Element segments of function indices: `Some(offset)` active in table 0, `None` passive.
    pub elements: Vec<(Option<u32>, Vec<u32>)>,
    /// Mutable `i32` globals (initialised to 0).
    pub globals: u32,
    /// Data segments: `Some(offset)` active in memory 0, `None` passive.
    pub data: Vec<(Option<u32>, Vec<u8>)>,
    /// Extra exports beyond `memory` and the methods: (name, kind, index).
    pub exports: Vec<(String, ExportKind, u32)>,
    /// Export the memory as `memory` (every valid contract does).
    pub export_memory: bool,
}

impl Kernel {
    /// A module importing `imports` from `keel`, with one page of memory and nothing else.
    pub fn new(imports: &[&str]) -> Self {
        Self {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            helpers: Vec::new(),
            methods: Vec::new(),
            extra_locals: 0,
            pages: 1,
            max_pages: None,
            table: None,
            elements: Vec::new(),
            globals: 0,
            data: Vec::new(),
            exports: Vec::new(),
            export_memory: true,
        }
    }

    /// The function index of import `name` (its first occurrence).
    ///
    /// # Panics
    /// If `name` is not imported: a bug in the generator, not input.
    pub fn import(&self, name: &str) -> u32 {
        match self.imports.iter().position(|i| i == name) {
            Some(i) => i as u32,
            None => panic!("kernel does not import keel.{name}"),
        }
    }

    /// Adds a helper; returns its function index. Add every import before the first helper.
    pub fn helper(&mut self, h: Helper) -> u32 {
        self.helpers.push(h);
        (self.imports.len() + self.helpers.len() - 1) as u32
    }

    /// Adds a method that reads the input, runs `setup`, then `body` `n` times.
    pub fn looped(&mut self, name: &str, setup: Vec<Ins>, body: Vec<Ins>) -> &mut Self {
        self.methods.push(Method {
            name: name.to_string(),
            setup,
            body,
            looped: true,
        });
        self
    }

    /// Adds a method that reads the input, then runs `body` once.
    pub fn once(&mut self, name: &str, body: Vec<Ins>) -> &mut Self {
        self.methods.push(Method {
            name: name.to_string(),
            setup: Vec::new(),
            body,
            looped: false,
        });
        self
    }

    /// Adds the cheap method `ping`, which does nothing (and does not read its input).
    pub fn ping(&mut self) -> &mut Self {
        self.methods.push(Method {
            name: "ping".into(),
            setup: Vec::new(),
            body: Vec::new(),
            looped: false,
        });
        self
    }

    /// The function index of method `i` (in the order added).
    pub fn method_index(&self, i: usize) -> u32 {
        (self.imports.len() + self.helpers.len() + i) as u32
    }

    /// Encodes the module.
    pub fn build(&self) -> Vec<u8> {
        let mut types = Types::default();
        types.index(&[], &[]); // TYPE_VOID
        let mut imports = ImportSection::new();
        for name in &self.imports {
            let (params, results) = abi_signature(name);
            let ty = types.index(&params, &results);
            imports.import("keel", name, EntityType::Function(ty));
        }
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        for h in &self.helpers {
            functions.function(types.index(&h.params, &h.results));
            let mut f = Function::new(h.locals.iter().copied());
            for ins in &h.body {
                f.instruction(ins);
            }
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        let input_idx = self.imports.iter().position(|i| i == "input");
        for m in &self.methods {
            functions.function(TYPE_VOID);
            code.function(&self.method_body(m, input_idx.map(|i| i as u32)));
        }

        let mut module = Module::new();
        module.section(&types.section());
        if !self.imports.is_empty() {
            module.section(&imports);
        }
        module.section(&functions);
        if let Some((min, max)) = self.table {
            let mut t = TableSection::new();
            t.table(TableType {
                element_type: RefType::FUNCREF,
                table64: false,
                minimum: min,
                maximum: max,
                shared: false,
            });
            module.section(&t);
        }
        let mut mem = MemorySection::new();
        mem.memory(MemoryType {
            minimum: u64::from(self.pages),
            maximum: self.max_pages.map(u64::from),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&mem);
        if self.globals > 0 {
            let mut g = GlobalSection::new();
            for _ in 0..self.globals {
                g.global(
                    GlobalType {
                        val_type: I32,
                        mutable: true,
                        shared: false,
                    },
                    &ConstExpr::i32_const(0),
                );
            }
            module.section(&g);
        }
        let mut exports = ExportSection::new();
        if self.export_memory {
            exports.export("memory", ExportKind::Memory, 0);
        }
        for (i, m) in self.methods.iter().enumerate() {
            exports.export(&m.name, ExportKind::Func, self.method_index(i));
        }
        for (name, kind, index) in &self.exports {
            exports.export(name, *kind, *index);
        }
        module.section(&exports);
        if !self.elements.is_empty() {
            let mut e = ElementSection::new();
            for (offset, funcs) in &self.elements {
                let expr = ConstExpr::i32_const(offset.unwrap_or(0) as i32);
                let mode = match offset {
                    Some(_) => ElementMode::Active {
                        table: None,
                        offset: &expr,
                    },
                    None => ElementMode::Passive,
                };
                e.segment(ElementSegment {
                    mode,
                    elements: Elements::Functions(funcs.as_slice().into()),
                });
            }
            module.section(&e);
        }
        if !self.data.is_empty() {
            module.section(&DataCountSection {
                count: self.data.len() as u32,
            });
        }
        module.section(&code);
        if !self.data.is_empty() {
            let mut d = DataSection::new();
            for (offset, bytes) in &self.data {
                match offset {
                    Some(o) => d.active(0, &ConstExpr::i32_const(*o as i32), bytes.iter().copied()),
                    None => d.passive(bytes.iter().copied()),
                };
            }
            module.section(&d);
        }
        module.finish()
    }

    fn method_body(&self, m: &Method, input: Option<u32>) -> Function {
        let mut locals = vec![(5, I32), (1, I64)];
        if self.extra_locals > 0 {
            locals.push((self.extra_locals, I32));
        }
        let mut f = Function::new(locals);
        let is_ping = m.name == "ping" && m.body.is_empty() && !m.looped;
        if let (Some(input), false) = (input, is_ping) {
            f.instruction(&Instruction::I32Const(0));
            f.instruction(&Instruction::I32Const(INPUT_CAP as i32));
            f.instruction(&Instruction::Call(input));
            f.instruction(&Instruction::Drop);
            for (local, offset) in [(L_N, 0u64), (L_P1, 4), (L_P2, 8), (L_P3, 12)] {
                f.instruction(&Instruction::I32Const(0));
                f.instruction(&Instruction::I32Load(mem(offset)));
                f.instruction(&Instruction::LocalSet(local));
            }
        }
        for ins in &m.setup {
            f.instruction(ins);
        }
        if m.looped {
            f.instruction(&Instruction::Block(BlockType::Empty));
            f.instruction(&Instruction::Loop(BlockType::Empty));
            f.instruction(&Instruction::LocalGet(L_N));
            f.instruction(&Instruction::I32Eqz);
            f.instruction(&Instruction::BrIf(1));
            for ins in &m.body {
                f.instruction(ins);
            }
            f.instruction(&Instruction::LocalGet(L_N));
            f.instruction(&Instruction::I32Const(1));
            f.instruction(&Instruction::I32Sub);
            f.instruction(&Instruction::LocalSet(L_N));
            f.instruction(&Instruction::Br(0));
            f.instruction(&Instruction::End);
            f.instruction(&Instruction::End);
        } else {
            for ins in &m.body {
                f.instruction(ins);
            }
        }
        f.instruction(&Instruction::End);
        f
    }
}

/// A memory argument with natural alignment 0 (any alignment is valid) and `offset`.
pub fn mem(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        memory_index: 0,
    }
}

fn abi_signature(name: &str) -> (Vec<ValType>, Vec<ValType>) {
    ABI.iter()
        .find(|(n, _, _)| *n == name)
        .map_or((Vec::new(), Vec::new()), |(_, p, r)| {
            (
                p.iter().map(val_type).collect(),
                r.iter().map(val_type).collect(),
            )
        })
}

#[derive(Default)]
struct Types {
    list: Vec<(Vec<ValType>, Vec<ValType>)>,
}

impl Types {
    fn index(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        if let Some(i) = self
            .list
            .iter()
            .position(|(p, r)| p.as_slice() == params && r.as_slice() == results)
        {
            return i as u32;
        }
        self.list.push((params.to_vec(), results.to_vec()));
        (self.list.len() - 1) as u32
    }

    fn section(&self) -> TypeSection {
        let mut t = TypeSection::new();
        for (p, r) in &self.list {
            t.ty().function(p.iter().copied(), r.iter().copied());
        }
        t
    }
}

use Instruction as I;

/// The body `t = rotl(t * K ^ n, 13); x = x * K64 + extend(t)`: 14 operators of plain i32/i64
/// arithmetic and locals (14 gas), no memory, no calls.
pub fn arith_body() -> Vec<Ins> {
    vec![
        I::LocalGet(L_T),
        I::I32Const(0x0123_4567),
        I::I32Mul,
        I::LocalGet(L_N),
        I::I32Xor,
        I::I32Const(13),
        I::I32Rotl,
        I::LocalSet(L_T),
        I::LocalGet(L_X),
        I::I64Const(0x9e37_79b9_7f4a_7c15_u64 as i64),
        I::I64Mul,
        I::LocalGet(L_T),
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalSet(L_X),
    ]
}

/// **Baseline.** Method `run` (input `n`): `n` iterations of [`arith_body`] (plain i32/i64
/// arithmetic on locals). Its wall time per gas is the reference every other cost is compared
/// with.
pub fn arith_loop() -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    k.looped("run", Vec::new(), arith_body()).ping();
    k.build()
}

/// `n` `nop`s: free to run, one byte each. Pads tiny function bodies to the 40 bytes on
/// average that wasmi's `EnforcedLimits::strict` requires of modules with 1,000+ code bytes.
pub fn nops(n: usize) -> Vec<Ins> {
    vec![I::Nop; n]
}

/// Bytes of `nop` padding that keep a tiny body at wasmi's 40-byte average.
const PAD: usize = 40;

/// **Compile-time locals attack.** `functions` defined functions: `ping` (no locals) and
/// `functions - 1` tiny functions that each declare `locals_per_fn` `i32` locals in one group
/// and do nothing (padded with `nop`s to wasmi's 40-byte minimum average body, so about 45
/// bytes each). wasmi registers every declared local at compile time, so a small module
/// compiles for seconds. Valid today while `functions` ≤ `Limits::max_functions` and
/// `locals_per_fn` ≤ 50,000 (wasmparser's limit).
pub fn locals_bomb(functions: u32, locals_per_fn: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    for _ in 1..functions.max(1) {
        k.helper(Helper::void(locals_per_fn, nops(PAD)));
    }
    k.ping();
    k.build()
}

/// **Call-time locals attack.** Method `run` (input `n`) calls, `n` times, one function that
/// declares `locals` `i32` locals and does nothing: wasmi zeroes every local on every call,
/// while gas counts only the `call`.
pub fn locals_call(locals: u32) -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    let f = k.helper(Helper::void(locals, Vec::new()));
    k.looped("run", Vec::new(), vec![I::Call(f)]).ping();
    k.build()
}

/// [`padded_seeded`] with seed 0.
pub fn padded(bytes: usize) -> Vec<u8> {
    padded_seeded(bytes, 0)
}

/// **Compile / cache-miss attack.** A valid contract of about `bytes` bytes (within 1%, for
/// `bytes` ≥ 4 KiB) whose only method `ping` does nothing: the rest is helper functions of
/// about 2 KB of straight-line arithmetic each, never called. Every helper starts by setting
/// its local to `seed`, so each seed gives distinct bytes (a distinct code hash) of the same
/// shape: deploy many distinct copies to defeat the module cache. 514,000 bytes is the issue's
/// figure (the limit is 512 KiB).
pub fn padded_seeded(bytes: usize, seed: u32) -> Vec<u8> {
    // One unit: local.get 0; i32.const c (1-byte LEB, c < 64); i32.add; local.set 0 = 7 bytes.
    let unit = |c: u32| {
        [
            I::LocalGet(0),
            I::I32Const((c & 0x3f) as i32),
            I::I32Add,
            I::LocalSet(0),
        ]
    };
    // `i32.const seed` takes 1-5 bytes; a seed below 2^20 takes at most 3.
    let body = |units: usize, salt: u32| -> Vec<Ins> {
        let mut b = vec![I::I32Const(seed as i32), I::LocalSet(0)];
        b.extend((0..units).flat_map(|u| unit(salt.wrapping_add(u as u32))));
        b
    };
    const UNITS: usize = 285; // ~2,000 bytes per function
    let skeleton = {
        let mut k = Kernel::new(&[]);
        k.ping();
        k.build().len()
    };
    // A helper costs its body (7 per unit), locals (3), end (1), a size LEB (2) and a
    // function-section entry (1).
    let per_fn = 7 * UNITS + 7 + 7;
    let room = bytes.saturating_sub(skeleton + 8);
    let full = room / per_fn;
    let rest_units = (room % per_fn).saturating_sub(7) / 7;
    let mut k = Kernel::new(&[]);
    for f in 0..full {
        k.helper(Helper::void(
            1,
            body(UNITS, seed.wrapping_mul(31).wrapping_add(f as u32)),
        ));
    }
    if rest_units > 0 {
        k.helper(Helper::void(1, body(rest_units, seed)));
    }
    k.ping();
    k.build()
}

/// Export names `aaa`, `aab`, ...: distinct, three characters each (up to 238,328 names).
fn short_name(i: u32) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let n = A.len() as u32;
    let c = |d: u32| A[(d % n) as usize] as char;
    [c(i / (n * n)), c(i / n), c(i)].iter().collect()
}

/// **Instantiation attack: exports.** `n` extra exported names (3-character names, all the
/// same empty `() -> ()` function, so each is a callable method) besides `ping`. wasmi
/// allocates per export at every instantiation; instantiation is a flat fee.
pub fn many_exports(n: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.ping();
    let ping = k.method_index(0);
    k.exports = (0..n)
        .map(|i| (short_name(i), ExportKind::Func, ping))
        .collect();
    k.build()
}

/// **Instantiation attack: functions.** `n` helper functions that do nothing (never called;
/// `nop`-padded to wasmi's 40-byte minimum average) besides `ping`: per-function work at
/// instantiation.
pub fn many_functions(n: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    for _ in 0..n {
        k.helper(Helper::void(0, nops(PAD)));
    }
    k.ping();
    k.build()
}

/// **Instantiation attack: globals.** `n` mutable `i32` globals besides `ping` (valid while
/// `n` ≤ `Limits::max_globals`).
pub fn many_globals(n: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.globals = n;
    k.ping();
    k.build()
}

/// **Instantiation attack: element items.** A table of `min(n, 4,096)` entries and `n`
/// element items in active segments of at most 4,096 items (all at offset 0, each
/// overwriting the last): every item is written at every instantiation, and only the table
/// size is limited today.
pub fn many_elements(n: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.ping();
    let ping = k.method_index(0);
    let size = n.clamp(1, 4_096);
    k.table = Some((u64::from(size), Some(u64::from(size))));
    let mut left = n;
    while left > 0 {
        let chunk = left.min(size);
        k.elements.push((Some(0), vec![ping; chunk as usize]));
        left -= chunk;
    }
    k.build()
}

/// **Instantiation attack: data.** One active data segment of `bytes` bytes at offset 0 (the
/// memory has just enough pages), copied into memory at every instantiation, besides `ping`.
pub fn big_data(bytes: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.pages = bytes.div_ceil(65_536).max(1);
    k.data
        .push((Some(0), (0..bytes).map(|i| (i % 251) as u8).collect()));
    k.ping();
    k.build()
}

/// **Instantiation attack: imports.** The same import, `keel.gas_left`, `n` times, besides
/// `ping`: the host resolves and wraps every import at every instantiation.
pub fn duplicate_imports(n: u32) -> Vec<u8> {
    let names: Vec<&str> = vec!["gas_left"; n as usize];
    let mut k = Kernel::new(&names);
    k.ping();
    k.build()
}

/// **Instantiation shape: distinct imports.** The first `n` functions of the host ABI (at
/// most 19), each imported once, besides `ping`: the host resolves and wraps every import at
/// every instantiation.
pub fn abi_imports(n: u32) -> Vec<u8> {
    let names: Vec<&str> = ABI.iter().take(n as usize).map(|(n, _, _)| *n).collect();
    let mut k = Kernel::new(&names);
    k.ping();
    k.build()
}

/// **Rejected at upload (today and after the fix): unknown imports.** `n` imports `keel.x0`,
/// `keel.x1`, ...: each is a problem, and a rejected Deploy lists every problem in its
/// receipt (the 45k imports gave a 1.89 MB message).
pub fn unknown_imports(n: u32) -> Vec<u8> {
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut k = Kernel::new(&refs);
    k.ping();
    k.build()
}

/// The input of [`round_robin_caller`]'s `run`: `count` calls of `method` on `addresses` in
/// turn (each call forwards all remaining gas and no input).
pub fn round_robin_input(count: u32, method: &str, addresses: &[[u8; 32]]) -> Vec<u8> {
    let mut v = input(
        count,
        addresses.len() as u32,
        method.len() as u32,
        16 + method.len() as u32,
    );
    v.extend_from_slice(method.as_bytes());
    for a in addresses {
        v.extend_from_slice(a);
    }
    v
}

/// **Cache-miss attack driver.** Method `run`, input from [`round_robin_input`]: calls
/// `method` on each address in turn, `count` times in all (the call status is ignored).
/// Against more distinct large contracts than the module cache holds, every call misses.
pub fn round_robin_caller() -> Vec<u8> {
    let mut k = Kernel::new(&["input", "call"]);
    let call = k.import("call");
    // p1 = number of addresses, p2 = method length, p3 = offset of the first address;
    // t = index of the next callee.
    let body = vec![
        // addr_ptr = p3 + t * 32
        I::LocalGet(L_P3),
        I::LocalGet(L_T),
        I::I32Const(32),
        I::I32Mul,
        I::I32Add,
        I::I32Const(16), // method_ptr
        I::LocalGet(L_P2),
        I::I32Const(0), // no input
        I::I32Const(0),
        I::I64Const(0), // all remaining gas
        I::Call(call),
        I::Drop,
        // t = (t + 1) % p1
        I::LocalGet(L_T),
        I::I32Const(1),
        I::I32Add,
        I::LocalGet(L_P1),
        I::I32RemU,
        I::LocalSet(L_T),
    ];
    k.looped("run", Vec::new(), body).ping();
    k.build()
}

/// Stores the 4-byte little-endian key `i` at `SCRATCH`.
fn key_of(local: u32) -> Vec<Ins> {
    vec![
        I::I32Const(SCRATCH as i32),
        I::LocalGet(local),
        I::I32Store(mem(0)),
    ]
}

/// The SCALE query `(Unbounded, Unbounded)` for `storage_next`, stored at this offset.
const QUERY_ALL: u32 = SCRATCH + 64;

/// **Tombstone attack.** Methods over keys `0..n` (4-byte little-endian indices, 8-byte
/// values): `fill` (input `n`) writes them; `remove` (input `n`) deletes them; `scan` (input
/// `n`) calls `storage_next` over the whole namespace `n` times (result ignored);
/// `remove_scan` (input `n`, `p1`) removes `p1` keys then scans `n` times in the same
/// transaction. After a removal, every `storage_next` skips every tombstone: today the overlay
/// re-queries the base once per tombstone and charges once.
pub fn tombstones() -> Vec<u8> {
    let mut k = Kernel::new(&["input", "storage_set", "storage_remove", "storage_next"]);
    let (set, remove, next) = (
        k.import("storage_set"),
        k.import("storage_remove"),
        k.import("storage_next"),
    );
    k.data.push((Some(QUERY_ALL), vec![2, 2]));
    k.extra_locals = 1;
    let i = L_EXTRA;
    let bump = |v: u32| vec![I::LocalGet(v), I::I32Const(1), I::I32Add, I::LocalSet(v)];
    let mut fill = key_of(i);
    fill.extend([
        I::I32Const(SCRATCH as i32),
        I::I32Const(4),
        I::I32Const(SCRATCH as i32),
        I::I32Const(8),
        I::Call(set),
    ]);
    fill.extend(bump(i));
    let mut rm = key_of(i);
    rm.extend([I::I32Const(SCRATCH as i32), I::I32Const(4), I::Call(remove)]);
    rm.extend(bump(i));
    let scan = vec![
        I::I32Const(QUERY_ALL as i32),
        I::I32Const(2),
        I::I32Const((SCRATCH + 128) as i32),
        I::I32Const(64),
        I::Call(next),
        I::Drop,
    ];
    // remove_scan: a nested loop removing p1 keys first (in setup), then the scan loop.
    let mut rm_setup = vec![
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(i),
        I::LocalGet(L_P1),
        I::I32GeU,
        I::BrIf(1),
    ];
    rm_setup.extend(rm.clone());
    rm_setup.extend([I::Br(0), I::End, I::End]);
    k.looped("fill", Vec::new(), fill)
        .looped("remove", Vec::new(), rm)
        .looped("scan", Vec::new(), scan.clone())
        .looped("remove_scan", rm_setup, scan)
        .ping();
    k.build()
}

/// **Unpriced copy in `storage_has`.** Methods `set` (input `n` = value length, at most
/// 192 KiB here) writes one value of `n` bytes under key `b"k"`; `has` (input `n`) calls
/// `storage_has` on it `n` times. Today `storage_has` copies the whole value and charges
/// no bytes.
pub fn has_big() -> Vec<u8> {
    let mut k = Kernel::new(&["input", "storage_set", "storage_has"]);
    let (set, has) = (k.import("storage_set"), k.import("storage_has"));
    k.pages = 4;
    k.data.push((Some(SCRATCH), b"k".to_vec()));
    let value_at = (SCRATCH + 64) as i32;
    k.once(
        "set",
        vec![
            I::I32Const(SCRATCH as i32),
            I::I32Const(1),
            I::I32Const(value_at),
            I::LocalGet(L_N),
            I::Call(set),
        ],
    );
    k.looped(
        "has",
        Vec::new(),
        vec![
            I::I32Const(SCRATCH as i32),
            I::I32Const(1),
            I::Call(has),
            I::Drop,
        ],
    );
    k.ping();
    k.build()
}

/// How many attack operations one loop iteration runs (unrolled, so the loop's own operators
/// do not dilute the attack).
pub const UNROLL: u32 = 8;

fn unrolled(body: &[Ins]) -> Vec<Ins> {
    (0..UNROLL).flat_map(|_| body.iter().cloned()).collect()
}

/// **Unpriced failure: `memory.grow`.** Method `run` (input `n`): `n` × [`UNROLL`] times
/// `memory.grow(1)` on a memory whose maximum is its initial single page, so every growth
/// fails (returns -1).
pub fn grow_fail() -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    k.max_pages = Some(1);
    k.looped(
        "run",
        Vec::new(),
        unrolled(&[I::I32Const(1), I::MemoryGrow(0), I::Drop]),
    )
    .ping();
    k.build()
}

/// **Unpriced failure: `table.grow`.** Method `run` (input `n`): `n` × [`UNROLL`] times
/// `table.grow(ref.null, 1)` on a table whose maximum is its initial size, so every growth
/// fails (returns -1).
pub fn table_grow_fail() -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    k.table = Some((1, Some(1)));
    k.looped(
        "run",
        Vec::new(),
        unrolled(&[
            I::RefNull(HeapType::FUNC),
            I::I32Const(1),
            I::TableGrow(0),
            I::Drop,
        ]),
    )
    .ping();
    k.build()
}

/// **Bulk-memory minimum.** Method `run` (input `n`, `p1` = length, 1 for the attack): `n` ×
/// [`UNROLL`] times a `memory.copy` and a `memory.fill` of `p1` bytes. The per-byte price rounds a small
/// copy down to nothing.
pub fn small_copy() -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    k.pages = 2;
    k.looped(
        "run",
        Vec::new(),
        unrolled(&[
            I::I32Const(SCRATCH as i32),
            I::I32Const((SCRATCH + 16) as i32),
            I::LocalGet(L_P1),
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            I::I32Const(SCRATCH as i32),
            I::I32Const(7),
            I::LocalGet(L_P1),
            I::MemoryFill(0),
        ]),
    )
    .ping();
    k.build()
}

/// **`call_indirect` loop.** Method `run` (input `n`): `n` × [`UNROLL`] times `call_indirect`
/// through a one-entry table to an empty `() -> ()` function.
pub fn call_indirect_loop() -> Vec<u8> {
    let mut k = Kernel::new(&["input"]);
    let f = k.helper(Helper::void(0, Vec::new()));
    k.table = Some((1, Some(1)));
    k.elements.push((Some(0), vec![f]));
    k.looped(
        "run",
        Vec::new(),
        unrolled(&[
            I::I32Const(0),
            I::CallIndirect {
                type_index: TYPE_VOID,
                table_index: 0,
            },
        ]),
    )
    .ping();
    k.build()
}

/// **Should be rejected at upload.** An active element segment at offset 5 of a one-entry
/// table: wasmparser accepts it (offsets are checked at instantiation), so today it deploys
/// and then traps at every instantiation. Method `ping`.
pub fn element_oob() -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.ping();
    let ping = k.method_index(0);
    k.table = Some((1, Some(1)));
    k.elements.push((Some(5), vec![ping]));
    k.build()
}

/// **Compile shape: nesting.** `ping` plus one helper (never called) whose body is `depth`
/// nested empty `block`s: control-stack depth at compile time.
pub fn deep_nesting(depth: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    let mut body = vec![I::Block(BlockType::Empty); depth as usize];
    body.extend(vec![I::End; depth as usize]);
    k.helper(Helper::void(0, body));
    k.ping();
    k.build()
}

/// **Compile shape: `br_table` targets.** `ping` plus one helper (never called) holding one
/// `br_table` with `targets` entries (all to the same label).
pub fn big_br_table(targets: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    let body = vec![
        I::Block(BlockType::Empty),
        I::I32Const(0),
        I::BrTable(vec![0; targets as usize].into(), 0),
        I::End,
    ];
    k.helper(Helper::void(0, body));
    k.ping();
    k.build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parses(wasm: &[u8]) {
        let mut v = wasmparser::Validator::new();
        v.validate_all(wasm).expect("wasmparser validates");
    }

    fn keel_valid(wasm: &[u8]) -> keel_engine::CodeInfo {
        parses(wasm);
        keel_engine::check_code(wasm, &keel_engine::EngineConfig::default())
            .unwrap_or_else(|e| panic!("check_code: {e}"))
    }

    #[test]
    fn arith_loop_is_valid() {
        let info = keel_valid(&arith_loop());
        assert_eq!(info.methods, ["ping", "run"]);
    }

    #[test]
    fn locals_bomb_is_well_formed_and_small() {
        // At the attack's size it is well-formed wasm (the engine's locals limits, since gas
        // schedule 2, reject it at upload: engine/tests/adversarial.rs); within them it is a
        // valid contract.
        let wasm = locals_bomb(1_000, 30_000);
        parses(&wasm);
        // ~46 bytes of code per function plus the function-section entry.
        assert!(wasm.len() < 1_000 * 50 + 200, "{} bytes", wasm.len());
        keel_valid(&locals_bomb(100, 1_000));
    }

    #[test]
    fn locals_call_is_valid() {
        parses(&locals_call(30_000));
        keel_valid(&locals_call(1_000));
    }

    #[test]
    fn padded_has_the_size_asked() {
        for (bytes, seed) in [(4_096, 0), (100_000, 1), (514_000, 2)] {
            let wasm = padded_seeded(bytes, seed);
            let diff = wasm.len().abs_diff(bytes);
            assert!(diff * 100 <= bytes, "{bytes}: got {}", wasm.len());
            let info = keel_valid(&wasm);
            assert_eq!(info.methods, ["ping"]);
        }
        let hashes: std::collections::BTreeSet<_> = (0..300)
            .map(|seed| keel_engine::code_hash(&padded_seeded(5_000, seed)))
            .collect();
        assert_eq!(hashes.len(), 300, "every seed gives a distinct module");
    }

    #[test]
    fn shape_attacks_are_well_formed_and_valid_within_the_limits() {
        // The attack sizes are well-formed wasm (the engine decides what it accepts).
        for wasm in [
            many_exports(60_000),
            many_elements(400_000),
            duplicate_imports(9_000),
            deep_nesting(50_000),
            big_br_table(100_000),
        ] {
            parses(&wasm);
        }
        // Sizes inside the upload limits of gas schedules 1 and 2 are valid contracts.
        assert_eq!(keel_valid(&many_exports(500)).methods.len(), 501);
        keel_valid(&many_functions(5_000));
        keel_valid(&many_globals(200));
        keel_valid(&many_elements(4_000));
        keel_valid(&big_data(100_000));
        keel_valid(&duplicate_imports(1));
        keel_valid(&abi_imports(19));
        keel_valid(&deep_nesting(1_000));
        keel_valid(&big_br_table(10_000));
    }

    #[test]
    fn short_names_are_distinct() {
        let names: std::collections::BTreeSet<String> = (0..20_000).map(short_name).collect();
        assert_eq!(names.len(), 20_000);
    }

    #[test]
    fn unknown_imports_are_rejected_one_problem_each() {
        let wasm = unknown_imports(10);
        parses(&wasm);
        let err =
            keel_engine::check_code(&wasm, &keel_engine::EngineConfig::default()).unwrap_err();
        let unknown = err
            .problems
            .iter()
            .filter(|p| matches!(p, keel_engine::Problem::UnknownImport { .. }))
            .count();
        assert_eq!(unknown, 10);
    }

    #[test]
    fn drivers_are_valid() {
        keel_valid(&round_robin_caller());
        assert_eq!(
            keel_valid(&tombstones()).methods,
            ["fill", "ping", "remove", "remove_scan", "scan"]
        );
        assert_eq!(keel_valid(&has_big()).methods, ["has", "ping", "set"]);
        let rr = round_robin_input(5, "ping", &[[1; 32], [2; 32]]);
        assert_eq!(rr.len(), 16 + 4 + 64);
    }

    #[test]
    fn loop_attacks_are_valid() {
        keel_valid(&grow_fail());
        keel_valid(&table_grow_fail());
        keel_valid(&small_copy());
        keel_valid(&call_indirect_loop());
    }

    #[test]
    fn element_oob_parses_and_is_accepted_today() {
        // It parses. Whether upload accepts it is the engine's decision (today it does; the
        // gas-bounds fix rejects it): this test only pins that it is well-formed wasm.
        parses(&element_oob());
    }

    #[test]
    fn every_module_imports_only_keel_with_abi_signatures() {
        // The ABI table here must match the engine's: a module importing every function
        // with these signatures passes check_code.
        let names: Vec<&str> = ABI.iter().map(|(n, _, _)| *n).collect();
        let mut k = Kernel::new(&names);
        k.ping();
        keel_valid(&k.build());
    }
}
