//! A quick version of the side-by-side suite for the `keel bench` CLI command: a few seconds,
//! fixed iteration counts, every figure next to its peer measured in the same run.
//!
//! ```no_run
//! let results = keel_benches::quick::run(&mut |done, total, step| {
//!     eprintln!("[{done}/{total}] {step}");
//! });
//! for m in &results {
//!     println!("{m}");
//! }
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use keel_engine::{Action, BlockContext};
use keel_state::{MemStore, StateStore, Store};
use parity_scale_codec::Encode;

use crate::keel::{Chain, change_set, empty_module, fill, updates};
use crate::raw::RawDb;
use crate::wasm::PlainWasm;

/// One quick measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// What was measured, e.g. `"token transfer, in memory (1k-tx blocks)"`.
    pub name: String,
    /// Mean wall time of one operation.
    pub per_op: Duration,
    /// Operations per second (`1 / per_op`).
    pub ops_per_sec: f64,
    /// The peer figure measured in the same run, if any: (peer name, its time per operation).
    pub peer: Option<(String, Duration)>,
}

impl Measurement {
    fn new(name: impl Into<String>, total: Duration, ops: u64) -> Self {
        let per_op = total / ops.max(1) as u32;
        Measurement {
            name: name.into(),
            per_op,
            ops_per_sec: ops as f64 / total.as_secs_f64().max(1e-12),
            peer: None,
        }
    }

    fn vs(mut self, peer: &Measurement) -> Self {
        self.peer = Some((peer.name.clone(), peer.per_op));
        self
    }

    /// Keel's time over the peer's (`> 1` means Keel is slower).
    pub fn ratio(&self) -> Option<f64> {
        self.peer
            .as_ref()
            .map(|(_, p)| self.per_op.as_secs_f64() / p.as_secs_f64().max(1e-12))
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<48} {:>12.2?}/op {:>12.0} op/s",
            self.name, self.per_op, self.ops_per_sec
        )?;
        if let (Some((peer, _)), Some(r)) = (&self.peer, self.ratio()) {
            write!(f, "   {r:.2}x {peer}")?;
        }
        Ok(())
    }
}

/// The names of the steps [`run`] reports progress for, in order.
pub fn steps() -> Vec<&'static str> {
    let mut s = vec![
        "token transfers, in memory",
        "token transfers, RocksDB, commit per 1k block",
    ];
    if cfg!(feature = "revm") {
        s.push("revm transfers");
    }
    s.extend([
        "empty call",
        "compute: fib in Keel and plain wasmi",
        "Merkle commit vs raw WriteBatch",
        "proofs",
    ]);
    s
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

const BLOCK: usize = 1_000;
const BLOCKS: usize = 3;
const RECIPIENTS: u64 = 1_000;

/// Runs the quick suite (a few seconds in release; much longer in a debug build), calling
/// `progress(done, total, step)` before each step and once at the end with `done == total`.
pub fn run(progress: &mut dyn FnMut(usize, usize, &str)) -> Vec<Measurement> {
    let names = steps();
    let total = names.len();
    let mut step = 0;
    let mut next = |progress: &mut dyn FnMut(usize, usize, &str)| {
        progress(step, total, names[step.min(total - 1)]);
        step += 1;
    };
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");

    // Token transfers in memory, one commit per 1k-tx block.
    next(progress);
    let mut chain = Chain::token(MemStore::new());
    let warm = chain.transfers(BLOCK, RECIPIENTS); // recipients exist, module cached
    chain.block_ok(&warm);
    let blocks: Vec<_> = (0..BLOCKS)
        .map(|_| chain.transfers(BLOCK, RECIPIENTS))
        .collect();
    let t = timed(|| {
        for b in &blocks {
            chain.block_ok(b);
        }
    });
    let mem = Measurement::new("Keel token transfer, MemStore", t, (BLOCK * BLOCKS) as u64);

    // The same on RocksDB.
    next(progress);
    let mut chain = Chain::token(Store::open(dir.path().join("keel")).expect("store"));
    let warm = chain.transfers(BLOCK, RECIPIENTS);
    chain.block_ok(&warm);
    let blocks: Vec<_> = (0..BLOCKS)
        .map(|_| chain.transfers(BLOCK, RECIPIENTS))
        .collect();
    let t = timed(|| {
        for b in &blocks {
            chain.block_ok(b);
        }
    });
    let rocks = Measurement::new("Keel token transfer, RocksDB", t, (BLOCK * BLOCKS) as u64);
    drop(chain);

    #[cfg(feature = "revm")]
    {
        next(progress);
        let mut evm = crate::evm::EvmChain::new();
        let warm = evm.erc20_transfers(BLOCK, RECIPIENTS);
        evm.run(warm);
        let txs = evm.erc20_transfers(BLOCK * BLOCKS, RECIPIENTS);
        let t = timed(|| evm.run(txs));
        let erc20 = Measurement::new("revm ERC-20 transfer", t, (BLOCK * BLOCKS) as u64);
        let txs = evm.value_transfers(BLOCK * BLOCKS, RECIPIENTS);
        let t = timed(|| evm.run(txs));
        let plain = Measurement::new("revm plain value transfer", t, (BLOCK * BLOCKS) as u64);
        out.push(mem.clone().vs(&erc20));
        out.push(rocks.clone().vs(&erc20));
        out.push(erc20);
        out.push(plain);
    }
    #[cfg(not(feature = "revm"))]
    {
        out.push(mem);
        out.push(rocks);
    }

    // Empty call: Keel simulate vs plain wasmi instantiate + call.
    next(progress);
    let code = empty_module();
    let chain = Chain::deploy(MemStore::new(), &code, Vec::new());
    let ctx = BlockContext {
        height: chain.height,
        timestamp: 0,
    };
    let tx = chain.tx(Action::Call {
        contract: chain.contract,
        method: "noop".into(),
        args: Vec::new(),
    });
    let n = 5_000u64;
    let t = timed(|| {
        for _ in 0..n {
            let r = chain.engine.simulate(&chain.store, &ctx, &tx).expect("sim");
            assert!(r.is_success());
        }
    });
    let keel_empty = Measurement::new("Keel empty call (simulate)", t, n);
    let plain = PlainWasm::new(&code, false);
    let t = timed(|| {
        for _ in 0..n {
            plain.call("noop", &[]);
        }
    });
    let plain_empty = Measurement::new("plain wasmi: new store + instantiate + call", t, n);
    out.push(keel_empty.vs(&plain_empty));
    out.push(plain_empty);

    // Compute: fib(n) iterative, long enough that fixed costs vanish.
    next(progress);
    let chain = Chain::deploy(MemStore::new(), keel_contracts::COMPUTE, Vec::new());
    let arg = 200_000u32;
    let tx = chain.tx(Action::Call {
        contract: chain.contract,
        method: "fib".into(),
        args: arg.encode(),
    });
    let n = 10u64;
    let t = timed(|| {
        for _ in 0..n {
            let r = chain.engine.simulate(&chain.store, &ctx, &tx).expect("sim");
            assert!(r.is_success());
        }
    });
    let keel_fib = Measurement::new(format!("Keel fib({arg}), metered"), t, n);
    let nofuel = PlainWasm::new(keel_contracts::COMPUTE, false);
    let t = timed(|| {
        for _ in 0..n {
            nofuel.call("fib", &arg.encode());
        }
    });
    let plain_fib = Measurement::new(format!("plain wasmi fib({arg}), no fuel"), t, n);
    let fuel = PlainWasm::new(keel_contracts::COMPUTE, true);
    let t = timed(|| {
        for _ in 0..n {
            fuel.call("fib", &arg.encode());
        }
    });
    let fuel_fib = Measurement::new(format!("plain wasmi fib({arg}), fuel"), t, n).vs(&plain_fib);
    out.push(keel_fib.vs(&plain_fib));
    out.push(fuel_fib);
    out.push(plain_fib);

    // Merkle commit of 1k updates at 10k keys vs a raw WriteBatch of the same pairs.
    next(progress);
    let existing = 10_000u64;
    let mut store = Store::open(dir.path().join("merkle")).expect("store");
    fill(&mut store, existing, 10_000);
    let raw = RawDb::open(&dir.path().join("raw"));
    raw.fill(existing, 10_000);
    let rounds = 5u64;
    let sets: Vec<_> = (0..rounds).map(|r| updates(existing, 1_000, r)).collect();
    let t = timed(|| {
        for s in &sets {
            store.commit(&change_set(s)).expect("commit");
        }
    });
    let merkle = Measurement::new("Keel Store commit, 1k updates @10k keys", t, rounds);
    let t = timed(|| {
        for s in &sets {
            raw.write(s);
        }
    });
    let raw_m = Measurement::new("raw RocksDB WriteBatch, same pairs", t, rounds);
    out.push(merkle.vs(&raw_m));
    out.push(raw_m);

    // Proof generation and verification at 10k keys.
    next(progress);
    let version = store.version();
    let root = store.root();
    let keys: Vec<_> = (0..1_000u64).map(crate::keel::filler_key).collect();
    let mut proofs = Vec::with_capacity(keys.len());
    let t = timed(|| {
        for k in &keys {
            proofs.push(store.prove(k, version).expect("prove"));
        }
    });
    out.push(Measurement::new(
        "proof generation @10k keys",
        t,
        keys.len() as u64,
    ));
    let values: Vec<_> = keys
        .iter()
        .map(|k| keel_state::StateRead::get(&store, k).expect("get"))
        .collect();
    let t = timed(|| {
        for ((k, p), v) in keys.iter().zip(&proofs).zip(&values) {
            assert!(p.verify(&root, k, v.as_deref()).is_ok());
        }
    });
    out.push(Measurement::new("proof verification", t, keys.len() as u64));

    progress(total, total, "done");
    out
}
