//! Differential target: the same generated module through Keel's engine and through bare
//! wasmi with identical fuel costs ([`keel_engine::wasmi_config`]), method by method. Both must
//! agree on the result (the bytes the method returns), the trap (Keel's [`TrapKind`] is the
//! mapping of wasmi's trap code), running out of gas, and the fuel the wasm consumed.
//!
//! Keel charges more than wasmi's fuel: intrinsic transaction gas, instantiation (base plus
//! initial pages) and host functions. Only the wasm-execution part is compared:
//! `gas_used - intrinsic - instantiation` on Keel's side against the fuel bare wasmi consumed,
//! where the bare side's one host function (`keel.set_return`, called once at the end of each
//! method to return 32 bytes of memory) charges exactly what Keel's does. Functions declare at
//! most 3 locals, below gas v2's per-call locals charge.
//!
//! Modules come from a small typed generator (not wasm-smith, whose modules do not follow the
//! contract ABI): integer arithmetic including division traps, loads and stores at in- and
//! out-of-bounds addresses, `memory.grow`/`fill`/`copy`, globals, bounded loops, blocks with
//! `br_if`, direct calls to helpers, `call_indirect` through a table with null and mistyped
//! entries, a recursive helper deep enough to exhaust the stack, and `unreachable`.

use arbitrary::Unstructured;
use keel_engine::{
    Action, BlockContext, Engine, EngineConfig, GasSchedule, Shape, Status, Transaction, TrapKind,
    check_code, wasmi_config,
};
use keel_state::MemStore;
use wasmi::{Caller, Func, Linker, Module, Store, StoreLimits, StoreLimitsBuilder};

const SENDER: [u8; 32] = [0xd1; 32];

/// The most locals a generated function declares (parameters excluded): below gas v2's
/// `locals_per_gas` (4), so no function pays the per-call locals charge, which bare wasmi
/// would not see (Keel meters locals by compiling `nop`s into the function's entry).
pub const MAX_LOCALS: u32 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    I32,
    I64,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
        }
    }
}

/// Helper signatures: `(param i32 i64) (result i32)` or `(param i64) (result i64)`.
const HELPER_SIGS: [(&[Ty], Ty); 2] = [(&[Ty::I32, Ty::I64], Ty::I32), (&[Ty::I64], Ty::I64)];

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    out: String,
    stack: Vec<Ty>,
    /// The function's locals: params first, then declared ones.
    locals: Vec<Ty>,
    /// Index of the first of the two loop-counter locals.
    counters: u32,
    /// Helpers this function may call (only later ones: no recursion but `$rec`).
    callable: std::ops::Range<usize>,
    helpers: usize,
    budget: u32,
    depth: u32,
    max_depth: u32,
    /// Set after `unreachable`: the rest of the block is dead and not type-tracked.
    dead: bool,
}

impl Gen<'_, '_> {
    fn byte(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    fn int(&mut self, max: u32) -> u32 {
        self.u.int_in_range(0..=max).unwrap_or(0)
    }

    fn emit(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn push_const(&mut self, ty: Ty) {
        let v = match self.byte() % 4 {
            0 => 0i64,
            1 => 1,
            2 => -1,
            _ => i64::from(self.u.arbitrary::<i32>().unwrap_or(7)),
        };
        let v = if ty == Ty::I32 { (v as i32) as i64 } else { v };
        self.emit(&format!("{}.const {v}", ty.name()));
        self.stack.push(ty);
    }

    /// Makes the top of the stack a value of type `ty`.
    fn need(&mut self, ty: Ty) {
        match self.stack.last() {
            Some(t) if *t == ty => {}
            Some(Ty::I32) if ty == Ty::I64 => {
                self.emit("i64.extend_i32_u");
                self.stack.pop();
                self.stack.push(Ty::I64);
            }
            Some(Ty::I64) if ty == Ty::I32 => {
                self.emit("i32.wrap_i64");
                self.stack.pop();
                self.stack.push(Ty::I32);
            }
            _ => self.push_const(ty),
        }
    }

    /// Makes the top two values of the stack of type `ty` (the second one often a constant).
    fn need_two(&mut self, ty: Ty) {
        let n = self.stack.len();
        if n >= 2 && self.stack[n - 1] == ty && self.stack[n - 2] == ty {
            return;
        }
        self.need(ty);
        self.push_const(ty);
    }

    fn pop(&mut self, n: usize) {
        for _ in 0..n {
            self.stack.pop();
        }
    }

    /// An address: small (in bounds), near the end of the first page, or anything.
    fn address(&mut self) {
        match self.byte() % 8 {
            0 => {
                let a = 65_536 - self.int(16);
                self.emit(&format!("i32.const {a}"))
            }
            1 => {
                let a = self.u.arbitrary::<i32>().unwrap_or(0);
                self.emit(&format!("i32.const {a}"))
            }
            2 if self.stack.last() == Some(&Ty::I32) => {
                self.stack.pop();
                self.emit("i32.const 0xffff\ni32.and");
            }
            _ => {
                let a = 32 + self.int(2000);
                self.emit(&format!("i32.const {a}"))
            }
        }
        self.stack.push(Ty::I32);
    }

    fn instr(&mut self) {
        if self.budget == 0 {
            return;
        }
        self.budget -= 1;
        let choice = self.byte() % 40;
        let ty = if self.byte().is_multiple_of(2) {
            Ty::I32
        } else {
            Ty::I64
        };
        let t = ty.name();
        match choice {
            0..=3 => self.push_const(ty),
            4..=6 => {
                let idx = self.int(self.locals.len().saturating_sub(1) as u32);
                if let Some(lt) = self.locals.get(idx as usize).copied() {
                    self.emit(&format!("local.get {idx}"));
                    self.stack.push(lt);
                }
            }
            7..=8 => {
                let idx = self.int(self.locals.len().saturating_sub(1) as u32);
                if let Some(lt) = self.locals.get(idx as usize).copied()
                    && idx < self.counters
                {
                    self.need(lt);
                    let op = if self.byte().is_multiple_of(2) {
                        "set"
                    } else {
                        "tee"
                    };
                    self.emit(&format!("local.{op} {idx}"));
                    if op == "set" {
                        self.pop(1);
                    }
                }
            }
            9..=16 => {
                const BIN: &[&str] = &[
                    "add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl",
                    "rotr", "div_s", "div_u", "rem_s", "rem_u",
                ];
                let op = BIN[self.byte() as usize % BIN.len()];
                self.need_two(ty);
                self.emit(&format!("{t}.{op}"));
                self.pop(2);
                self.stack.push(ty);
            }
            17..=18 => {
                const UN: &[&str] = &["clz", "ctz", "popcnt", "extend8_s", "extend16_s"];
                let op = UN[self.byte() as usize % UN.len()];
                self.need(ty);
                self.emit(&format!("{t}.{op}"));
            }
            19..=20 => {
                const CMP: &[&str] = &["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "ge_u"];
                let op = CMP[self.byte() as usize % CMP.len()];
                self.need_two(ty);
                self.emit(&format!("{t}.{op}"));
                self.pop(2);
                self.stack.push(Ty::I32);
            }
            21 => {
                self.need(ty);
                self.emit(&format!("{t}.eqz"));
                self.pop(1);
                self.stack.push(Ty::I32);
            }
            22..=23 => {
                const LOAD: &[(&str, Ty)] = &[
                    ("i32.load", Ty::I32),
                    ("i32.load8_s", Ty::I32),
                    ("i32.load16_u", Ty::I32),
                    ("i64.load", Ty::I64),
                    ("i64.load32_u", Ty::I64),
                    ("i64.load8_u", Ty::I64),
                ];
                let (op, rt) = LOAD[self.byte() as usize % LOAD.len()];
                self.address();
                let off = self.int(3) * 4;
                self.emit(&format!("{op} offset={off}"));
                self.pop(1);
                self.stack.push(rt);
            }
            24..=25 => {
                const STORE: &[(&str, Ty)] = &[
                    ("i32.store", Ty::I32),
                    ("i32.store8", Ty::I32),
                    ("i64.store", Ty::I64),
                    ("i64.store16", Ty::I64),
                ];
                let (op, vt) = STORE[self.byte() as usize % STORE.len()];
                self.address();
                self.push_const(vt);
                let off = self.int(3) * 4;
                self.emit(&format!("{op} offset={off}"));
                self.pop(2);
            }
            26 => {
                let delta = match self.byte() % 4 {
                    0 => 0,
                    1 => 1,
                    2 => 20,
                    _ => self.int(3),
                };
                self.emit(&format!("i32.const {delta}\nmemory.grow"));
                self.stack.push(Ty::I32);
            }
            27 => {
                self.emit("memory.size");
                self.stack.push(Ty::I32);
            }
            28 => {
                let op = if self.byte().is_multiple_of(2) {
                    "memory.fill"
                } else {
                    "memory.copy"
                };
                self.address();
                self.push_const(Ty::I32);
                let len = match self.byte() % 4 {
                    0 => 0,
                    1 => 70_000,
                    _ => self.int(5000),
                };
                self.emit(&format!("i32.const {len}\n{op}"));
                self.pop(2);
            }
            29 => {
                let g = self.int(1);
                let gt = if g == 0 { Ty::I32 } else { Ty::I64 };
                if self.byte().is_multiple_of(2) {
                    self.emit(&format!("global.get {g}"));
                    self.stack.push(gt);
                } else {
                    self.need(gt);
                    self.emit(&format!("global.set {g}"));
                    self.pop(1);
                }
            }
            30 => {
                if self.byte().is_multiple_of(2) {
                    self.need(ty);
                    self.push_const(ty);
                    self.push_const(Ty::I32);
                    self.emit("select");
                    self.pop(3);
                    self.stack.push(ty);
                }
            }
            31..=32 if !self.callable.is_empty() => {
                let h = self.callable.start + self.int((self.callable.len() - 1) as u32) as usize;
                let (params, result) = HELPER_SIGS[h % 2];
                for p in params {
                    self.push_const(*p);
                }
                self.emit(&format!("call $h{h}"));
                self.pop(params.len());
                self.stack.push(result);
            }
            33 => {
                // call_indirect with type 0 (() -> i32): entry 0 matches, then helpers of
                // other signatures, null slots and an out-of-range index.
                let idx = self.int(self.helpers as u32 + 3);
                self.emit(&format!("i32.const {idx}\ncall_indirect (type $t0)"));
                self.stack.push(Ty::I32);
            }
            34 => {
                let depth = match self.byte() % 4 {
                    0 => 5000,
                    _ => self.int(300),
                };
                self.emit(&format!("i32.const {depth}\ncall $rec"));
                self.stack.push(Ty::I32);
            }
            35..=37 if self.depth < self.max_depth => self.block_or_loop(),
            38 if self.byte().is_multiple_of(8) => {
                self.emit("unreachable");
                // Everything after is dead: end the body here, keeping it valid.
                self.budget = 0;
                self.stack.clear();
                self.out.push_str(";; dead\n");
                self.dead = true;
            }
            _ => self.push_const(ty),
        }
    }

    fn block_or_loop(&mut self) {
        let saved = std::mem::take(&mut self.stack);
        self.depth += 1;
        if self.byte().is_multiple_of(2) {
            // The outer loop counts in a local; a nested one in global 2, which nothing else
            // writes (so no function needs a fourth local).
            let (get, set) = if self.depth == 1 {
                (
                    format!("local.get {}", self.counters),
                    format!("local.tee {}", self.counters),
                )
            } else {
                (
                    "global.get 2".to_string(),
                    "global.set 2\nglobal.get 2".to_string(),
                )
            };
            let n = 1 + self.int(20);
            let init = set
                .replace("local.tee", "local.set")
                .replace("\nglobal.get 2", "");
            self.emit(&format!("i32.const {n}\n{init}\nloop"));
            for _ in 0..self.int(8) {
                self.instr();
            }
            self.balance();
            self.emit(&format!("{get}\ni32.const 1\ni32.sub\n{set}\nbr_if 0\nend"));
        } else {
            self.emit("block");
            for _ in 0..self.int(8) {
                self.instr();
                if self.byte().is_multiple_of(8) && !self.dead {
                    self.need(Ty::I32);
                    self.emit("br_if 0");
                    self.pop(1);
                }
            }
            self.balance();
            self.emit("end");
        }
        self.depth -= 1;
        self.stack = saved;
        self.dead = false;
    }

    /// Drops whatever the current block left on the stack.
    fn balance(&mut self) {
        if self.dead {
            self.stack.clear();
            return;
        }
        while self.stack.pop().is_some() {
            self.emit("drop");
        }
    }
}

impl Gen<'_, '_> {
    #[allow(clippy::too_many_arguments)]
    fn new<'a, 'b>(
        u: &'a mut Unstructured<'b>,
        locals: Vec<Ty>,
        counters: u32,
        callable: std::ops::Range<usize>,
        helpers: usize,
        budget: u32,
        max_depth: u32,
    ) -> Gen<'a, 'b> {
        Gen {
            u,
            out: String::new(),
            stack: Vec::new(),
            locals,
            counters,
            callable,
            helpers,
            budget,
            depth: 0,
            max_depth,
            dead: false,
        }
    }
}

/// One generated contract: WAT text and the names of its methods.
pub struct Generated {
    /// The module, as WAT.
    pub wat: String,
    /// Its exported methods, `() -> ()` each.
    pub methods: Vec<String>,
}

/// Builds a module from fuzzer bytes.
pub fn generate(u: &mut Unstructured<'_>) -> Generated {
    let helpers = 1 + (u.arbitrary::<u8>().unwrap_or(0) % 4) as usize;
    let methods = 1 + (u.arbitrary::<u8>().unwrap_or(0) % 3) as usize;
    let mut wat = String::from(
        "(module\n(type $t0 (func (result i32)))\n\
         (import \"keel\" \"set_return\" (func $ret (param i32 i32)))\n\
         (memory (export \"memory\") 1 4)\n\
         (global (mut i32) (i32.const 7))\n(global (mut i64) (i64.const -3))\n\
         (global (mut i32) (i32.const 0))\n",
    );
    // The table: helpers (of both signatures: index 1, 3, ... mismatch type $t0), then nulls.
    wat.push_str(&format!(
        "(func $k (result i32) (i32.const 42))\n(table {} funcref)\n(elem (i32.const 0) $k",
        helpers + 3
    ));
    for h in 0..helpers {
        wat.push_str(&format!(" $h{h}"));
    }
    wat.push_str(")\n");
    // The recursive helper: recurses `n` times (a deep `n` exhausts the stack).
    wat.push_str(
        "(func $rec (param i32) (result i32)\n\
         (if (result i32) (local.get 0)\n\
         (then (i32.add (i32.const 1) (call $rec (i32.sub (local.get 0) (i32.const 1)))))\n\
         (else (i32.const 0))))\n",
    );
    // Helpers declare 2 value locals and a loop counter (loops nest 1 deep in helpers).
    for h in 0..helpers {
        let (params, result) = HELPER_SIGS[h % 2];
        let mut locals: Vec<Ty> = params.to_vec();
        let declared = [Ty::I32, Ty::I64, Ty::I32];
        let counters = (locals.len() + 2) as u32;
        locals.extend_from_slice(&declared);
        let budget = 4 + u32::from(u.arbitrary::<u8>().unwrap_or(0) % 24);
        let mut g = Gen::new(u, locals, counters, h + 1..helpers, helpers, budget, 1);
        for _ in 0..budget {
            g.instr();
        }
        if !g.dead {
            g.need(result);
            let extra = g.stack.len() - 1;
            // Keep the top, drop the rest below it through a local.
            if extra > 0 {
                let tmp = if result == Ty::I32 {
                    params.len()
                } else {
                    params.len() + 1
                };
                g.emit(&format!("local.set {tmp}"));
                g.stack.pop();
                g.balance();
                g.emit(&format!("local.get {tmp}"));
            }
        }
        let params_s: String = params.iter().map(|p| format!(" {}", p.name())).collect();
        wat.push_str(&format!(
            "(func $h{h} (param{params_s}) (result {})\n(local i32 i64 i32)\n{})\n",
            result.name(),
            g.out,
        ));
    }
    let mut names = Vec::new();
    for m in 0..methods {
        // Two value locals and the outer loop counter.
        let locals = vec![Ty::I32, Ty::I64, Ty::I32];
        let budget = 8 + u32::from(u.arbitrary::<u8>().unwrap_or(0) % 56);
        let mut g = Gen::new(u, locals, 2, 0..helpers, helpers, budget, 2);
        for _ in 0..budget {
            g.instr();
        }
        if !g.dead {
            // Store what is left (the last value) and the locals into the returned bytes.
            if let Some(ty) = g.stack.last().copied() {
                g.emit(&format!("local.set {}", if ty == Ty::I32 { 0 } else { 1 }));
                g.stack.pop();
            }
            g.balance();
            g.out.push_str(
                "i32.const 0\nlocal.get 0\ni32.store\n\
                 i32.const 4\nglobal.get 2\ni32.store\n\
                 i32.const 8\nlocal.get 1\ni64.store\n\
                 i32.const 16\nglobal.get 1\ni64.store\n\
                 i32.const 24\nglobal.get 0\ni32.store\n\
                 i32.const 28\nmemory.size\ni32.store\n\
                 i32.const 0\ni32.const 32\ncall $ret\n",
            );
        }
        let body = g.out;
        let name = format!("m{m}");
        wat.push_str(&format!(
            "(func (export \"{name}\")\n(local i32 i64 i32)\n{body})\n"
        ));
        names.push(name);
    }
    wat.push_str(")\n");
    Generated {
        wat,
        methods: names,
    }
}

/// Gas Keel charges for a call besides the wasm fuel: intrinsic gas (base and payload bytes)
/// and instantiation (gas v2: base, initial pages and the module's shape).
fn keel_overhead(gas: &GasSchedule, method: &str, args: &[u8], shape: &Shape) -> u64 {
    let payload = (method.len() + args.len()) as u64;
    gas.tx_base
        .saturating_add(payload.saturating_mul(gas.tx_byte))
        .saturating_add(gas.instantiation(shape))
}

/// What bare wasmi did.
#[derive(Debug, PartialEq, Eq)]
enum Bare {
    Returned(Vec<u8>, u64),
    Trapped(TrapKind, u64),
    OutOfFuel,
}

struct BareData {
    limits: StoreLimits,
    returned: Vec<u8>,
    set_return_base: u64,
    copy_byte: u64,
    out_of_fuel: bool,
}

fn run_bare(engine: &wasmi::Engine, module: &Module, method: &str, fuel: u64) -> Bare {
    let config = EngineConfig::default();
    let limits = StoreLimitsBuilder::new()
        .memory_size(config.limits.max_memory_pages as usize * 65_536)
        .table_elements(config.limits.max_table_entries as usize)
        .instances(1)
        .memories(1)
        .tables(100)
        .build();
    let mut store = Store::new(
        engine,
        BareData {
            limits,
            returned: Vec::new(),
            set_return_base: config.gas.host_base,
            copy_byte: config.gas.copy_byte,
            out_of_fuel: false,
        },
    );
    store.limiter(|d| &mut d.limits);
    store.set_fuel(fuel).unwrap();
    let mut linker = Linker::new(engine);
    let ret = Func::wrap(
        &mut store,
        |mut caller: Caller<'_, BareData>, ptr: i32, len: i32| -> Result<(), wasmi::Error> {
            // Keel's charge for `set_return`, so that both sides burn identical fuel.
            let cost = caller.data().set_return_base
                + caller.data().copy_byte.saturating_mul(len as u32 as u64);
            let left = caller.get_fuel()?;
            let Some(rest) = left.checked_sub(cost) else {
                caller.set_fuel(0)?;
                caller.data_mut().out_of_fuel = true;
                return Err(wasmi::Error::new("out of gas in set_return"));
            };
            caller.set_fuel(rest)?;
            let memory = caller
                .get_export("memory")
                .and_then(|e| e.into_memory())
                .ok_or_else(|| wasmi::Error::new("no memory"))?;
            let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
            let bytes = memory
                .data(&caller)
                .get(ptr..ptr + len)
                .ok_or_else(|| wasmi::Error::from(wasmi::TrapCode::MemoryOutOfBounds))?
                .to_vec();
            caller.data_mut().returned = bytes;
            Ok(())
        },
    );
    linker.define("keel", "set_return", ret).unwrap();
    let instance = match linker.instantiate_and_start(&mut store, module) {
        Ok(i) => i,
        Err(e) => panic!("bare wasmi cannot instantiate a module Keel accepted: {e}"),
    };
    let func = instance
        .get_typed_func::<(), ()>(&store, method)
        .expect("method export");
    let r = func.call(&mut store, ());
    let left = store.get_fuel().unwrap_or(0);
    let used = fuel - left;
    match r {
        Ok(()) => Bare::Returned(std::mem::take(&mut store.data_mut().returned), used),
        Err(_) if store.data().out_of_fuel => Bare::OutOfFuel,
        Err(e) => match e.as_trap_code() {
            Some(wasmi::TrapCode::OutOfFuel) => Bare::OutOfFuel,
            Some(code) => Bare::Trapped(
                TrapKind::from_trap_code(code).expect("a trap that is not out of fuel"),
                used,
            ),
            None => panic!("bare wasmi failed without a trap code: {e}"),
        },
    }
}

/// How the compared calls ended, by kind (to show the target is not vacuous).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Calls that returned on both sides.
    pub returned: usize,
    /// Calls that trapped on both sides, by Keel's trap kind.
    pub trapped: std::collections::BTreeMap<String, usize>,
    /// Calls that ran out of gas on both sides.
    pub out_of_gas: usize,
}

/// The target: generate, deploy on Keel and compile bare, then every method on both sides.
pub fn run(data: &[u8]) {
    run_counted(data, &mut Stats::default());
}

/// [`run`], counting outcomes into `stats`.
pub fn run_counted(data: &[u8], stats: &mut Stats) {
    let mut u = Unstructured::new(data);
    let generated = generate(&mut u);
    let code = match wat::parse_str(&generated.wat) {
        Ok(c) => c,
        Err(e) => panic!("the generator made invalid WAT: {e}\n{}", generated.wat),
    };
    let config = EngineConfig::default();
    let lpg = config.gas.locals_per_gas;
    assert!(
        lpg == 0 || MAX_LOCALS < lpg,
        "generated functions would pay the locals charge"
    );
    let shape = match check_code(&code, &config) {
        Ok(info) => info.shape,
        Err(e) => panic!("Keel rejects a generated module: {e}\n{}", generated.wat),
    };
    let mut engine = Engine::new(config.clone());
    let mut store = MemStore::new();
    let ctx = BlockContext {
        height: 1,
        timestamp: 0,
    };
    let mut nonce = 0u64;
    let mut tx = |gas_limit: u64, action: Action| {
        let t = Transaction {
            sender: SENDER,
            nonce,
            gas_limit,
            action,
        };
        nonce += 1;
        t
    };
    let deploy = tx(1 << 40, Action::Deploy { code: code.clone() });
    let r = engine.execute_block(&mut store, &ctx, &[deploy]).unwrap();
    let r = &r.receipts[0];
    let bare_engine = wasmi::Engine::new(&wasmi_config(&config));
    let bare_module = Module::new(&bare_engine, &code);
    let code_hash: [u8; 32] = match (&r.status, &bare_module) {
        (Status::Success, Ok(_)) => r.return_data.clone().try_into().unwrap(),
        (Status::Reverted(m), Err(_)) => {
            // Both reject; generated modules are meant to be valid, so say why.
            panic!(
                "both reject a generated module: {}\n{}",
                String::from_utf8_lossy(m),
                generated.wat
            )
        }
        (s, b) => panic!(
            "Keel and bare wasmi disagree on validity: Keel {s:?}, wasmi {:?}\n{}",
            b.as_ref().err(),
            generated.wat
        ),
    };
    let bare_module = bare_module.unwrap();
    let inst = tx(
        1 << 30,
        Action::Instantiate {
            code_hash,
            salt: vec![],
            args: vec![],
        },
    );
    let r = engine.execute_block(&mut store, &ctx, &[inst]).unwrap();
    assert_eq!(r.receipts[0].status, Status::Success, "{}", generated.wat);
    let contract: [u8; 32] = r.receipts[0].return_data.clone().try_into().unwrap();

    for method in &generated.methods {
        let overhead = keel_overhead(&config.gas, method, &[], &shape);
        // Plenty of gas, or a limit at or near what the call needs (measured on the bare side
        // first): exactly enough, one unit short, or cut anywhere on the way.
        const PLENTY: u64 = 5_000_000;
        let need = match run_bare(&bare_engine, &bare_module, method, PLENTY) {
            Bare::Returned(_, used) | Bare::Trapped(_, used) => used,
            Bare::OutOfFuel => PLENTY,
        };
        let gas_limit = overhead
            + match u.arbitrary::<u8>().unwrap_or(0) % 8 {
                1 => need,
                2 => need.saturating_sub(1),
                3 => need * u64::from(u.arbitrary::<u8>().unwrap_or(0)) / 256,
                _ => PLENTY,
            };
        let call = tx(
            gas_limit,
            Action::Call {
                contract,
                method: method.clone(),
                args: vec![],
            },
        );
        let out = engine.execute_block(&mut store, &ctx, &[call]).unwrap();
        let keel = &out.receipts[0];
        let fuel = gas_limit - overhead;
        let bare = run_bare(&bare_engine, &bare_module, method, fuel);
        let keel_wasm = keel.gas_used.saturating_sub(overhead);
        let agree = match (&keel.status, &bare) {
            (Status::Success, Bare::Returned(bytes, used)) => {
                stats.returned += 1;
                keel.return_data == *bytes && keel_wasm == *used
            }
            (Status::Trapped(k), Bare::Trapped(b, used)) => {
                *stats.trapped.entry(format!("{k:?}")).or_default() += 1;
                k == b && keel_wasm == *used
            }
            (Status::OutOfGas, Bare::OutOfFuel) => {
                stats.out_of_gas += 1;
                keel.gas_used == gas_limit
            }
            _ => false,
        };
        assert!(
            agree,
            "Keel and bare wasmi disagree on {method} (gas limit {gas_limit}, overhead \
             {overhead}):\nKeel: {:?} gas_used {} (wasm part {keel_wasm}) ret {:02x?}\n\
             bare: {bare:?}\n{}",
            keel.status, keel.gas_used, keel.return_data, generated.wat
        );
    }
}
