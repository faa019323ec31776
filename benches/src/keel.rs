//! Keel workloads: an engine over a store with the example token deployed and funded, and
//! blocks of token transfers; filling a store with many keys; building update sets.

use keel_engine::{Action, Address, BlockContext, BlockOutcome, Engine, Transaction};
use keel_state::{ChangeSet, StateStore};
use parity_scale_codec::Encode;

use crate::{account, pseudo_bytes};

/// Gas limit of every benchmark transaction (far above what any of them uses).
pub const GAS_LIMIT: u64 = 1_000_000_000;

/// An engine, a store and one deployed contract, with the next nonce of the sender.
pub struct Chain<S> {
    /// The engine (its module cache is warm after the first call).
    pub engine: Engine,
    /// The store the blocks commit to.
    pub store: S,
    /// The account that sends every transaction.
    pub sender: Address,
    /// The deployed contract.
    pub contract: Address,
    /// The sender's next nonce.
    pub nonce: u64,
    /// The height of the next block.
    pub height: u64,
}

impl<S: StateStore> Chain<S> {
    /// Deploys `code`, instantiates it (calling `init` with `init_args` if it has one) from
    /// the account `account(0)`, on `store`.
    pub fn deploy(store: S, code: &[u8], init_args: Vec<u8>) -> Self {
        let mut chain = Chain {
            engine: Engine::default(),
            store,
            sender: account(0),
            contract: [0; 32],
            nonce: 0,
            height: 1,
        };
        let out = chain.block(&[chain.tx(Action::Deploy {
            code: code.to_vec(),
        })]);
        assert!(
            out.receipts[0].is_success(),
            "deploy: {:?}",
            out.receipts[0]
        );
        let code_hash: [u8; 32] = out.receipts[0].return_data.clone().try_into().unwrap();
        chain.nonce += 1;
        let out = chain.block(&[chain.tx(Action::Instantiate {
            code_hash,
            salt: Vec::new(),
            args: init_args,
        })]);
        assert!(
            out.receipts[0].is_success(),
            "instantiate: {:?}",
            out.receipts[0]
        );
        chain.contract = out.receipts[0].return_data.clone().try_into().unwrap();
        chain.nonce += 1;
        chain
    }

    /// The example token, initialised with the sender as admin, who mints itself
    /// `u128::MAX / 2`.
    pub fn token(store: S) -> Self {
        let mut chain = Self::deploy(store, keel_contracts::TOKEN, Vec::new());
        let mint = chain.call_tx("mint", (chain.sender, u128::MAX / 2).encode());
        let out = chain.block(&[mint]);
        assert!(out.receipts[0].is_success(), "mint: {:?}", out.receipts[0]);
        chain
    }

    /// A transaction from the sender with the next nonce (not consumed).
    pub fn tx(&self, action: Action) -> Transaction {
        Transaction {
            sender: self.sender,
            nonce: self.nonce,
            gas_limit: GAS_LIMIT,
            action,
        }
    }

    /// A call of the contract's `method` with SCALE `args`, consuming a nonce.
    pub fn call_tx(&mut self, method: &str, args: Vec<u8>) -> Transaction {
        let tx = self.tx(Action::Call {
            contract: self.contract,
            method: method.to_string(),
            args,
        });
        self.nonce += 1;
        tx
    }

    /// `n` token transfers of 1 unit from the sender to `recipients` distinct accounts in turn.
    pub fn transfers(&mut self, n: usize, recipients: u64) -> Vec<Transaction> {
        (0..n as u64)
            .map(|i| {
                let to = account(1 + (self.nonce.wrapping_add(i)) % recipients.max(1));
                self.call_tx("transfer", (to, 1u128).encode())
            })
            .collect()
    }

    /// Executes and commits `txs` as the next block.
    pub fn block(&mut self, txs: &[Transaction]) -> BlockOutcome {
        let ctx = BlockContext {
            height: self.height,
            timestamp: self.height * 1000,
        };
        self.height += 1;
        self.engine
            .execute_block(&mut self.store, &ctx, txs)
            .expect("store failure")
    }

    /// Executes a block and checks every receipt is a success.
    pub fn block_ok(&mut self, txs: &[Transaction]) -> BlockOutcome {
        let out = self.block(txs);
        if let Some(bad) = out.receipts.iter().find(|r| !r.is_success()) {
            panic!("a benchmark transaction failed: {bad:?}");
        }
        out
    }
}

/// Key `i` of the filler set: 33 bytes under the contract-storage prefix `0x04`, like a
/// contract's storage key, spread uniformly over the tree.
pub fn filler_key(i: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(0x04);
    k.extend_from_slice(&pseudo_bytes::<32>(0xf111_0000_0000_0000 ^ i));
    k
}

/// A 32-byte value derived from `(i, round)`.
pub fn filler_value(i: u64, round: u64) -> Vec<u8> {
    pseudo_bytes::<32>(i.wrapping_mul(0x1000_0000_01b3) ^ round.rotate_left(32)).to_vec()
}

/// Commits `n` filler keys to `store` in chunks of at most `chunk` keys.
pub fn fill<S: StateStore>(store: &mut S, n: u64, chunk: u64) {
    fill_with(store, n, chunk, |_| {});
}

/// [`fill`], calling `after` after each chunk's commit (e.g. to prune a `MemStore`).
pub fn fill_with<S: StateStore>(store: &mut S, n: u64, chunk: u64, mut after: impl FnMut(&mut S)) {
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let mut cs = ChangeSet::new();
        for i in start..end {
            cs.put(filler_key(i), filler_value(i, 0));
        }
        store.commit(&cs).expect("fill commit");
        after(store);
        start = end;
    }
}

/// `count` updates of existing filler keys (out of `existing`), new values for `round`.
pub fn updates(existing: u64, count: u64, round: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..count)
        .map(|j| {
            let i = u64::from_le_bytes(pseudo_bytes::<8>(round << 32 | j)) % existing.max(1);
            (filler_key(i), filler_value(i, round + 1))
        })
        .collect()
}

/// The pairs as a [`ChangeSet`].
pub fn change_set(pairs: &[(Vec<u8>, Vec<u8>)]) -> ChangeSet {
    let mut cs = ChangeSet::new();
    for (k, v) in pairs {
        cs.put(k.clone(), v.clone());
    }
    cs
}

/// A module with one method that does nothing: the "empty call" workload.
pub const EMPTY_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "noop")))"#;

/// [`EMPTY_WAT`] as wasm bytes.
pub fn empty_module() -> Vec<u8> {
    wat::parse_str(EMPTY_WAT).expect("empty module")
}

/// A contract whose method `write_n` reads a SCALE `u32` n and writes n distinct 32-byte
/// values (keys: the 4-byte little-endian index): the storage-heavy workload.
pub const STORAGE_WAT: &str = r#"(module
  (import "keel" "input" (func $input (param i32 i32) (result i32)))
  (import "keel" "storage_set" (func $set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "write_n")
    (local $i i32) (local $n i32)
    (drop (call $input (i32.const 0) (i32.const 4)))
    (local.set $n (i32.load (i32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.const 16) (local.get $i))
        (i32.store (i32.const 64) (i32.add (local.get $i) (i32.const 0x5eed)))
        (call $set (i32.const 16) (i32.const 4) (i32.const 64) (i32.const 32))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))"#;

/// [`STORAGE_WAT`] as wasm bytes.
pub fn storage_module() -> Vec<u8> {
    wat::parse_str(STORAGE_WAT).expect("storage module")
}

/// A valid Keel module of at least `target` bytes: one exported method `run` and as many
/// internal integer-arithmetic functions (about 1.5 KB each) as it takes, for the upload
/// (validate + compile) benchmarks.
pub fn synthetic_module(target: usize) -> Vec<u8> {
    let func = |i: usize| {
        let mut body = String::new();
        for j in 0..200u64 {
            let c = 0x1_0000_0000u64 + (i as u64) * 1_000 + j;
            let op = ["i64.add", "i64.xor", "i64.mul", "i64.sub"][(j % 4) as usize];
            body.push_str(&format!(
                " (local.set 0 ({op} (local.get 0) (i64.const {c})))"
            ));
        }
        format!("  (func $f{i} (param i64) (result i64){body} (local.get 0))\n")
    };
    let build = |n: usize| {
        let mut s = String::from("(module\n  (memory (export \"memory\") 1)\n");
        for i in 0..n {
            s.push_str(&func(i));
        }
        s.push_str("  (func (export \"run\") (drop (call $f0 (i64.const 1)))))\n");
        wat::parse_str(&s).expect("synthetic module")
    };
    let one = build(1).len();
    let two = build(2).len();
    let per = (two - one).max(1);
    let n = 1 + target.saturating_sub(one).div_ceil(per);
    build(n)
}
