//! Gas bounds work: regression tests for every attack of the gas audit (issue 10), each
//! asserting the *structural* bound that closes it (how many compiles, base queries or reads a
//! transaction causes; that the gas grows with the work) rather than a timing. The wall-time
//! ratios live in the adversarial bench (`benches/`) and BENCHMARKS.md, "Gas vs time".
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::cell::Cell;
use std::ops::Bound;

use common::*;
use keel_engine::{
    Action, Engine, EngineConfig, GasSchedule, InvalidReason, Problem, Status, Transaction,
    check_code,
};
use keel_state::{ChangeSet, Hash, MemStore, Proof, StateError, StateRead, StateStore, Version};

/// A store that counts what the engine asks of it.
struct Counting {
    inner: MemStore,
    gets: Cell<u64>,
    nexts: Cell<u64>,
}

impl Counting {
    fn new(inner: MemStore) -> Self {
        Self {
            inner,
            gets: Cell::new(0),
            nexts: Cell::new(0),
        }
    }
    fn reset(&self) -> (u64, u64) {
        (self.gets.replace(0), self.nexts.replace(0))
    }
}

impl StateRead for Counting {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key)
    }
    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        self.nexts.set(self.nexts.get() + 1);
        self.inner.next_entry(lower, upper)
    }
}

impl StateStore for Counting {
    fn version(&self) -> Version {
        self.inner.version()
    }
    fn root(&self) -> Hash {
        self.inner.root()
    }
    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        self.inner.commit(changes)
    }
    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        self.inner.prove(key, version)
    }
}

fn module(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {body})")).unwrap()
}

/// A contract with method `ping` and `extra` more module items (already formatted).
fn ping_with(extra: &str) -> Vec<u8> {
    module(&format!(
        r#"(memory (export "memory") 1) (func $ping (export "ping")) {extra}"#
    ))
}

fn gas_of(c: &mut Chain, code: Vec<u8>, method: &str) -> u64 {
    let hash = c.upload(code);
    let a = c.instantiate(hash, b"", vec![]);
    let r = c.call(ALICE, a, method, vec![]);
    assert_eq!(r.status, Status::Success, "{r:?}");
    r.gas_used
}

/// A function of `terms` additions of constants (about 9 bytes each), distinct by `seed`.
fn arith_func(seed: u32, terms: usize) -> String {
    let mut body = format!("(i32.const {seed})");
    for t in 0..terms {
        body = format!("(i32.add {body} (i32.const {}))", seed ^ (t as u32 * 7919));
    }
    format!("(func (result i32) {body})")
}

fn rejected(code: &[u8]) -> Vec<Problem> {
    check_code(code, &EngineConfig::default())
        .unwrap_err()
        .problems
}

#[test]
fn invalid_transactions_compile_nothing_and_read_at_most_three_keys() {
    let mut c = Chain::new();
    // A large module, so that a compile would be unmistakable.
    let funcs: String = (0..2_000).map(|i| arith_func(i, 12)).collect();
    let big = ping_with(&format!(r#"(func (export "init")) {funcs}"#));
    let hash = c.upload(big);
    let contract = c.instantiate(hash, b"used", vec![]);

    // A fresh engine, as after a node restart: its caches are empty.
    let engine = Engine::default();
    let store = Counting::new(c.store.clone());
    let tx = |action| Transaction {
        sender: ALICE,
        nonce: c.nonces[&ALICE],
        gas_limit: GAS,
        action,
    };
    let call = |method: &str| Action::Call {
        contract,
        method: method.into(),
        args: vec![],
    };
    let cases = [
        (call("init"), InvalidReason::UnknownMethod),
        (call("keel_reentrant"), InvalidReason::UnknownMethod),
        (call("no_such_method"), InvalidReason::UnknownMethod),
        (
            Action::Call {
                contract: [0x77; 32],
                method: "ping".into(),
                args: vec![],
            },
            InvalidReason::UnknownContract,
        ),
        (
            Action::Instantiate {
                code_hash: hash,
                salt: b"used".to_vec(),
                args: vec![],
            },
            InvalidReason::AddressInUse,
        ),
        (
            Action::Instantiate {
                code_hash: [0x55; 32],
                salt: vec![],
                args: vec![],
            },
            InvalidReason::UnknownCode,
        ),
    ];
    for (action, reason) in cases {
        store.reset();
        let r = engine.simulate(&store, &c.ctx, &tx(action)).unwrap();
        assert_eq!(r.status, Status::Invalid(reason.clone()));
        assert_eq!(r.gas_used, 0);
        let (gets, nexts) = store.reset();
        assert!(gets <= 3, "{reason:?} read {gets} keys");
        assert_eq!(nexts, 0);
    }
    let mut bad_nonce = tx(call("ping"));
    bad_nonce.nonce += 5;
    let r = engine.simulate(&store, &c.ctx, &bad_nonce).unwrap();
    assert!(matches!(
        r.status,
        Status::Invalid(InvalidReason::BadNonce { .. })
    ));
    assert_eq!(store.reset().0, 1);
    assert_eq!(
        engine.stats().compiles,
        0,
        "an Invalid transaction compiled"
    );
    assert_eq!(engine.stats().cached_modules, 0);
}

#[test]
fn every_module_compiles_at_most_once_per_engine_whatever_the_access_pattern() {
    let mut c = Chain::new();
    let n = 40;
    let contracts: Vec<_> = (0..n)
        .map(|i| {
            let code = ping_with(&format!("(global i32 (i32.const {i}))"));
            let hash = c.upload(code);
            c.instantiate(hash, b"", vec![])
        })
        .collect();
    let proxy = c.deploy("proxy", vec![]);
    // A fresh engine over the same state: round-robin top-level and nested calls, three times.
    let mut fresh = Chain::with_config(EngineConfig::default());
    fresh.store = c.store.clone();
    fresh.nonces = c.nonces.clone();
    for _ in 0..3 {
        for a in &contracts {
            let r = fresh.call(ALICE, *a, "ping", vec![]);
            assert_eq!(r.status, Status::Success);
            let mut input = a.to_vec();
            input.extend_from_slice(b"ping");
            let r = fresh.call(ALICE, proxy, "proxy", input);
            assert_eq!(r.status, Status::Success);
            assert_eq!(&r.return_data[..4], &0i32.to_le_bytes());
        }
    }
    let stats = fresh.engine.stats();
    assert_eq!(stats.compiles, n as u64 + 1, "{stats:?}");
    // Deploys compile into the scratch engine (the check) and into the pool (kept live); the
    // calls after them compile nothing.
    let before = c.engine.stats().compiles;
    for a in &contracts {
        c.call(ALICE, *a, "ping", vec![]);
    }
    assert_eq!(c.engine.stats().compiles, before);
}

#[test]
fn a_refused_nested_call_compiles_nothing() {
    let mut c = Chain::new();
    let target = c.deploy("token", 1_000u64.to_le_bytes().to_vec());
    let proxy = c.deploy("proxy", vec![]);
    let mut fresh = Chain::with_config(EngineConfig::default());
    fresh.store = c.store.clone();
    fresh.nonces = c.nonces.clone();
    let mut input = target.to_vec();
    input.extend_from_slice(b"no_such_method");
    let r = fresh.call(ALICE, proxy, "proxy", input);
    assert_eq!(r.status, Status::Success);
    assert_eq!(&r.return_data[..4], &3i32.to_le_bytes(), "refused");
    // Only the proxy itself was compiled.
    assert_eq!(fresh.engine.stats().compiles, 1);
}

#[test]
fn locals_are_limited_at_upload_and_priced_at_deploy_and_on_every_call() {
    let limits = keel_engine::Limits::default();
    let too_many = ping_with(&format!(
        "(func (local {}))",
        "i32 ".repeat(limits.max_function_locals as usize + 1)
    ));
    assert!(rejected(&too_many).iter().any(
        |p| matches!(p, Problem::TooMany { what, .. } if what.starts_with("locals in function"))
    ));
    let per_fn = limits.max_function_locals as usize;
    let fns = limits.max_locals as usize / per_fn + 1;
    let bomb = ping_with(&format!("(func (local {}))", "i32 ".repeat(per_fn)).repeat(fns));
    assert!(
        rejected(&bomb).iter().any(
            |p| matches!(p, Problem::TooMany { what, .. } if what == "locals in all functions")
        )
    );

    // Deploy pays per declared local.
    let g = GasSchedule::default();
    let mut c = Chain::new();
    let deploy_gas = |c: &mut Chain, locals: usize| {
        let code = ping_with(&format!("(func (local {}))", "i64 ".repeat(locals)));
        let len = code.len() as u64;
        let r = c.run(ALICE, GAS * 10, Action::Deploy { code });
        assert_eq!(r.status, Status::Success);
        r.gas_used - len * (g.tx_byte + g.deploy_byte)
    };
    assert_eq!(
        deploy_gas(&mut c, 1_000) - deploy_gas(&mut c, 0),
        1_000 * g.deploy_local
    );

    // Every call pays for the callee's locals: `locals / locals_per_gas` at `op_nop`.
    let caller = |locals: usize| {
        module(&format!(
            r#"(memory (export "memory") 1)
               (func $f (local {}))
               (func (export "run") (local $i i32)
                 (loop $l
                   (call $f)
                   (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))"#,
            "i32 ".repeat(locals)
        ))
    };
    let with = gas_of(&mut c, caller(1_000), "run");
    let without = gas_of(&mut c, caller(0), "run");
    assert_eq!(
        with - without,
        100 * (1_000 / u64::from(g.locals_per_gas)) * u64::from(g.op_nop)
    );
}

/// `fill(n)` writes keys 0..n (4-byte little-endian), `remove(n)` deletes them, `next()` does
/// one `storage_next` over the whole namespace and returns its result (i64 LE).
fn iterator_contract() -> Vec<u8> {
    module(
        r#"(import "keel" "input" (func $input (param i32 i32) (result i32)))
           (import "keel" "set_return" (func $ret (param i32 i32)))
           (import "keel" "storage_set" (func $set (param i32 i32 i32 i32)))
           (import "keel" "storage_remove" (func $remove (param i32 i32)))
           (import "keel" "storage_next" (func $next (param i32 i32 i32 i32) (result i64)))
           (memory (export "memory") 1)
           (data (i32.const 16) "\02\02")
           (func $n (result i32) (drop (call $input (i32.const 0) (i32.const 4))) (i32.load (i32.const 0)))
           (func (export "fill") (local $i i32) (local $n i32)
             (local.set $n (call $n))
             (block $done (loop $l
               (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
               (i32.store (i32.const 8) (local.get $i))
               (call $set (i32.const 8) (i32.const 4) (i32.const 8) (i32.const 4))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br $l))))
           (func (export "remove") (local $i i32) (local $n i32)
             (local.set $n (call $n))
             (block $done (loop $l
               (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
               (i32.store (i32.const 8) (local.get $i))
               (call $remove (i32.const 8) (i32.const 4))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br $l))))
           (func (export "next")
             (i64.store (i32.const 32) (call $next (i32.const 16) (i32.const 2) (i32.const 64) (i32.const 64)))
             (call $ret (i32.const 32) (i32.const 8)))"#,
    )
}

#[test]
fn storage_next_pays_for_every_entry_it_skips_and_queries_the_base_once_per_hidden_entry() {
    let g = GasSchedule::default();
    let run = |n: u32| {
        let mut c = Chain::new();
        let hash = c.upload(iterator_contract());
        let a = c.instantiate(hash, b"", vec![]);
        c.call(ALICE, a, "fill", n.to_le_bytes().to_vec());
        // One block: delete everything, then iterate: every committed entry is hidden by a
        // tombstone of the same block.
        let remove = c.make_tx(
            ALICE,
            GAS,
            Action::Call {
                contract: a,
                method: "remove".into(),
                args: n.to_le_bytes().to_vec(),
            },
        );
        let mut next = remove.clone();
        next.nonce += 1;
        next.action = Action::Call {
            contract: a,
            method: "next".into(),
            args: vec![],
        };
        let mut again = Counting::new(c.store.clone());
        let out = c
            .engine
            .execute_block(&mut again, &c.ctx, &[remove, next])
            .unwrap();
        assert_eq!(out.receipts[0].status, Status::Success);
        let r = &out.receipts[1];
        assert_eq!(r.status, Status::Success, "{r:?}");
        assert_eq!(r.return_data, (-1i64).to_le_bytes());
        (r.gas_used, again.nexts.get())
    };
    let (gas_10, nexts_10) = run(10);
    let (gas_200, nexts_200) = run(200);
    // The base is asked once, then once after each hidden entry.
    assert_eq!(nexts_10, 1 + 10);
    assert_eq!(nexts_200, 1 + 200);
    // Each hidden entry costs a skip plus a whole read of its key (37 bytes with the
    // namespace) and value (4 bytes).
    let per_hidden = g.storage_skip + g.storage_read_base + (37 + 4) * g.storage_read_byte;
    assert_eq!(gas_200 - gas_10, 190 * per_hidden);
}

#[test]
fn storage_next_over_tombstones_that_hide_nothing_queries_the_base_once() {
    let g = GasSchedule::default();
    let mut c = Chain::new();
    let hash = c.upload(iterator_contract());
    let a = c.instantiate(hash, b"", vec![]);
    let tx = |nonce: u64, method: &str, n: u32| Transaction {
        sender: ALICE,
        nonce,
        gas_limit: GAS * 10,
        action: Action::Call {
            contract: a,
            method: method.into(),
            args: n.to_le_bytes().to_vec(),
        },
    };
    let nonce = c.nonces[&ALICE];
    let mut gas = Vec::new();
    for n in [100u32, 1_000] {
        let mut store = Counting::new(c.store.clone());
        // Removing keys that were never written leaves tombstones that hide nothing.
        let block = [tx(nonce, "remove", n), tx(nonce + 1, "next", 0)];
        let out = c.engine.execute_block(&mut store, &c.ctx, &block).unwrap();
        assert_eq!(out.receipts[0].status, Status::Success);
        assert_eq!(out.receipts[1].return_data, (-1i64).to_le_bytes());
        assert_eq!(store.nexts.get(), 1);
        gas.push(out.receipts[1].gas_used);
    }
    assert_eq!(gas[1] - gas[0], 900 * g.storage_skip);
}

#[test]
fn storage_has_pays_for_the_value_it_reads() {
    let g = GasSchedule::default();
    let code = module(
        r#"(import "keel" "input" (func $input (param i32 i32) (result i32)))
           (import "keel" "storage_set" (func $set (param i32 i32 i32 i32)))
           (import "keel" "storage_has" (func $has (param i32 i32) (result i32)))
           (memory (export "memory") 2)
           (func (export "set")
             (drop (call $input (i32.const 4) (i32.const 4)))
             (call $set (i32.const 0) (i32.const 1) (i32.const 8) (i32.load (i32.const 4))))
           (func (export "has") (drop (call $has (i32.const 0) (i32.const 1))))"#,
    );
    let mut c = Chain::new();
    let hash = c.upload(code);
    let small = c.instantiate(hash, b"s", vec![]);
    let big = c.instantiate(hash, b"b", vec![]);
    c.call(ALICE, small, "set", 1u32.to_le_bytes().to_vec());
    c.call(ALICE, big, "set", 100_000u32.to_le_bytes().to_vec());
    let s = c.call(ALICE, small, "has", vec![]).gas_used;
    let b = c.call(ALICE, big, "has", vec![]).gas_used;
    assert_eq!(b - s, (100_000 - 1) * g.storage_read_byte);
}

#[test]
fn instantiation_pays_for_every_shape_dimension() {
    let g = GasSchedule::default();
    let mut c = Chain::new();
    let base = gas_of(&mut c, ping_with(""), "ping");
    let n = 200u64;
    let exports: String = (0..n)
        .map(|i| format!(r#"(export "m{i}" (func $ping))"#))
        .collect();
    assert_eq!(
        gas_of(&mut c, ping_with(&exports), "ping") - base,
        n * g.instantiate_export
    );
    let funcs: String = (0..n).map(|_| "(func)").collect();
    assert_eq!(
        gas_of(&mut c, ping_with(&funcs), "ping") - base,
        n * g.instantiate_function
    );
    let globals: String = (0..n).map(|_| "(global i32 (i32.const 0))").collect();
    assert_eq!(
        gas_of(&mut c, ping_with(&globals), "ping") - base,
        n * g.instantiate_global
    );
    let table = format!(
        "(table {n} funcref) (elem (i32.const 0) func {})",
        "$ping ".repeat(n as usize)
    );
    assert_eq!(
        gas_of(&mut c, ping_with(&table), "ping") - base,
        n * (g.instantiate_table_entry + g.instantiate_element)
    );
}

#[test]
fn upload_rejects_what_would_trap_or_bloat_later() {
    // An element segment outside its table used to be accepted, then trap every instantiation.
    let oob = ping_with("(table 2 funcref) (elem (i32.const 1) func $ping $ping)");
    assert!(rejected(&oob).iter().any(|p| matches!(
        p,
        Problem::ElementOutOfBounds {
            end: 3,
            table_size: 2
        }
    )));
    let dup = module(
        r#"(import "keel" "gas_left" (func (result i64)))
           (import "keel" "gas_left" (func (result i64)))
           (memory (export "memory") 1)"#,
    );
    assert!(
        rejected(&dup)
            .iter()
            .any(|p| matches!(p, Problem::DuplicateImport { .. }))
    );
    let limits = keel_engine::Limits::default();
    let exports: String = (0..=limits.max_exports)
        .map(|i| format!(r#"(export "m{i}" (func $ping))"#))
        .collect();
    assert!(
        rejected(&ping_with(&exports))
            .iter()
            .any(|p| matches!(p, Problem::TooMany { what, .. } if what == "exports"))
    );
}

#[test]
fn the_problem_list_of_a_rejected_deploy_is_bounded() {
    let max = keel_engine::Limits::default().max_problems as usize;
    // Many problems: the first `max - 1` are listed, the rest counted.
    let imports: String = (0..25_000)
        .map(|i| format!(r#"(import "keel" "n{i}" (func))"#))
        .collect();
    let code = module(&format!(r#"{imports} (memory (export "memory") 1)"#));
    assert!(code.len() < 512 * 1024);
    let problems = rejected(&code);
    assert_eq!(problems.len(), max);
    let Some(Problem::Omitted { count }) = problems.last() else {
        panic!("{:?}", problems.last());
    };
    assert!(*count >= 25_000 - (max as u64 - 1), "{count}");
    // Long names: each is shown cut to 64 bytes.
    let imports: String = (0..1_500)
        .map(|i| format!(r#"(import "keel" "n{i}_{}" (func))"#, "x".repeat(250)))
        .collect();
    let code = module(&format!(r#"{imports} (memory (export "memory") 1)"#));
    let problems = rejected(&code);
    let message: usize = problems.iter().map(|p| p.to_string().len()).sum();
    assert!(message < max * 200, "{message} bytes of problems");
}

#[test]
fn code_without_metadata_has_one_outcome_everywhere() {
    let mut c = Chain::new();
    let target = c.deploy("probe", vec![]);
    let proxy = c.deploy("proxy", vec![]);
    let probe_hash = keel_engine::code_hash(&fixture("probe"));
    // State written by an engine that kept no metadata: the code and contract exist, the
    // metadata does not.
    let mut meta_key = vec![0x05];
    meta_key.extend_from_slice(&probe_hash);
    let changes: ChangeSet = [(meta_key, None)].into_iter().collect();
    c.store.commit(&changes).unwrap();
    let mut fresh = Chain::with_config(EngineConfig::default());
    fresh.store = c.store.clone();
    fresh.nonces = c.nonces.clone();
    let r = fresh.call(ALICE, target, "probe", vec![]);
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownCode));
    let r = fresh.run(
        ALICE,
        GAS,
        Action::Instantiate {
            code_hash: probe_hash,
            salt: b"again".to_vec(),
            args: vec![],
        },
    );
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownCode));
    let mut input = target.to_vec();
    input.extend_from_slice(b"probe");
    let r = fresh.call(ALICE, proxy, "proxy", input);
    assert_eq!(r.status, Status::Success);
    assert_eq!(&r.return_data[..4], &3i32.to_le_bytes(), "refused");
    assert_eq!(fresh.engine.stats().compiles, 1, "only the proxy");
}

#[test]
fn checks_of_any_number_of_modules_recycle_the_compiler() {
    let engine = Engine::default();
    let start = engine.stats().wasmi_engines;
    // About 400 KB each: 50 checks compile 20 MB, more than one scratch engine may hold.
    let funcs: String = (0..4_000).map(|i| arith_func(i, 12)).collect();
    let code = ping_with(&funcs);
    assert!(code.len() > 100_000, "{}", code.len());
    let rounds = 20 * 1024 * 1024 / code.len() + 1;
    for _ in 0..rounds {
        engine.check(&code).unwrap();
    }
    assert!(engine.stats().wasmi_engines > start, "{:?}", engine.stats());
    assert_eq!(engine.stats().cached_modules, 0);
}

#[test]
fn failed_growth_and_tiny_bulk_operations_pay_their_fixed_cost() {
    let g = GasSchedule::default();
    let mut c = Chain::new();
    let looped = |op: &str| {
        module(&format!(
            r#"(memory (export "memory") 1 2) (table 1 funcref)
               (func (export "run") (local $i i32)
                 (loop $l
                   {op}
                   (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))"#
        ))
    };
    let empty = gas_of(&mut c, looped(""), "run");
    let grow = gas_of(
        &mut c,
        looped("(drop (memory.grow (i32.const 1000)))"),
        "run",
    );
    // memory.grow, its constant operand and the drop (free).
    assert_eq!(grow - empty, 100 * (u64::from(g.op_grow) + 1));
    let copy = gas_of(
        &mut c,
        looped("(memory.copy (i32.const 0) (i32.const 8) (i32.const 1))"),
        "run",
    );
    assert_eq!(copy - empty, 100 * (u64::from(g.op_bulk) + 3));
    let tgrow = gas_of(
        &mut c,
        looped("(drop (table.grow (ref.null func) (i32.const 100000)))"),
        "run",
    );
    assert_eq!(tgrow - empty, 100 * (u64::from(g.op_table_grow) + 2));
}

#[test]
fn after_preload_no_transaction_compiles_anything() {
    let mut c = Chain::new();
    let token = c.deploy("token", 1_000u64.to_le_bytes().to_vec());
    let proxy = c.deploy("proxy", vec![]);
    let mut fresh = Chain::with_config(EngineConfig::default());
    fresh.store = c.store.clone();
    fresh.nonces = c.nonces.clone();
    assert_eq!(fresh.engine.preload(&fresh.store).unwrap(), 2);
    assert_eq!(fresh.engine.preload(&fresh.store).unwrap(), 0, "idempotent");
    let compiles = fresh.engine.stats().compiles;
    let r = fresh.call(ALICE, token, "transfer", transfer_args(BOB, 1));
    assert_eq!(r.status, Status::Success);
    let mut input = token.to_vec();
    input.extend_from_slice(b"balance");
    assert_eq!(
        fresh.call(ALICE, proxy, "proxy", input).status,
        Status::Success
    );
    assert_eq!(fresh.engine.stats().compiles, compiles);
}
