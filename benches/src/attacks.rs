//! The adversarial bench (`keel-attacks`): every attack of issue 10, run on the engine through
//! its public API, reported as gas, wall time, ns/gas and the ratio to the arithmetic loop
//! measured in the same run; `Invalid` attacks as wall time per transaction; and a
//! compile-memory check (resident set size over a long run of compiles).
//!
//! Each attack is one transaction or block (or the median of a few repeats when it does not
//! change state). Sizes are the unless `quick` makes them smaller; `quick` keeps every
//! attack but shrinks counts so the whole run takes seconds.

use std::time::Instant;

use keel_contracts::hostile::{self, input, round_robin_input};
use keel_engine::{Action, Address, Engine, EngineConfig, Status, Transaction};
use keel_state::{MemStore, StateStore};

use crate::calib::{Harness, fill_range, status_text};

/// One attack's figures.
#[derive(Clone, Debug)]
pub struct AttackResult {
    /// What was run.
    pub name: String,
    /// Gas charged (summed over the transactions measured).
    pub gas: u64,
    /// Wall time, ns (for a block: execution and commit).
    pub ns: f64,
    /// Transactions measured (for per-transaction figures).
    pub txs: u64,
    /// How it ended, and anything notable.
    pub note: String,
    /// `Invalid` attacks are judged by wall time per transaction, not ns/gas.
    pub invalid: bool,
}

impl AttackResult {
    /// ns per gas (`None` at 0 gas).
    pub fn ns_per_gas(&self) -> Option<f64> {
        (self.gas > 0).then(|| self.ns / self.gas as f64)
    }

    /// The ratio to `baseline` ns/gas (infinite at 0 gas).
    pub fn ratio(&self, baseline: f64) -> f64 {
        self.ns_per_gas().map_or(f64::INFINITY, |x| x / baseline)
    }
}

/// Sizes of the run.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Distinct 514 KB contracts for the cache-miss attacks.
    pub contracts: u32,
    /// Functions of the locals bomb (each with 30,000 locals).
    pub bomb_functions: u32,
    /// Keys removed before the tombstone scan.
    pub tombstones: u32,
    /// State size for the commit-per-write attack.
    pub state_keys: u64,
    /// Repeats of the cheap, stateless attacks (median kept).
    pub repeats: usize,
}

impl Sizes {
    /// The sizes (`quick = false`) or a seconds-long run.
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                contracts: 24,
                bomb_functions: 1_000,
                tombstones: 2_000,
                state_keys: 100_000,
                repeats: 3,
            }
        } else {
            Self {
                contracts: 300,
                bomb_functions: 10_000,
                tombstones: 10_000,
                state_keys: 1_000_000,
                repeats: 5,
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Times `tx` with `simulate`, `repeats` times; the median time, the gas and the status.
fn sim<S: StateStore>(h: &Harness<S>, tx: &Transaction, repeats: usize) -> (f64, u64, String) {
    let mut times = Vec::new();
    let mut last = (0, String::new());
    for _ in 0..repeats.max(1) {
        let s = h.time(tx);
        times.push(s.ns);
        last = (s.gas, s.status);
    }
    (median(times), last.0, last.1)
}

fn attack(name: impl Into<String>, (ns, gas, note): (f64, u64, String)) -> AttackResult {
    AttackResult {
        name: name.into(),
        gas,
        ns,
        txs: 1,
        note,
        invalid: false,
    }
}

/// The arithmetic-loop baseline of this run: ns/gas of `arith_loop` `run(n)` minus `run(0)`,
/// median of `repeats`.
pub fn baseline<S: StateStore>(h: &Harness<S>, arith: Address, repeats: usize) -> f64 {
    let n = 2_000_000u32;
    let a = h.call(arith, "run", input(n, 0, 0, 0));
    let b = h.call(arith, "run", input(0, 0, 0, 0));
    let mut v = Vec::new();
    for _ in 0..repeats.max(3) {
        let sa = h.time(&a);
        let sb = h.time(&b);
        v.push((sa.ns - sb.ns) / (sa.gas - sb.gas) as f64);
    }
    median(v)
}

/// Deploys `code` (committed, timed as a block). The result row and, if accepted, the
/// instantiated contract.
fn deploy_timed<S: StateStore>(
    h: &mut Harness<S>,
    label: &str,
    code: &[u8],
) -> (AttackResult, Option<Address>) {
    let tx = h.deploy_tx(code);
    let t = Instant::now();
    let r = h.block(&[tx]).receipts.remove(0);
    let ns = t.elapsed().as_nanos() as f64;
    let note = match &r.status {
        Status::Reverted(m) => {
            let text = String::from_utf8_lossy(m);
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect::<String>();
            format!("rejected at upload: {first}")
        }
        _ => status_text(&r),
    };
    let addr = r.is_success().then(|| {
        let hash: [u8; 32] = r.return_data.clone().try_into().expect("code hash");
        h.instantiate(hash)
    });
    (
        AttackResult {
            name: format!("Deploy: {label} ({} bytes)", code.len()),
            gas: r.gas_used,
            ns,
            txs: 1,
            note,
            invalid: false,
        },
        addr,
    )
}

/// A freshly started engine with the default configuration (nothing compiled yet), as after a
/// node restart.
fn fresh() -> Engine {
    Engine::new(EngineConfig::default())
}

/// A fresh engine with module cache `capacity` (0: every load compiles; tools only).
fn cold(capacity: usize) -> Engine {
    Engine::new(EngineConfig {
        module_cache_capacity: capacity,
        ..EngineConfig::default()
    })
}

/// Runs every attack; returns (baseline ns/gas at the start, at the end, results).
pub fn run(sizes: Sizes, mut progress: impl FnMut(&AttackResult)) -> (f64, f64, Vec<AttackResult>) {
    let mut out = Vec::new();
    let mut push = |r: AttackResult, out: &mut Vec<AttackResult>| {
        progress(&r);
        out.push(r);
    };
    let mut h = Harness::new(EngineConfig::default(), MemStore::new());
    h.store.set_keep_versions(Some(1));
    let arith = h.deploy(&hostile::arith_loop());
    let base_start = baseline(&h, arith, sizes.repeats);
    let rep = sizes.repeats;

    // ---- cache misses: distinct 514 KB contracts
    let t = Instant::now();
    let mut codes = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..sizes.contracts {
        let code = hostile::padded_seeded(514_000, 1_000 + i);
        let hash = h.deploy_code(&code);
        codes.push(hash);
        addrs.push(h.instantiate(hash));
    }
    let salts_used: Vec<u64> = (h.salt + 1 - u64::from(sizes.contracts)..=h.salt).collect();
    eprintln!(
        "deployed {} contracts of 514 KB in {:.1} s",
        sizes.contracts,
        t.elapsed().as_secs_f64()
    );
    let caller = h.deploy(&hostile::round_robin_caller());

    // 1. top-level Call("init") / Instantiate with a used salt, cold cache: Invalid.
    for (label, mk) in [
        (
            "Invalid: Call(\"init\") on uncached 514 KB contracts",
            0usize,
        ),
        (
            "Invalid: Instantiate with a used salt, uncached 514 KB code",
            1,
        ),
        (
            "Invalid: Call of an unknown method, uncached 514 KB contracts",
            2,
        ),
    ] {
        h.engine = fresh();
        let txs: Vec<Transaction> = (0..sizes.contracts as usize)
            .map(|i| match mk {
                0 => h.call(addrs[i], "init", vec![]),
                1 => h.tx(Action::Instantiate {
                    code_hash: codes[i],
                    salt: salts_used[i].to_le_bytes().to_vec(),
                    args: vec![],
                }),
                _ => h.call(addrs[i], "nope", vec![]),
            })
            .collect();
        let c0 = h.engine.stats().compiles;
        let t = Instant::now();
        let outc = h.block(&txs);
        let ns = t.elapsed().as_nanos() as f64;
        let compiles = h.engine.stats().compiles - c0;
        let invalid = outc
            .receipts
            .iter()
            .filter(|r| matches!(r.status, Status::Invalid(_)))
            .count();
        let gas = outc.receipts.iter().map(|r| r.gas_used).sum();
        push(
            AttackResult {
                name: format!("{label} ({} txs)", txs.len()),
                gas,
                ns,
                txs: txs.len() as u64,
                note: format!(
                    "{invalid} of {} Invalid ({}); {compiles} compiles",
                    txs.len(),
                    status_text(&outc.receipts[0])
                ),
                invalid: true,
            },
            &mut out,
        );
    }

    // 2-3. round robin over the distinct contracts, on a freshly started engine with the
    // default configuration: the first pass is the node's first use of each module; the
    // second shows whether a module once loaded stays loaded (v1's 256-entry LRU cache
    // misses on every call when the round robin covers more contracts than that).
    for method in ["ping", "nope"] {
        let count = sizes.contracts;
        let tx = h.call(caller, "run", round_robin_input(count, method, &addrs));
        for preload in [false, true] {
            h.engine = fresh();
            let start = if preload {
                let t = Instant::now();
                let n = h.engine.preload(&h.store).expect("preload");
                format!(
                    "engine started with preload ({n} modules in {:.0} ms)",
                    t.elapsed().as_secs_f64() * 1e3
                )
            } else {
                "engine started without preload".to_string()
            };
            // The first pass runs once (it is the one that may compile); later passes are
            // the median of `rep`.
            for (pass, reps) in [("first pass", 1), ("later passes", rep)] {
                let c0 = h.engine.stats().compiles;
                let (ns, gas, status) = sim(&h, &tx, reps);
                let compiles = h.engine.stats().compiles - c0;
                push(
                    attack(
                        format!(
                            "round robin: {count} nested calls of `{method}` on {} distinct 514 KB contracts, {start}, {pass}",
                            sizes.contracts
                        ),
                        (ns, gas, format!("{status}; {compiles} compiles")),
                    ),
                    &mut out,
                );
            }
        }
    }

    // Top-level call of a large contract with no cache: compile per call.
    h.engine = cold(0);
    let tx = h.call(addrs[0], "ping", vec![]);
    push(
        attack(
            "top-level call of `ping` on a 514 KB contract, cache capacity 0 (tools only)",
            sim(&h, &tx, rep),
        ),
        &mut out,
    );
    // Duplicate deploy of a large module (compiles again).
    h.engine = Engine::default();
    let big = hostile::padded_seeded(514_000, 1_000);
    let tx = h.deploy_tx(&big);
    push(
        attack(
            "Deploy of an already-stored 514 KB module",
            sim(&h, &tx, rep),
        ),
        &mut out,
    );

    // 4. locals bomb: deploy, then a cold call (of the fitted bomb if the
    // issue's is rejected).
    let bomb = hostile::locals_bomb(sizes.bomb_functions, 30_000);
    let label = format!(
        "locals bomb {} functions x 30,000 locals",
        sizes.bomb_functions
    );
    let (r, mut bomb_addr) = deploy_timed(&mut h, &label, &bomb);
    push(r, &mut out);
    let mut bomb_label = label;
    if bomb_addr.is_none() {
        let (l, _) = crate::calib::fit(30_000, |l| hostile::locals_bomb(2, l));
        let (f, code) =
            crate::calib::fit(sizes.bomb_functions, |f| hostile::locals_bomb(f.max(2), l));
        bomb_label = format!("fitted locals bomb: {} functions x {l} locals", f.max(2));
        let (r, addr) = deploy_timed(&mut h, &bomb_label, &code);
        push(r, &mut out);
        bomb_addr = addr;
    }
    if let Some(bomb_addr) = bomb_addr {
        h.engine = fresh();
        let tx = h.call(bomb_addr, "ping", vec![]);
        let c0 = h.engine.stats().compiles;
        let s = h.time(&tx);
        let compiles = h.engine.stats().compiles - c0;
        push(
            attack(
                format!("{bomb_label}: call of `ping` on a freshly started engine (no preload)"),
                (s.ns, s.gas, format!("{}; {compiles} compiles", s.status)),
            ),
            &mut out,
        );
        h.engine = Engine::default();
    }

    // 5. calling a function with 29,990 locals (or the most the limits allow).
    let (r, mut lc) = deploy_timed(&mut h, "locals_call(29,990)", &hostile::locals_call(29_990));
    let mut locals = 29_990;
    if lc.is_none() {
        push(r, &mut out);
        let (l, code) = crate::calib::fit(29_990, hostile::locals_call);
        locals = l;
        lc = Some(h.deploy(&code));
    }
    if let Some(lc) = lc {
        let tx = h.call(lc, "run", input(1_000, 0, 0, 0));
        push(
            attack(
                format!("1,000 calls of a function with {locals} locals"),
                sim(&h, &tx, rep),
            ),
            &mut out,
        );
    }

    // 6. tombstones: remove N keys, then scan.
    let tomb = h.deploy(&hostile::tombstones());
    h.call_ok(tomb, "fill", input(sizes.tombstones, 0, 0, 0));
    let iters = 20;
    let tx = h.call(tomb, "remove_scan", input(iters, sizes.tombstones, 0, 0));
    let a = sim(&h, &tx, rep);
    let tx0 = h.call(tomb, "remove_scan", input(0, sizes.tombstones, 0, 0));
    let b = sim(&h, &tx0, rep);
    push(
        attack(
            format!(
                "tombstones: remove {} keys, then {iters} storage_next over them (one tx)",
                sizes.tombstones
            ),
            a.clone(),
        ),
        &mut out,
    );
    push(
        attack(
            format!("tombstones: the {iters} storage_next alone (difference)"),
            (a.0 - b.0, a.1.saturating_sub(b.1), a.2),
        ),
        &mut out,
    );

    // 7. nested calls into instantiation-heavy callees (the size; if the engine
    // rejects it at upload, that row, then the fitted size).
    type Make = fn(u32) -> Vec<u8>;
    let shapes: Vec<(&str, u32, Make)> = vec![
        ("exports", 60_000, hostile::many_exports),
        ("functions", 9_000, hostile::many_functions),
        ("globals", 256, hostile::many_globals),
        ("element items", 400_000, hostile::many_elements),
        ("data segment bytes", 262_144, hostile::big_data),
        ("duplicate imports", 9_000, hostile::duplicate_imports),
    ];
    for (label, want, make) in shapes {
        let (r, mut callee) = deploy_timed(&mut h, &format!("{want} {label}"), &make(want));
        let mut size = want;
        if callee.is_none() {
            push(r, &mut out);
            let (n, code) = crate::calib::fit(want, make);
            size = n;
            callee = Some(h.deploy(&code));
        }
        let Some(callee) = callee else { continue };
        let count = 20;
        let tx = h.call(caller, "run", round_robin_input(count, "ping", &[callee]));
        push(
            attack(
                format!("{count} nested calls into a callee with {size} {label} (cached)"),
                sim(&h, &tx, rep),
            ),
            &mut out,
        );
    }

    // 8. storage_has on a 128 KiB value.
    let hb = h.deploy(&hostile::has_big());
    h.call_ok(hb, "set", input(131_072, 0, 0, 0));
    let tx = h.call(hb, "has", input(5_000, 0, 0, 0));
    push(
        attack("5,000 storage_has on a 128 KiB value", sim(&h, &tx, rep)),
        &mut out,
    );

    // 10. loops of unpriced or under-priced operations.
    for (label, code, p1) in [
        ("failed memory.grow", hostile::grow_fail(), 0),
        ("failed table.grow", hostile::table_grow_fail(), 0),
        ("1-byte memory.copy + memory.fill", hostile::small_copy(), 1),
        ("call_indirect", hostile::call_indirect_loop(), 0),
    ] {
        let addr = h.deploy(&code);
        let n = 200_000;
        let tx = h.call(addr, "run", input(n / hostile::UNROLL, p1, 0, 0));
        push(
            attack(
                format!("{n} x {label} (unrolled x{})", hostile::UNROLL),
                sim(&h, &tx, rep),
            ),
            &mut out,
        );
    }

    // Rejected deploy with a huge problem list: the 45,000 unknown imports, or as
    // many as fit in the code-size limit (a larger module is rejected for its size alone).
    let max_len = EngineConfig::default().limits.max_code_len as usize;
    let mut n_unknown = 45_000;
    while hostile::unknown_imports(n_unknown).len() > max_len {
        n_unknown -= 1_000;
    }
    let unknown = hostile::unknown_imports(n_unknown);
    let tx = h.deploy_tx(&unknown);
    let r = h
        .engine
        .simulate(&h.store, &h.ctx(), &tx)
        .expect("store failure");
    let msg = match &r.status {
        Status::Reverted(m) => m.len(),
        _ => 0,
    };
    let s = sim(&h, &tx, rep);
    push(
        attack(
            format!(
                "Deploy with {n_unknown} unknown imports ({} bytes): receipt message {msg} bytes",
                unknown.len()
            ),
            s,
        ),
        &mut out,
    );
    // Element segment outside its table: accepted at upload?
    let oob = hostile::element_oob();
    let r = h.commit(Action::Deploy { code: oob.clone() });
    let note = if r.is_success() {
        let hash: [u8; 32] = r.return_data.clone().try_into().expect("hash");
        h.salt += 1;
        let inst = h.commit(Action::Instantiate {
            code_hash: hash,
            salt: h.salt.to_le_bytes().to_vec(),
            args: vec![],
        });
        let addr: Option<Address> = inst.return_data.clone().try_into().ok();
        let call = match addr {
            Some(a) if inst.is_success() => status_text(&h.commit(Action::Call {
                contract: a,
                method: "ping".into(),
                args: vec![],
            })),
            _ => "-".into(),
        };
        format!(
            "Deploy accepted; Instantiate: {}; call of `ping`: {call}",
            status_text(&inst)
        )
    } else {
        format!("Deploy rejected: {}", status_text(&r))
    };
    push(
        AttackResult {
            name: "element segment outside its table".into(),
            gas: r.gas_used,
            ns: 0.0,
            txs: 1,
            note,
            invalid: false,
        },
        &mut out,
    );

    // 9. storage_set at a large state (block = execution + commit).
    let t = Instant::now();
    fill_range(&mut h.store, 0, sizes.state_keys, 50_000);
    eprintln!(
        "filled {} keys in {:.1} s",
        sizes.state_keys,
        t.elapsed().as_secs_f64()
    );
    let writer = h.deploy(&crate::calib::writer_module());
    let mut times = Vec::new();
    let mut gas = 0;
    let mut note = String::new();
    for _ in 0..rep {
        let seed = h.height as u32;
        let tx = h.call(writer, "write", input(1_000, seed, 0, 0));
        let t = Instant::now();
        let o = h.block(&[tx]);
        times.push(t.elapsed().as_nanos() as f64);
        gas = o.receipts[0].gas_used;
        note = status_text(&o.receipts[0]);
    }
    push(
        attack(
            format!(
                "block of one tx writing 1,000 fresh keys, MemStore at {} keys (exec + commit)",
                sizes.state_keys
            ),
            (median(times), gas, note),
        ),
        &mut out,
    );

    let base_end = baseline(&h, arith, rep);
    (base_start, base_end, out)
}

/// Resident set size now (`VmRSS`), KiB.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The compile-memory check: `count` compiles of distinct ~100 KB modules through
/// [`Engine::check`], then `count` duplicate deploys (simulated) of one ~100 KB module, on one
/// engine; calls `report(phase, done, rss_kib)` every `count / 10` compiles.
pub fn rss_run(count: u32, mut report: impl FnMut(&str, u32, u64)) {
    let mut h = Harness::new(EngineConfig::default(), MemStore::new());
    let every = (count / 10).max(1);
    report("start", 0, rss_kib().unwrap_or(0));
    for i in 0..count {
        let code = hostile::padded_seeded(100_000, 50_000 + i);
        let _ = h.engine.check(&code);
        if (i + 1) % every == 0 {
            report(
                "Engine::check of distinct 100 KB modules",
                i + 1,
                rss_kib().unwrap_or(0),
            );
        }
    }
    let code = hostile::padded_seeded(100_000, 7);
    let tx = h.deploy_tx(&code);
    for i in 0..count {
        let _ = h.time(&tx);
        if (i + 1) % every == 0 {
            report(
                "duplicate Deploy of one 100 KB module",
                i + 1,
                rss_kib().unwrap_or(0),
            );
        }
    }
    let _ = &mut h;
}
