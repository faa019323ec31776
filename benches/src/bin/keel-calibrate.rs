//! Gas calibration: wall time per gas for every cost the engine has (see
//! `keel_benches::calib` for the method). Prints one table per group, appends each group to
//! `--append FILE` as soon as it is measured, and writes every row as JSON to `--json FILE`
//! (default `benches/results/calib-v{schedule}-{quick|full}.json`).
//!
//! `cargo run --release -p keel-benches --no-default-features --bin keel-calibrate -- [--quick]
//! [--rounds N] [--target-ms MS] [--append FILE] [--json FILE] [--groups a,b,..] [--scale-10m]`
//!
//! Groups: `operators`, `host`, `instantiate`, `compile`, `locals` (locals zeroing and
//! tombstones), `commit` (per write at 10k and 1M keys, MemStore and RocksDB `Store`; `--quick`:
//! 10k and 100k), `invalid` (every `Invalid` outcome, large RocksDB state, cold and warm cache).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::Instant;

use keel_benches::calib::{
    self, Budget, Harness, RowResult, Spec, baseline_of, baseline_spec, commit_row, table,
};
use keel_contracts::hostile;
use keel_engine::{Action, EngineConfig, GasSchedule, Transaction};
use keel_state::{MemStore, StateStore, Store};

struct Args {
    quick: bool,
    rounds: Option<usize>,
    target_ms: Option<f64>,
    append: Option<String>,
    json: Option<String>,
    groups: Vec<String>,
    scale_10m: bool,
}

fn parse() -> Args {
    let mut a = Args {
        quick: false,
        rounds: None,
        target_ms: None,
        append: None,
        json: None,
        groups: Vec::new(),
        scale_10m: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => a.quick = true,
            "--scale-10m" => a.scale_10m = true,
            "--rounds" => a.rounds = Some(val().parse().expect("--rounds N")),
            "--target-ms" => a.target_ms = Some(val().parse().expect("--target-ms MS")),
            "--append" => a.append = Some(val()),
            "--json" => a.json = Some(val()),
            "--groups" => a.groups = val().split(',').map(str::to_string).collect(),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

struct Out {
    append: Option<std::fs::File>,
    rows: Vec<RowResult>,
    baselines: Vec<f64>,
}

impl Out {
    fn group(&mut self, title: &str, rows: Vec<RowResult>, baseline: f64) {
        let text = format!(
            "## {title} (baseline arith_loop {baseline:.3} ns/gas in this group)\n{}\n",
            table(&rows, baseline)
        );
        print!("{text}");
        let _ = std::io::stdout().flush();
        if let Some(f) = self.append.as_mut() {
            let _ = f.write_all(text.as_bytes());
            let _ = f.flush();
        }
        if baseline.is_finite() {
            self.baselines.push(baseline);
        }
        self.rows.extend(rows);
    }

    fn baseline(&self) -> f64 {
        let mut v = self.baselines.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

fn wants(a: &Args, g: &str) -> bool {
    a.groups.is_empty() || a.groups.iter().any(|x| x == g)
}

/// Measures `specs` with the baseline row interleaved, returns (rows, baseline).
fn with_baseline(
    h: &Harness<MemStore>,
    arith: keel_engine::Address,
    mut specs: Vec<Spec>,
    budget: Budget,
) -> (Vec<RowResult>, f64) {
    specs.insert(0, baseline_spec(h, arith));
    let rows = calib::measure(h, &specs, budget);
    let b = baseline_of(&rows);
    (rows, b)
}

fn commit_rows<S: StateStore>(
    out: &mut Out,
    store: S,
    kind: &str,
    sizes: &[u64],
    rounds: usize,
    writes: u32,
) -> Harness<S> {
    let mut h = Harness::new(EngineConfig::default(), store);
    let mut have = 0u64;
    let mut rows = Vec::new();
    for &keys in sizes {
        let t = Instant::now();
        calib::fill_range(&mut h.store, have, keys, 50_000);
        have = keys;
        eprintln!(
            "{kind}: filled to {keys} keys in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        rows.push(commit_row(
            &mut h,
            format!("{kind}, {keys} keys, {writes} writes/block"),
            writes,
            rounds,
        ));
    }
    let b = out.baseline();
    out.group(&format!("commit: {kind}"), rows, b);
    h
}

fn main() {
    let a = parse();
    let quick = a.quick;
    let budget = Budget {
        target_ms: a.target_ms.unwrap_or(if quick { 3.0 } else { 12.0 }),
        rounds: a.rounds.unwrap_or(if quick { 5 } else { 9 }),
    };
    let schedule = GasSchedule::default();
    let mut out = Out {
        append: a.append.as_ref().map(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open --append file")
        }),
        rows: Vec::new(),
        baselines: Vec::new(),
    };
    let header = format!(
        "# keel-calibrate: GasSchedule v{}, {} mode, {} rounds, target {} ms per run, started {}\n\
         # columns: row, ns per unit, gas per unit (from receipts), ns/gas, ratio to the arith_loop baseline of the same group\n",
        schedule.version,
        if quick { "quick" } else { "full" },
        budget.rounds,
        budget.target_ms,
        std::process::Command::new("date")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    );
    print!("{header}");
    if let Some(f) = out.append.as_mut() {
        let _ = f.write_all(header.as_bytes());
    }

    let mut h = Harness::new(EngineConfig::default(), MemStore::new());
    let c = calib::setup(&mut h, quick);
    type Group<'a> = (
        &'a str,
        &'a str,
        Box<dyn Fn(&Harness<MemStore>) -> Vec<Spec> + 'a>,
    );
    let groups: Vec<Group> = vec![
        (
            "operators",
            "wasm operators (differential: method minus the empty loop)",
            Box::new(|h| calib::operator_specs(h, &c)),
        ),
        (
            "host",
            "host functions (base: minus the empty loop; per byte: two sizes)",
            Box::new(|h| calib::host_specs(h, &c)),
        ),
        (
            "instantiate",
            "instantiation by module shape (ping on the shape minus ping on the minimal module; cached)",
            Box::new(|h| calib::instantiation_specs(h, &c)),
        ),
    ];
    for (name, title, specs) in &groups {
        if !wants(&a, name) {
            continue;
        }
        let t = Instant::now();
        let (rows, b) = with_baseline(&h, c.arith, specs(&h), budget);
        out.group(title, rows, b);
        eprintln!("{name}: {:.1} s", t.elapsed().as_secs_f64());
    }
    if wants(&a, "compile") {
        // A fresh state (none of the shapes stored) and no module cache: every Deploy compiles.
        let t = Instant::now();
        let mut hc = Harness::new(
            EngineConfig {
                module_cache_capacity: 0,
                ..EngineConfig::default()
            },
            MemStore::new(),
        );
        let arith = hc.deploy(&hostile::arith_loop());
        let (rows, b) = with_baseline(&hc, arith, calib::compile_specs(&hc, quick), budget);
        out.group(
            "compilation (Deploy of the shape minus Deploy of the minimal module; no cache, not stored)",
            rows,
            b,
        );
        eprintln!("compile: {:.1} s", t.elapsed().as_secs_f64());
    }

    let sizes: Vec<u64> = if quick {
        vec![10_000, 100_000]
    } else if a.scale_10m {
        vec![10_000, 1_000_000, 10_000_000]
    } else {
        vec![10_000, 1_000_000]
    };
    let commit_rounds = if quick { 5 } else { 9 };
    let writes = 1_000;
    let mut big: Option<Harness<Store>> = None;
    let dir = tempfile::tempdir().expect("temp dir");
    if wants(&a, "commit") {
        let mut m = MemStore::new();
        m.set_keep_versions(Some(1));
        let mem_sizes: Vec<u64> = sizes.iter().copied().filter(|s| *s <= 1_000_000).collect();
        commit_rows(&mut out, m, "MemStore", &mem_sizes, commit_rounds, writes);
        let store = Store::open(dir.path().join("keel")).expect("open store");
        big = Some(commit_rows(
            &mut out,
            store,
            "RocksDB Store",
            &sizes,
            commit_rounds,
            writes,
        ));
    }
    if wants(&a, "locals") {
        let t = Instant::now();
        let (rows, b) = with_baseline(&h, c.arith, calib::locals_tombstone_specs(&h, &c), budget);
        out.group(
            "per-call locals zeroing and storage_next per skipped tombstone",
            rows,
            b,
        );
        eprintln!("locals: {:.1} s", t.elapsed().as_secs_f64());
    }
    if wants(&a, "invalid") {
        let mut h = match big.take() {
            Some(h) => h,
            None => {
                let mut h = Harness::new(
                    EngineConfig::default(),
                    Store::open(dir.path().join("keel-invalid")).expect("open store"),
                );
                let keys = *sizes.last().unwrap_or(&10_000);
                calib::fill_range(&mut h.store, 0, keys, 50_000);
                h
            }
        };
        invalid_rows(&mut out, &mut h, budget, quick);
    }

    let baseline = out.baseline();
    let worst = out
        .rows
        .iter()
        .filter(|r| r.group != "baseline" && r.group != "invalid")
        .max_by(|x, y| x.ratio(baseline).total_cmp(&y.ratio(baseline)));
    if let Some(w) = worst {
        let line = format!(
            "# worst row: {} / {}: {:.3} ns/{} at {:.3} gas/{} = {} x the baseline ({baseline:.3} ns/gas)\n",
            w.group,
            w.name,
            w.ns_per_unit,
            w.unit,
            w.gas_per_unit,
            w.unit,
            if w.ratio(baseline).is_infinite() {
                "unpriced (inf)".to_string()
            } else {
                format!("{:.2}", w.ratio(baseline))
            }
        );
        print!("{line}");
        if let Some(f) = out.append.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
        let unpriced: Vec<String> = out
            .rows
            .iter()
            .filter(|r| r.group != "invalid" && r.ratio(baseline).is_infinite())
            .map(|r| format!("{}/{}", r.group, r.name))
            .collect();
        if !unpriced.is_empty() {
            println!("# unpriced rows (time, no gas): {}", unpriced.join("; "));
        }
    }
    let path = a.json.clone().unwrap_or_else(|| {
        format!(
            "benches/results/calib-v{}-{}.json",
            schedule.version,
            if quick { "quick" } else { "full" }
        )
    });
    if let Err(e) = std::fs::write(&path, calib::json(&out.rows, baseline)) {
        eprintln!("could not write {path}: {e}");
    } else {
        eprintln!("wrote {path}");
    }
}

/// Every `Invalid` outcome, on a large RocksDB state, with a cold module cache (capacity 0)
/// and with the default warm cache: wall time per transaction.
fn invalid_rows(out: &mut Out, h: &mut Harness<Store>, budget: Budget, quick: bool) {
    let big = hostile::padded(514_000);
    let code_hash = h.deploy_code(&big);
    let contract = h.instantiate(code_hash);
    // The salt `instantiate` used: reuse it for AddressInUse.
    let used_salt = h.salt.to_le_bytes().to_vec();
    let _ = quick;
    let mk = |h: &Harness<Store>| -> Vec<(String, Transaction)> {
        let mut bad_nonce = h.call(contract, "ping", vec![]);
        bad_nonce.nonce += 5;
        vec![
            ("bad nonce".into(), bad_nonce),
            (
                "unknown contract".into(),
                h.call(keel_benches::account(424_242), "ping", vec![]),
            ),
            (
                "unknown method (514 KB contract)".into(),
                h.call(contract, "nope", vec![]),
            ),
            (
                "Call(\"init\") (514 KB contract)".into(),
                h.call(contract, "init", vec![]),
            ),
            (
                "unknown code".into(),
                h.tx(Action::Instantiate {
                    code_hash: [9; 32],
                    salt: vec![],
                    args: vec![],
                }),
            ),
            (
                "address in use (514 KB code)".into(),
                h.tx(Action::Instantiate {
                    code_hash,
                    salt: used_salt.clone(),
                    args: vec![],
                }),
            ),
            (
                "too large (args 128 KiB + 1)".into(),
                h.call(contract, "ping", vec![0; 131_073]),
            ),
        ]
    };
    for (cache, cap) in [("cold cache (capacity 0)", 0usize), ("warm cache", 256)] {
        h.engine = keel_engine::Engine::new(EngineConfig {
            module_cache_capacity: cap,
            ..EngineConfig::default()
        });
        let specs: Vec<Spec> = mk(h)
            .into_iter()
            .map(|(name, tx)| {
                Spec::new("invalid", format!("{name}, {cache}"), "tx", 1, move |_| {
                    (vec![(tx.clone(), 1.0)], 1.0)
                })
            })
            .collect();
        let rows = calib::measure(h, &specs, budget);
        let b = out.baseline();
        out.group(&format!("Invalid outcomes, {cache}"), rows, b);
    }
}
