//! Gas calibration: wall time per unit of gas for every cost the engine has, measured through
//! the engine's public API (`keel-calibrate`; the attacks of issue 10 are in
//! [`crate::attacks`]).
//!
//! Method. Each row is a list of transactions with coefficients (`+1` for the workload, `-1`
//! for its reference: the same method with an empty body or a count of 0, or a minimal
//! module), so the row's time and gas are *differences*: the marginal cost of the thing
//! measured, with instantiation, input decoding and the loop around it cancelled. Gas comes
//! from the receipts, so every row stays right whatever the schedule prices. Every
//! transaction runs through [`Engine::simulate`] (or, for commit rows, a committed block);
//! the rows are run in interleaved rounds (every term of every row once per round) and each
//! term's time is the median over rounds. A row's `ns/gas` is its time difference over its
//! gas difference; its ratio is that over the `ns/gas` of the arithmetic loop
//! ([`keel_contracts::hostile::arith_loop`]) measured in the same run.

use std::fmt::Write as _;
use std::time::Instant;

use keel_contracts::hostile::{
    self, ABI, Helper, Ins, Instruction as I, Kernel, L_EXTRA, L_N, L_P1, L_P2, L_P3, L_T, L_X,
    SCRATCH, TYPE_VOID, input, mem,
};
use keel_engine::{
    Action, Address, BlockContext, BlockOutcome, Engine, EngineConfig, Hash, Receipt, Status,
    Transaction,
};
use keel_state::StateStore;
use wasm_encoder::{HeapType, ValType};

use crate::account;

/// Gas limit of every calibration transaction: far above anything measured.
pub const GAS: u64 = 1_000_000_000_000;

/// One timed execution: wall time, gas and how it ended.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Wall time, nanoseconds.
    pub ns: f64,
    /// Gas used (from the receipt).
    pub gas: u64,
    /// The receipt's status, short.
    pub status: String,
}

/// Short text of a receipt status.
pub fn status_text(r: &Receipt) -> String {
    match &r.status {
        Status::Success => "ok".into(),
        Status::Reverted(m) => format!("reverted({} B)", m.len()),
        other => format!("{other:?}"),
    }
}

/// An engine, a store, and one account that sends everything.
pub struct Harness<S> {
    /// The engine (swap it to change the module cache).
    pub engine: Engine,
    /// The state.
    pub store: S,
    /// The sending account.
    pub sender: Address,
    /// Its next nonce.
    pub nonce: u64,
    /// The next block height.
    pub height: u64,
    /// The salt of the last instantiation (salts are 1, 2, ... as little-endian `u64`).
    pub salt: u64,
}

impl<S: StateStore> Harness<S> {
    /// A harness over `store` with an engine for `config`.
    pub fn new(config: EngineConfig, store: S) -> Self {
        Self {
            engine: Engine::new(config),
            store,
            sender: account(7),
            nonce: 0,
            height: 1,
            salt: 0,
        }
    }

    /// The context of the next block.
    pub fn ctx(&self) -> BlockContext {
        BlockContext {
            height: self.height,
            timestamp: self.height * 1_000,
        }
    }

    /// A transaction with the next nonce (not consumed).
    pub fn tx(&self, action: Action) -> Transaction {
        Transaction {
            sender: self.sender,
            nonce: self.nonce,
            gas_limit: GAS,
            action,
        }
    }

    /// A call transaction with the next nonce (not consumed), for [`Harness::time`].
    pub fn call(&self, contract: Address, method: &str, args: Vec<u8>) -> Transaction {
        self.tx(Action::Call {
            contract,
            method: method.into(),
            args,
        })
    }

    /// A deploy transaction with the next nonce (not consumed).
    pub fn deploy_tx(&self, code: &[u8]) -> Transaction {
        self.tx(Action::Deploy {
            code: code.to_vec(),
        })
    }

    /// Executes and commits `txs` as the next block; every non-`Invalid` receipt consumed a
    /// nonce (the caller built them with consecutive nonces).
    pub fn block(&mut self, txs: &[Transaction]) -> BlockOutcome {
        let ctx = self.ctx();
        self.height += 1;
        let out = self
            .engine
            .execute_block(&mut self.store, &ctx, txs)
            .expect("store failure");
        self.nonce += out
            .receipts
            .iter()
            .filter(|r| !matches!(r.status, Status::Invalid(_)))
            .count() as u64;
        out
    }

    /// Commits one transaction and returns its receipt.
    pub fn commit(&mut self, action: Action) -> Receipt {
        let tx = self.tx(action);
        self.block(&[tx]).receipts.remove(0)
    }

    /// Deploys `code`; panics unless it is accepted.
    pub fn deploy_code(&mut self, code: &[u8]) -> Hash {
        let r = self.commit(Action::Deploy {
            code: code.to_vec(),
        });
        assert!(r.is_success(), "deploy: {:?}", status_text(&r));
        r.return_data.try_into().expect("code hash")
    }

    /// Instantiates `code_hash` with a fresh salt.
    pub fn instantiate(&mut self, code_hash: Hash) -> Address {
        self.salt += 1;
        let r = self.commit(Action::Instantiate {
            code_hash,
            salt: self.salt.to_le_bytes().to_vec(),
            args: Vec::new(),
        });
        assert!(r.is_success(), "instantiate: {}", status_text(&r));
        r.return_data.try_into().expect("address")
    }

    /// Deploys and instantiates `code`.
    pub fn deploy(&mut self, code: &[u8]) -> Address {
        let h = self.deploy_code(code);
        self.instantiate(h)
    }

    /// Commits a call; panics unless it succeeds.
    pub fn call_ok(&mut self, contract: Address, method: &str, args: Vec<u8>) -> Receipt {
        let r = self.commit(Action::Call {
            contract,
            method: method.into(),
            args,
        });
        assert!(r.is_success(), "{method}: {}", status_text(&r));
        r
    }

    /// Runs `tx` with [`Engine::simulate`] (nothing committed) and times it.
    pub fn time(&self, tx: &Transaction) -> Sample {
        let ctx = self.ctx();
        let t = Instant::now();
        let r = self
            .engine
            .simulate(&self.store, &ctx, tx)
            .expect("store failure");
        let ns = t.elapsed().as_nanos() as f64;
        Sample {
            ns,
            gas: r.gas_used,
            status: status_text(&r),
        }
    }
}

/// A term of a row: a transaction and its coefficient.
pub type Term = (Transaction, f64);

/// A row to measure, built for a loop count `n`: its terms and how many units they amount to.
pub struct Spec {
    /// The group (operators, host, instantiation, ...).
    pub group: &'static str,
    /// The row's name.
    pub name: String,
    /// What one unit is (op, byte, call, local, ...).
    pub unit: &'static str,
    /// Builds the terms and the unit count for loop count `n`.
    pub make: Box<dyn Fn(u32) -> (Vec<Term>, f64)>,
    /// The largest `n` (1 for rows without a loop).
    pub n_max: u32,
}

impl Spec {
    /// A row.
    pub fn new(
        group: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        n_max: u32,
        make: impl Fn(u32) -> (Vec<Term>, f64) + 'static,
    ) -> Self {
        Self {
            group,
            name: name.into(),
            unit,
            make: Box::new(make),
            n_max,
        }
    }
}

/// A measured row.
#[derive(Clone, Debug)]
pub struct RowResult {
    /// Group.
    pub group: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Loop count used.
    pub n: u32,
    /// Units measured.
    pub units: f64,
    /// Marginal wall time per unit, ns.
    pub ns_per_unit: f64,
    /// Marginal gas per unit.
    pub gas_per_unit: f64,
    /// ns per gas (`None` when the marginal gas is 0 or less: the work is unpriced).
    pub ns_per_gas: Option<f64>,
    /// Status of the first (workload) term.
    pub status: String,
    /// Gas differed between rounds (it must not).
    pub gas_unstable: bool,
}

impl RowResult {
    /// The ratio to `baseline` ns/gas; infinite for unpriced work that takes time.
    pub fn ratio(&self, baseline: f64) -> f64 {
        match self.ns_per_gas {
            Some(x) => x / baseline,
            None if self.ns_per_unit > 0.0 => f64::INFINITY,
            None => 0.0,
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// How long one run should take, and how many rounds.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Target wall time of a row's main term, ms.
    pub target_ms: f64,
    /// Interleaved rounds (medians are taken over these).
    pub rounds: usize,
}

/// Runs `specs` in interleaved rounds on `h` and returns one result per spec.
pub fn measure<S: StateStore>(h: &Harness<S>, specs: &[Spec], budget: Budget) -> Vec<RowResult> {
    let target = budget.target_ms * 1e6;
    // Size each row: grow n until its main term takes about the target.
    let mut rows: Vec<(Vec<Term>, f64, u32)> = Vec::new();
    for s in specs {
        let mut n = 8u32.min(s.n_max).max(1);
        loop {
            let (terms, _) = (s.make)(n);
            let _ = h.time(&terms[0].0); // warm the module cache
            if n >= s.n_max {
                break;
            }
            // The faster of two runs, so that a burst of load does not stop the sizing early.
            let t = h.time(&terms[0].0).ns.min(h.time(&terms[0].0).ns).max(1.0);
            if t >= target / 2.0 {
                break;
            }
            let grow = (target / t).clamp(2.0, 64.0);
            n = ((f64::from(n) * grow) as u64).min(u64::from(s.n_max)) as u32;
        }
        let (terms, units) = (s.make)(n);
        rows.push((terms, units, n));
    }
    let mut times: Vec<Vec<Vec<f64>>> = rows
        .iter()
        .map(|(t, _, _)| vec![Vec::new(); t.len()])
        .collect();
    let mut gas: Vec<Vec<Option<u64>>> = rows.iter().map(|(t, _, _)| vec![None; t.len()]).collect();
    let mut unstable = vec![false; rows.len()];
    let mut status = vec![String::new(); rows.len()];
    for round in 0..budget.rounds {
        for (r, (terms, _, _)) in rows.iter().enumerate() {
            // Alternate the order of the terms between rounds.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..terms.len()).collect()
            } else {
                (0..terms.len()).rev().collect()
            };
            for i in order {
                let s = h.time(&terms[i].0);
                times[r][i].push(s.ns);
                match gas[r][i] {
                    None => gas[r][i] = Some(s.gas),
                    Some(g) if g != s.gas => unstable[r] = true,
                    _ => {}
                }
                if i == 0 {
                    status[r] = s.status;
                }
            }
        }
    }
    specs
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(r, (s, (terms, units, n)))| {
            let mut dt = 0.0;
            let mut dg = 0.0;
            for (i, (_, c)) in terms.iter().enumerate() {
                dt += c * median(&mut times[r][i]);
                dg += c * gas[r][i].unwrap_or(0) as f64;
            }
            result(s, n, units, dt, dg, status[r].clone(), unstable[r])
        })
        .collect()
}

/// A result from a time difference `dt` (ns) and gas difference `dg` over `units`.
pub fn result(
    s: &Spec,
    n: u32,
    units: f64,
    dt: f64,
    dg: f64,
    status: String,
    gas_unstable: bool,
) -> RowResult {
    let units = units.max(1e-9);
    RowResult {
        group: s.group.into(),
        name: s.name.clone(),
        unit: s.unit.into(),
        n,
        units,
        ns_per_unit: dt / units,
        gas_per_unit: dg / units,
        ns_per_gas: (dg > 0.0).then(|| dt / dg),
        status,
        gas_unstable,
    }
}

/// Formats results as a text table with each row's ratio to `baseline` ns/gas.
pub fn table(rows: &[RowResult], baseline: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<44} {:>12} {:>12} {:>10} {:>9}  unit, n, status",
        "group", "row", "ns/unit", "gas/unit", "ns/gas", "x base"
    );
    for r in rows {
        let nsg = r
            .ns_per_gas
            .map_or("unpriced".into(), |x| format!("{x:.3}"));
        let ratio = r.ratio(baseline);
        let ratio = if ratio.is_infinite() {
            "inf".into()
        } else {
            format!("{ratio:.2}")
        };
        let _ = writeln!(
            out,
            "{:<14} {:<44} {:>12.3} {:>12.3} {:>10} {:>9}  {}, n={}{}{}",
            r.group,
            r.name,
            r.ns_per_unit,
            r.gas_per_unit,
            nsg,
            ratio,
            r.unit,
            r.n,
            if r.status == "ok" {
                String::new()
            } else {
                format!(", {}", r.status)
            },
            if r.gas_unstable { ", GAS UNSTABLE" } else { "" }
        );
    }
    out
}

/// The results as a JSON array (hand-written: no serde dependency for a flat record).
pub fn json(rows: &[RowResult], baseline: f64) -> String {
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.4}")
        } else {
            "null".into()
        }
    };
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"group\":{:?},\"row\":{:?},\"unit\":{:?},\"n\":{},\"units\":{},\"ns_per_unit\":{},\"gas_per_unit\":{},\"ns_per_gas\":{},\"ratio\":{},\"status\":{:?},\"gas_unstable\":{}}}",
                r.group,
                r.name,
                r.unit,
                r.n,
                num(r.units),
                num(r.ns_per_unit),
                num(r.gas_per_unit),
                r.ns_per_gas.map_or("null".into(), num),
                num(r.ratio(baseline)),
                r.status,
                r.gas_unstable
            )
        })
        .collect();
    format!("[\n{}\n]", items.join(",\n"))
}

// ---------------------------------------------------------------- kernels

/// Memory layout of the host kernel (5 pages): keys, queries, topics, output, values.
const KEY: u32 = SCRATCH; // 1,024-byte key pattern
const QUERIES: u32 = SCRATCH + 1_024;
const TOPICS: u32 = SCRATCH + 2_048;
const OUT: u32 = SCRATCH + 4_096; // up to 128 KiB + 64
const VAL: u32 = 172_032; // 128 KiB of value bytes
/// The `storage_next` query `(Unbounded, Unbounded)`, at `QUERIES + 0`.
const Q_ALL: &[u8] = &[2, 2];
/// Offset in `QUERIES` of the query `(Included(key[..11]), Unbounded)`.
const Q_FROM_11: u32 = 16;

fn c(v: u32) -> Ins {
    I::I32Const(v as i32)
}

fn times(k: usize, body: &[Ins]) -> Vec<Ins> {
    (0..k).flat_map(|_| body.iter().cloned()).collect()
}

/// The operator kernel: one module, one looped method per operator class (and `empty`), so
/// every row and its reference share the instantiation. Returns the module and, per method,
/// how many instances of its class one iteration runs.
pub fn ops_module() -> (Vec<u8>, Vec<(&'static str, usize)>) {
    let mut k = Kernel::new(&["input"]);
    let e = k.helper(Helper::void(0, Vec::new()));
    let add = k.helper(Helper {
        params: vec![ValType::I32, ValType::I32],
        results: vec![ValType::I32],
        locals: Vec::new(),
        body: vec![I::LocalGet(0), I::LocalGet(1), I::I32Add],
    });
    k.pages = 3;
    k.table = Some((1_024, None));
    k.elements.push((Some(0), vec![e; 16]));
    k.elements.push((None, vec![e; 512]));
    k.globals = 4;
    k.data.push((None, vec![0x5a; 65_536]));
    k.extra_locals = 2;
    let e0 = L_EXTRA;
    let s = SCRATCH;
    let mut per = Vec::new();
    fn m(
        k: &mut Kernel,
        per: &mut Vec<(&'static str, usize)>,
        name: &'static str,
        count: usize,
        setup: Vec<Ins>,
        body: Vec<Ins>,
    ) {
        k.looped(name, setup, body);
        per.push((name, count));
    }
    m(&mut k, &mut per, "empty", 0, vec![], vec![]);
    m(&mut k, &mut per, "arith", 15, vec![], hostile::arith_body());
    m(
        &mut k,
        &mut per,
        "load",
        4,
        vec![],
        times(4, &[c(s), I::I32Load(mem(0)), I::LocalSet(L_T)]),
    );
    m(
        &mut k,
        &mut per,
        "load64",
        4,
        vec![],
        times(4, &[c(s), I::I64Load(mem(8)), I::LocalSet(L_X)]),
    );
    m(
        &mut k,
        &mut per,
        "store",
        4,
        vec![],
        times(4, &[c(s), I::LocalGet(L_N), I::I32Store(mem(0))]),
    );
    m(&mut k, &mut per, "call", 4, vec![], times(4, &[I::Call(e)]));
    m(
        &mut k,
        &mut per,
        "call_args",
        2,
        vec![],
        times(
            2,
            &[
                I::LocalGet(L_T),
                I::LocalGet(L_N),
                I::Call(add),
                I::LocalSet(L_T),
            ],
        ),
    );
    m(
        &mut k,
        &mut per,
        "call_indirect",
        4,
        vec![],
        times(
            4,
            &[
                c(3),
                I::CallIndirect {
                    type_index: TYPE_VOID,
                    table_index: 0,
                },
            ],
        ),
    );
    m(
        &mut k,
        &mut per,
        "div_rem",
        4,
        vec![c(7), I::LocalSet(e0)],
        vec![
            I::LocalGet(L_N),
            I::LocalGet(e0),
            I::I32DivU,
            I::LocalSet(L_T),
            I::LocalGet(L_N),
            I::LocalGet(e0),
            I::I32RemS,
            I::LocalSet(L_T),
            I::LocalGet(L_X),
            I::LocalGet(e0),
            I::I64ExtendI32U,
            I::I64DivS,
            I::LocalSet(L_X),
            I::LocalGet(L_X),
            I::I64Const(5),
            I::I64RemU,
            I::LocalSet(L_X),
        ],
    );
    let brt = vec![
        I::Block(wasm_encoder::BlockType::Empty),
        I::Block(wasm_encoder::BlockType::Empty),
        I::Block(wasm_encoder::BlockType::Empty),
        I::LocalGet(L_N),
        c(3),
        I::I32And,
        I::BrTable(vec![0, 1].into(), 2),
        I::End,
        I::End,
        I::End,
    ];
    m(&mut k, &mut per, "br_table", 2, vec![], times(2, &brt));
    m(
        &mut k,
        &mut per,
        "br_if",
        4,
        vec![],
        times(
            4,
            &[
                I::Block(wasm_encoder::BlockType::Empty),
                I::LocalGet(L_N),
                I::BrIf(0),
                I::End,
            ],
        ),
    );
    m(
        &mut k,
        &mut per,
        "select",
        4,
        vec![],
        times(
            4,
            &[
                I::LocalGet(L_T),
                I::LocalGet(L_N),
                I::LocalGet(L_T),
                I::Select,
                I::LocalSet(L_T),
            ],
        ),
    );
    m(
        &mut k,
        &mut per,
        "global",
        4,
        vec![],
        times(4, &[I::GlobalGet(1), c(1), I::I32Add, I::GlobalSet(1)]),
    );
    m(
        &mut k,
        &mut per,
        "memory_size",
        4,
        vec![],
        times(4, &[I::MemorySize(0), I::LocalSet(L_T)]),
    );
    m(
        &mut k,
        &mut per,
        "grow_fail",
        4,
        vec![],
        times(4, &[c(100), I::MemoryGrow(0), I::Drop]),
    );
    k.once(
        "grow_ok",
        vec![I::LocalGet(L_P1), I::MemoryGrow(0), I::Drop],
    );
    per.push(("grow_ok", 1));
    let copy = |dst: u32, src: u32| {
        vec![
            c(dst),
            c(src),
            I::LocalGet(L_P1),
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
        ]
    };
    m(&mut k, &mut per, "copy", 1, vec![], copy(s + 65_536, s));
    m(
        &mut k,
        &mut per,
        "fill",
        1,
        vec![],
        vec![c(s), c(7), I::LocalGet(L_P1), I::MemoryFill(0)],
    );
    m(
        &mut k,
        &mut per,
        "minit",
        1,
        vec![],
        vec![
            c(s),
            c(0),
            I::LocalGet(L_P1),
            I::MemoryInit {
                mem: 0,
                data_index: 0,
            },
        ],
    );
    m(
        &mut k,
        &mut per,
        "table_get_set",
        2,
        vec![],
        times(2, &[c(2), c(1), I::TableGet(0), I::TableSet(0)]),
    );
    m(
        &mut k,
        &mut per,
        "table_size",
        4,
        vec![],
        times(4, &[I::TableSize(0), I::LocalSet(L_T)]),
    );
    m(
        &mut k,
        &mut per,
        "table_grow_fail",
        4,
        vec![],
        times(
            4,
            &[
                I::RefNull(HeapType::FUNC),
                c(100_000),
                I::TableGrow(0),
                I::Drop,
            ],
        ),
    );
    k.once(
        "table_grow_ok",
        vec![
            I::RefNull(HeapType::FUNC),
            I::LocalGet(L_P1),
            I::TableGrow(0),
            I::Drop,
        ],
    );
    per.push(("table_grow_ok", 1));
    m(
        &mut k,
        &mut per,
        "table_fill",
        1,
        vec![],
        vec![
            c(0),
            I::RefNull(HeapType::FUNC),
            I::LocalGet(L_P1),
            I::TableFill(0),
        ],
    );
    m(
        &mut k,
        &mut per,
        "table_copy",
        1,
        vec![],
        vec![
            c(0),
            c(512),
            I::LocalGet(L_P1),
            I::TableCopy {
                src_table: 0,
                dst_table: 0,
            },
        ],
    );
    m(
        &mut k,
        &mut per,
        "table_init",
        1,
        vec![],
        vec![
            c(0),
            c(0),
            I::LocalGet(L_P1),
            I::TableInit {
                elem_index: 1,
                table: 0,
            },
        ],
    );
    k.ping();
    (k.build(), per)
}

/// The 1,024-byte key pattern: any prefix is a key; a shorter prefix sorts first.
fn key_pattern() -> Vec<u8> {
    (0..1_024u32).map(|i| (i * 7 + 16) as u8).collect()
}

/// The host kernel: imports the whole ABI; one looped method per host function.
/// Parameters: see each row. Input bytes 16..48 hold a callee address, 48.. a method name.
pub fn host_module() -> Vec<u8> {
    let names: Vec<&str> = ABI.iter().map(|(n, _, _)| *n).collect();
    let mut k = Kernel::new(&names);
    k.pages = 5;
    k.data.push((Some(KEY), key_pattern()));
    let mut q = Q_ALL.to_vec();
    q.resize(Q_FROM_11 as usize, 0);
    q.push(0); // Included
    q.push(11 << 2); // compact length 11
    q.extend_from_slice(&key_pattern()[..11]);
    q.push(2); // Unbounded
    k.data.push((Some(QUERIES), q));
    k.data.push((Some(TOPICS), vec![0x77; 128]));
    let f = |k: &Kernel, n: &str| I::Call(k.import(n));
    let p = I::LocalGet;
    let body: Vec<(&str, Vec<Ins>, Vec<Ins>)> = vec![
        ("empty", vec![], vec![]),
        (
            "input",
            vec![],
            vec![c(OUT), p(L_P1), f(&k, "input"), I::Drop],
        ),
        (
            "set_return",
            vec![],
            vec![c(VAL), p(L_P1), f(&k, "set_return")],
        ),
        (
            "get",
            vec![],
            vec![
                c(KEY),
                p(L_P2),
                c(OUT),
                p(L_P1),
                f(&k, "storage_get"),
                I::Drop,
            ],
        ),
        (
            "set",
            vec![],
            vec![
                c(KEY),
                p(L_N),
                I::I32Store(mem(0)),
                c(KEY),
                p(L_P2),
                c(VAL),
                p(L_P1),
                f(&k, "storage_set"),
            ],
        ),
        (
            "remove",
            vec![],
            vec![
                c(KEY),
                p(L_N),
                I::I32Store(mem(0)),
                c(KEY),
                p(L_P2),
                f(&k, "storage_remove"),
            ],
        ),
        (
            "has",
            vec![],
            vec![c(KEY), p(L_P2), f(&k, "storage_has"), I::Drop],
        ),
        (
            "next",
            vec![],
            vec![
                c(QUERIES),
                p(L_P3),
                I::I32Add,
                p(L_P2),
                c(OUT),
                p(L_P1),
                f(&k, "storage_next"),
                I::Drop,
            ],
        ),
        (
            "sha256",
            vec![],
            vec![c(VAL), p(L_P1), c(OUT), f(&k, "sha256")],
        ),
        (
            "blake3",
            vec![],
            vec![c(VAL), p(L_P1), c(OUT), f(&k, "blake3")],
        ),
        ("caller", vec![], vec![c(OUT), f(&k, "caller")]),
        ("self_address", vec![], vec![c(OUT), f(&k, "self_address")]),
        ("block_height", vec![], vec![f(&k, "block_height"), I::Drop]),
        (
            "block_timestamp",
            vec![],
            vec![f(&k, "block_timestamp"), I::Drop],
        ),
        ("gas_left", vec![], vec![f(&k, "gas_left"), I::Drop]),
        (
            "event",
            vec![],
            vec![c(TOPICS), p(L_P2), c(VAL), p(L_P1), f(&k, "emit_event")],
        ),
        ("log", vec![], vec![c(VAL), p(L_P1), f(&k, "debug_log")]),
        (
            "call",
            vec![],
            vec![
                c(16),
                c(48),
                p(L_P2),
                c(VAL),
                p(L_P1),
                I::I64Const(0),
                f(&k, "call"),
                I::Drop,
            ],
        ),
        (
            "call_result",
            vec![
                c(VAL),
                p(L_P3),
                I::I32Store(mem(0)),
                c(16),
                c(48),
                p(L_P2),
                c(VAL),
                c(4),
                I::I64Const(0),
                f(&k, "call"),
                I::Drop,
            ],
            vec![c(OUT), p(L_P1), f(&k, "call_result"), I::Drop],
        ),
    ];
    for (name, setup, b) in body {
        k.looped(name, setup, b);
    }
    k.once(
        "put",
        vec![c(KEY), p(L_P2), c(VAL), p(L_P1), f(&k, "storage_set")],
    );
    k.once("revert", vec![c(VAL), p(L_P1), f(&k, "revert")]);
    k.ping();
    k.build()
}

/// The callee of the host kernel's `call` rows: `ping`, and `ret` (input `n`) returning `n`
/// bytes.
pub fn callee_module() -> Vec<u8> {
    let mut k = Kernel::new(&["input", "set_return"]);
    k.pages = 3;
    let ret = k.import("set_return");
    k.once("ret", vec![c(SCRATCH), I::LocalGet(L_N), I::Call(ret)]);
    k.ping();
    k.build()
}

/// The writer of the commit rows: `write` (input `n`, `p1` = seed) writes `n` fresh 8-byte
/// keys (seed, index) with 32-byte values.
pub fn writer_module() -> Vec<u8> {
    let mut k = Kernel::new(&["input", "storage_set"]);
    let set = k.import("storage_set");
    k.looped(
        "write",
        vec![],
        vec![
            c(SCRATCH),
            I::LocalGet(L_P1),
            I::I32Store(mem(0)),
            c(SCRATCH),
            I::LocalGet(L_N),
            I::I32Store(mem(4)),
            c(SCRATCH),
            c(8),
            c(SCRATCH + 64),
            c(32),
            I::Call(set),
        ],
    );
    k.ping();
    k.build()
}

/// The smallest valid contract: memory and `ping`.
pub fn minimal_module() -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.ping();
    k.build()
}

// ---------------------------------------------------------------- row sets

/// The contracts the in-memory rows run against.
pub struct Contracts {
    /// [`hostile::arith_loop`].
    pub arith: Address,
    /// [`ops_module`], with the per-iteration counts of its methods.
    pub ops: Address,
    ops_per: Vec<(&'static str, usize)>,
    /// [`host_module`].
    pub host: Address,
    /// [`callee_module`].
    pub callee: Address,
    /// [`minimal_module`].
    pub minimal: Address,
    /// Instantiation shapes: (name, unit, units, address).
    pub shapes: Vec<(String, &'static str, f64, Address)>,
    /// `locals_call(L)` for L in [`LOCALS`] (fitted to the limits, deduplicated).
    pub locals: Vec<(u32, Address)>,
    /// [`hostile::tombstones`], its base holding [`TOMBSTONE_KEYS`] keys.
    pub tomb: Address,
}

/// Locals of the per-call zeroing rows (0 is the reference; each fitted to the limits).
pub const LOCALS: &[u32] = &[0, 1_000, 30_000];
/// Keys committed under the tombstone contract.
pub const TOMBSTONE_KEYS: u32 = 2_000;

/// Value lengths committed under the host kernel's keys: key length → value length.
pub const STORED: &[(u32, u32)] = &[(8, 8), (10, 65_536), (11, 131_072), (1_000, 8)];

/// The first size, halving from `want` (so within 2× of the limit, not necessarily the largest
/// accepted), whose module `make(size)` passes [`keel_engine::check_code`] under the default
/// configuration, with that module. Shapes and
/// attacks fit themselves to whatever upload limits the engine has (v1 or v2) this way.
pub fn fit(want: u32, make: impl Fn(u32) -> Vec<u8>) -> (u32, Vec<u8>) {
    let config = EngineConfig::default();
    let mut size = want.max(1);
    loop {
        let code = make(size);
        if size == 1 || keel_engine::check_code(&code, &config).is_ok() {
            return (size, code);
        }
        size /= 2;
    }
}

/// A table of `entries` entries and `ping`.
pub fn table_module(entries: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.table = Some((u64::from(entries), None));
    k.ping();
    k.build()
}

/// `pages` initial pages and `ping`.
pub fn pages_module(pages: u32) -> Vec<u8> {
    let mut k = Kernel::new(&[]);
    k.pages = pages;
    k.ping();
    k.build()
}

/// Module shapes of the instantiation and compile rows: (name, unit, units, module). Each is
/// the first size, halving from the wanted one, that the engine accepts ([`fit`]); a size below the
/// wanted one shows a limit at work.
pub fn shapes(quick: bool) -> Vec<(String, &'static str, f64, Vec<u8>)> {
    let s = |full: u32, q: u32| if quick { q } else { full };
    let mut v = Vec::new();
    let mut add = |label: &str, unit: &'static str, want: u32, make: fn(u32) -> Vec<u8>| {
        let (n, code) = fit(want, make);
        v.push((format!("{label} {n}"), unit, f64::from(n), code));
    };
    add(
        "exports",
        "export",
        s(50_000, 10_000),
        hostile::many_exports,
    );
    add(
        "functions",
        "function",
        s(9_000, 2_000),
        hostile::many_functions,
    );
    add("globals", "global", 256, hostile::many_globals);
    add(
        "element items",
        "item",
        s(200_000, 40_000),
        hostile::many_elements,
    );
    add("data bytes", "byte", 262_144, hostile::big_data);
    add("table entries", "entry", 4_096, table_module);
    add(
        "imports (duplicate)",
        "import",
        s(5_000, 1_000),
        hostile::duplicate_imports,
    );
    add(
        "imports (distinct, ABI)",
        "import",
        19,
        hostile::abi_imports,
    );
    let (pages, code) = fit(16, pages_module);
    v.push((
        format!("memory pages {pages} (vs 1)"),
        "page",
        f64::from(pages.saturating_sub(1).max(1)),
        code,
    ));
    v
}

/// Deploys everything the in-memory rows need on `h`.
pub fn setup<S: StateStore>(h: &mut Harness<S>, quick: bool) -> Contracts {
    let arith = h.deploy(&hostile::arith_loop());
    let (ops_code, ops_per) = ops_module();
    let ops = h.deploy(&ops_code);
    let host = h.deploy(&host_module());
    let callee = h.deploy(&callee_module());
    let minimal = h.deploy(&minimal_module());
    for (klen, vlen) in STORED {
        h.call_ok(host, "put", input(0, *vlen, *klen, 0));
    }
    let shapes = shapes(quick)
        .into_iter()
        .map(|(name, unit, units, code)| (name, unit, units, h.deploy(&code)))
        .collect();
    let mut locals: Vec<(u32, Address)> = Vec::new();
    for want in LOCALS {
        let (l, code) = fit(*want, hostile::locals_call);
        let l = if *want == 0 { 0 } else { l };
        if locals.iter().all(|(x, _)| *x != l) {
            locals.push((l, h.deploy(&code)));
        }
    }
    let tomb = h.deploy(&hostile::tombstones());
    h.call_ok(tomb, "fill", input(TOMBSTONE_KEYS, 0, 0, 0));
    Contracts {
        arith,
        ops,
        ops_per,
        host,
        callee,
        minimal,
        shapes,
        locals,
        tomb,
    }
}

type Mk = Box<dyn Fn(u32) -> Transaction>;

/// A call of `method` on `contract` with input `(n, p1, p2, p3)` plus `tail`, for any `n`.
fn caller<S: StateStore>(
    h: &Harness<S>,
    contract: Address,
    method: &'static str,
    p: [u32; 3],
    tail: Vec<u8>,
) -> Mk {
    let base = h.call(contract, method, Vec::new());
    Box::new(move |n| {
        let mut tx = base.clone();
        if let Action::Call { args, .. } = &mut tx.action {
            let mut a = input(n, p[0], p[1], p[2]);
            a.extend_from_slice(&tail);
            *args = a;
        }
        tx
    })
}

/// The baseline row: the whole arithmetic loop (`run(n)` minus `run(0)`).
pub fn baseline_spec<S: StateStore>(h: &Harness<S>, arith: Address) -> Spec {
    let run = caller(h, arith, "run", [0; 3], vec![]);
    Spec::new(
        "baseline",
        "arith_loop (whole loop)",
        "iteration",
        5_000_000,
        move |n| (vec![(run(n), 1.0), (run(0), -1.0)], f64::from(n)),
    )
}

/// Operator rows.
pub fn operator_specs<S: StateStore>(h: &Harness<S>, c: &Contracts) -> Vec<Spec> {
    let mut v = Vec::new();
    let empty = |h: &Harness<S>| caller(h, c.ops, "empty", [0; 3], vec![]);
    let simple = |name: &'static str, p1: u32| {
        let per = c
            .ops_per
            .iter()
            .find(|(m, _)| *m == name)
            .map_or(1, |x| x.1);
        let run = caller(h, c.ops, name, [p1, 0, 0], vec![]);
        let e = empty(h);
        Spec::new("operators", name, "op", 2_000_000, move |n| {
            (vec![(run(n), 1.0), (e(n), -1.0)], f64::from(n) * per as f64)
        })
    };
    for name in [
        "arith",
        "load",
        "load64",
        "store",
        "call",
        "call_args",
        "call_indirect",
        "div_rem",
        "br_table",
        "br_if",
        "select",
        "global",
        "memory_size",
        "grow_fail",
        "table_get_set",
        "table_size",
        "table_grow_fail",
    ] {
        v.push(simple(name, 0));
    }
    for (name, p1, label) in [
        ("copy", 1, "memory.copy 1 byte"),
        ("fill", 1, "memory.fill 1 byte"),
        ("minit", 1, "memory.init 1 byte"),
        ("table_fill", 1, "table.fill 1 entry"),
        ("table_copy", 1, "table.copy 1 entry"),
        ("table_init", 1, "table.init 1 entry"),
    ] {
        let run = caller(h, c.ops, name, [p1, 0, 0], vec![]);
        let e = empty(h);
        v.push(Spec::new("operators", label, "op", 2_000_000, move |n| {
            (vec![(run(n), 1.0), (e(n), -1.0)], f64::from(n))
        }));
    }
    for (name, big, label, unit) in [
        ("copy", 65_536, "memory.copy per byte (64 KiB)", "byte"),
        ("fill", 65_536, "memory.fill per byte (64 KiB)", "byte"),
        ("minit", 65_536, "memory.init per byte (64 KiB)", "byte"),
        ("table_fill", 1_024, "table.fill per entry (1,024)", "entry"),
        ("table_copy", 512, "table.copy per entry (512)", "entry"),
        ("table_init", 512, "table.init per entry (512)", "entry"),
    ] {
        let a = caller(h, c.ops, name, [big, 0, 0], vec![]);
        let b = caller(h, c.ops, name, [0, 0, 0], vec![]);
        v.push(Spec::new("operators", label, unit, 100_000, move |n| {
            (
                vec![(a(n), 1.0), (b(n), -1.0)],
                f64::from(n) * f64::from(big),
            )
        }));
    }
    for (name, big, label, unit) in [
        ("grow_ok", 13, "memory.grow success per page (13)", "page"),
        (
            "table_grow_ok",
            3_000,
            "table.grow success per entry (3,000)",
            "entry",
        ),
    ] {
        let a = caller(h, c.ops, name, [big, 0, 0], vec![]);
        let b = caller(h, c.ops, name, [0, 0, 0], vec![]);
        v.push(Spec::new("operators", label, unit, 1, move |_| {
            (vec![(a(1), 1.0), (b(1), -1.0)], f64::from(big))
        }));
    }
    v
}

/// Host-function rows.
#[allow(clippy::type_complexity)]
pub fn host_specs<S: StateStore>(h: &Harness<S>, c: &Contracts) -> Vec<Spec> {
    let mut v = Vec::new();
    let callee_tail = {
        let mut t = c.callee.to_vec();
        t.extend_from_slice(b"ping");
        t
    };
    let ret_tail = {
        let mut t = c.callee.to_vec();
        t.extend_from_slice(b"ret");
        t
    };
    let missing_tail = {
        let mut t = c.callee.to_vec();
        t.extend_from_slice(b"nope");
        t
    };
    let nobody_tail = {
        let mut t = account(999_999).to_vec();
        t.extend_from_slice(b"ping");
        t
    };
    // Base rows: method with params minus `empty`.
    let base: Vec<(&str, &'static str, [u32; 3], Vec<u8>, u32)> = vec![
        ("input (0 bytes)", "input", [0, 0, 0], vec![], 1_000_000),
        (
            "set_return (0 bytes)",
            "set_return",
            [0, 0, 0],
            vec![],
            1_000_000,
        ),
        (
            "storage_get hit (8 B key, 8 B value)",
            "get",
            [8, 8, 0],
            vec![],
            500_000,
        ),
        (
            "storage_get miss (9 B key)",
            "get",
            [8, 9, 0],
            vec![],
            500_000,
        ),
        (
            "storage_set new key (8 B key, 8 B value)",
            "set",
            [8, 8, 0],
            vec![],
            200_000,
        ),
        (
            "storage_remove (8 B key)",
            "remove",
            [0, 8, 0],
            vec![],
            200_000,
        ),
        (
            "storage_has hit (8 B value)",
            "has",
            [0, 8, 0],
            vec![],
            500_000,
        ),
        ("storage_has miss", "has", [0, 9, 0], vec![], 500_000),
        (
            "storage_next (first of 4 entries)",
            "next",
            [64, 2, 0],
            vec![],
            200_000,
        ),
        ("sha256 (0 bytes)", "sha256", [0, 0, 0], vec![], 500_000),
        ("blake3 (0 bytes)", "blake3", [0, 0, 0], vec![], 500_000),
        ("caller", "caller", [0; 3], vec![], 1_000_000),
        ("self_address", "self_address", [0; 3], vec![], 1_000_000),
        ("block_height", "block_height", [0; 3], vec![], 1_000_000),
        (
            "block_timestamp",
            "block_timestamp",
            [0; 3],
            vec![],
            1_000_000,
        ),
        ("gas_left", "gas_left", [0; 3], vec![], 1_000_000),
        (
            "emit_event (0 topics, 0 bytes)",
            "event",
            [0, 0, 0],
            vec![],
            120,
        ),
        (
            "debug_log (0 bytes, not recorded)",
            "log",
            [0, 0, 0],
            vec![],
            1_000_000,
        ),
        (
            "call (nested ping, cached)",
            "call",
            [0, 4, 0],
            callee_tail.clone(),
            100_000,
        ),
        (
            "call refused: unknown contract",
            "call",
            [0, 4, 0],
            nobody_tail,
            100_000,
        ),
        (
            "call refused: unknown method",
            "call",
            [0, 4, 0],
            missing_tail,
            100_000,
        ),
    ];
    for (label, method, p, tail, n_max) in base {
        let a = caller(h, c.host, method, p, tail.clone());
        let e = caller(h, c.host, "empty", [0; 3], tail);
        v.push(Spec::new("host", label, "call", n_max, move |n| {
            (vec![(a(n), 1.0), (e(n), -1.0)], f64::from(n))
        }));
    }
    // Per-byte rows: the same method at two sizes.
    let per: Vec<(&str, &'static str, [u32; 3], [u32; 3], f64, Vec<u8>, u32)> = vec![
        (
            "input per byte (16 KiB)",
            "input",
            [16_384, 0, 0],
            [0, 0, 0],
            16_384.0,
            vec![0; 16_384],
            100_000,
        ),
        (
            "set_return per byte (64 KiB)",
            "set_return",
            [65_536, 0, 0],
            [0, 0, 0],
            65_536.0,
            vec![],
            100_000,
        ),
        (
            "storage_get per value byte (64 KiB)",
            "get",
            [65_536, 10, 0],
            [65_536, 8, 0],
            65_528.0,
            vec![],
            100_000,
        ),
        (
            "storage_get per key byte (1000 B, hit)",
            "get",
            [8, 1_000, 0],
            [8, 8, 0],
            992.0,
            vec![],
            100_000,
        ),
        (
            "storage_set per value byte (64 KiB)",
            "set",
            [65_536, 8, 0],
            [8, 8, 0],
            65_528.0,
            vec![],
            20_000,
        ),
        (
            "storage_set per key byte (1000 B)",
            "set",
            [8, 1_000, 0],
            [8, 8, 0],
            992.0,
            vec![],
            100_000,
        ),
        (
            "storage_has per value byte (128 KiB)",
            "has",
            [0, 11, 0],
            [0, 8, 0],
            131_064.0,
            vec![],
            100_000,
        ),
        (
            "storage_next per entry byte (128 KiB)",
            "next",
            [131_200, 14, Q_FROM_11],
            [131_200, 2, 0],
            // (key11, 128 KiB value) encodes to 131,088 bytes, (key8, 8 B value) to 18.
            131_070.0,
            vec![],
            100_000,
        ),
        (
            "sha256 per byte (64 KiB)",
            "sha256",
            [65_536, 0, 0],
            [0, 0, 0],
            65_536.0,
            vec![],
            100_000,
        ),
        (
            "blake3 per byte (64 KiB)",
            "blake3",
            [65_536, 0, 0],
            [0, 0, 0],
            65_536.0,
            vec![],
            100_000,
        ),
        (
            "emit_event per topic (4)",
            "event",
            [0, 128, 0],
            [0, 0, 0],
            4.0,
            vec![],
            120,
        ),
        (
            "emit_event per data byte (8 KiB)",
            "event",
            [8_192, 0, 0],
            [0, 0, 0],
            8_192.0,
            vec![],
            120,
        ),
        (
            "debug_log per byte (4 KiB)",
            "log",
            [4_096, 0, 0],
            [0, 0, 0],
            4_096.0,
            vec![],
            1_000_000,
        ),
        (
            "call per input byte (64 KiB)",
            "call",
            [65_536, 4, 0],
            [0, 4, 0],
            65_536.0,
            callee_tail.clone(),
            100_000,
        ),
    ];
    for (label, method, pa, pb, units, tail, n_max) in per {
        let a = caller(h, c.host, method, pa, tail.clone());
        let b = caller(h, c.host, method, pb, tail);
        v.push(Spec::new("host", label, "byte", n_max, move |n| {
            (vec![(a(n), 1.0), (b(n), -1.0)], f64::from(n) * units)
        }));
    }
    // call_result: setup makes one call; subtract the method at n = 0.
    for (label, ret, cap, unit_bytes) in [
        ("call_result (0 bytes)", 0u32, 0u32, None),
        (
            "call_result per byte (64 KiB)",
            65_536,
            65_536,
            Some(65_536.0),
        ),
    ] {
        let a = caller(h, c.host, "call_result", [cap, 3, ret], ret_tail.clone());
        let e = caller(h, c.host, "empty", [0; 3], ret_tail.clone());
        let z = caller(h, c.host, "call_result", [0, 3, 0], ret_tail.clone());
        match unit_bytes {
            None => v.push(Spec::new("host", label, "call", 1_000_000, move |n| {
                (
                    vec![(a(n), 1.0), (a(0), -1.0), (e(n), -1.0), (e(0), 1.0)],
                    f64::from(n),
                )
            })),
            Some(b) => v.push(Spec::new("host", label, "byte", 100_000, move |n| {
                (
                    vec![(a(n), 1.0), (a(0), -1.0), (z(n), -1.0), (z(0), 1.0)],
                    f64::from(n) * b,
                )
            })),
        }
    }
    let a = caller(h, c.host, "revert", [131_072, 0, 0], vec![]);
    let b = caller(h, c.host, "revert", [0, 0, 0], vec![]);
    v.push(Spec::new(
        "host",
        "revert per byte (128 KiB)",
        "byte",
        1,
        move |_| (vec![(a(0), 1.0), (b(0), -1.0)], 131_072.0),
    ));
    v
}

/// Instantiation rows: `ping` on each shape minus `ping` on the minimal contract (modules
/// cached).
pub fn instantiation_specs<S: StateStore>(h: &Harness<S>, c: &Contracts) -> Vec<Spec> {
    c.shapes
        .iter()
        .map(|(name, unit, units, addr)| {
            let a = h.call(*addr, "ping", vec![]);
            let b = h.call(c.minimal, "ping", vec![]);
            let units = *units;
            Spec::new("instantiate", name.clone(), unit, 1, move |_| {
                (vec![(a.clone(), 1.0), (b.clone(), -1.0)], units)
            })
        })
        .collect()
}

/// Compile rows: `Deploy` of each shape minus `Deploy` of the minimal module. Run them on a
/// harness whose engine has no module cache (`module_cache_capacity: 0`) and whose state
/// holds none of these modules, so that every Deploy compiles.
pub fn compile_specs<S: StateStore>(h: &Harness<S>, quick: bool) -> Vec<Spec> {
    let q = |full: u32, small: u32| if quick { small } else { full };
    let minimal = minimal_module();
    let mut list: Vec<(String, &'static str, f64, Vec<u8>)> = Vec::new();
    let pad = hostile::padded(500_000);
    list.push((
        "bytes (padded 500 KB)".into(),
        "byte",
        (pad.len() - minimal.len()) as f64,
        pad,
    ));
    let (l, _) = fit(30_000, |l| hostile::locals_bomb(2, l));
    let (f, bomb) = fit(q(400, 100), |f| hostile::locals_bomb(f.max(2), l));
    let f = f.max(2);
    list.push((
        format!("locals ({f} fns x {l})"),
        "local",
        f64::from(f - 1) * f64::from(l),
        bomb,
    ));
    let (d, code) = fit(q(50_000, 10_000), hostile::deep_nesting);
    list.push((format!("nesting depth {d}"), "block", f64::from(d), code));
    let (t, code) = fit(q(100_000, 20_000), hostile::big_br_table);
    list.push((
        format!("br_table targets {t}"),
        "target",
        f64::from(t),
        code,
    ));
    for (name, unit, units, code) in shapes(quick) {
        list.push((name, unit, units, code));
    }
    let b = h.deploy_tx(&minimal);
    list.into_iter()
        .map(|(name, unit, units, code)| {
            let a = h.deploy_tx(&code);
            let b = b.clone();
            Spec::new("compile", name, unit, 1, move |_| {
                (vec![(a.clone(), 1.0), (b.clone(), -1.0)], units)
            })
        })
        .collect()
}

/// Per-call locals zeroing and `storage_next` per skipped tombstone.
pub fn locals_tombstone_specs<S: StateStore>(h: &Harness<S>, c: &Contracts) -> Vec<Spec> {
    let mut v = Vec::new();
    let zero = c.locals[0].1;
    for (l, addr) in c.locals.iter().skip(1) {
        let a = caller(h, *addr, "run", [0; 3], vec![]);
        let b = caller(h, zero, "run", [0; 3], vec![]);
        let l = *l;
        v.push(Spec::new(
            "locals",
            format!("call zeroing per local ({l} locals)"),
            "local",
            1_000_000,
            move |n| (vec![(a(n), 1.0), (b(n), -1.0)], f64::from(n) * f64::from(l)),
        ));
    }
    let t = TOMBSTONE_KEYS;
    let a = caller(h, c.tomb, "remove_scan", [t, 0, 0], vec![]);
    v.push(Spec::new(
        "tombstones",
        format!("storage_next per skipped tombstone ({t})"),
        "tombstone",
        10_000,
        move |n| (vec![(a(n), 1.0), (a(0), -1.0)], f64::from(n) * f64::from(t)),
    ));
    let s = caller(h, c.tomb, "scan", [0; 3], vec![]);
    v.push(Spec::new(
        "tombstones",
        format!("storage_next, no tombstones ({t} keys)"),
        "call",
        1_000_000,
        move |n| (vec![(s(n), 1.0), (s(0), -1.0)], f64::from(n)),
    ));
    v
}

/// The ns/gas of the baseline row.
pub fn baseline_of(rows: &[RowResult]) -> f64 {
    rows.iter()
        .find(|r| r.group == "baseline")
        .and_then(|r| r.ns_per_gas)
        .unwrap_or(f64::NAN)
}

/// Commits filler keys `start..end` (`keel::filler_key`, 32-byte values) in chunks.
pub fn fill_range<S: StateStore>(store: &mut S, start: u64, end: u64, chunk: u64) {
    let mut i = start;
    while i < end {
        let stop = (i + chunk).min(end);
        let mut cs = keel_state::ChangeSet::new();
        for k in i..stop {
            cs.put(crate::keel::filler_key(k), crate::keel::filler_value(k, 0));
        }
        store.commit(&cs).expect("fill commit");
        i = stop;
    }
}

/// Commit rows: blocks writing `writes` fresh keys minus blocks writing none, on `h` (whose
/// store already holds the state to measure at). Interleaved over `rounds`; each block is
/// executed and committed. Returns the row.
pub fn commit_row<S: StateStore>(
    h: &mut Harness<S>,
    label: String,
    writes: u32,
    rounds: usize,
) -> RowResult {
    let writer = h.deploy(&writer_module());
    let mut ta = Vec::new();
    let mut tb = Vec::new();
    let (mut ga, mut gb) = (0u64, 0u64);
    let mut status = String::new();
    for round in 0..rounds + 1 {
        let one = |h: &mut Harness<S>, n: u32| {
            let seed = h.height as u32;
            let tx = h.call(writer, "write", input(n, seed, 0, 0));
            let t = Instant::now();
            let out = h.block(&[tx]);
            (
                t.elapsed().as_nanos() as f64,
                out.receipts[0].gas_used,
                status_text(&out.receipts[0]),
            )
        };
        let (a, b) = if round % 2 == 0 {
            let a = one(h, writes);
            (a, one(h, 0))
        } else {
            let b = one(h, 0);
            (one(h, writes), b)
        };
        if round == 0 {
            continue; // warm-up
        }
        ta.push(a.0);
        tb.push(b.0);
        ga = a.1;
        gb = b.1;
        status = a.2;
    }
    let spec = Spec::new("commit", label, "write", 1, |_| (Vec::new(), 0.0));
    let dt = median(&mut ta) - median(&mut tb);
    result(
        &spec,
        writes,
        f64::from(writes),
        dt,
        ga as f64 - gb as f64,
        status,
        false,
    )
}
