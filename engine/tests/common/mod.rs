//! Shared test harness: a tiny chain over `MemStore`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::new_without_default,
    dead_code,
    missing_docs
)]

use std::collections::BTreeMap;

use keel_engine::{
    Action, Address, BlockContext, Engine, EngineConfig, Hash, Receipt, Status, Transaction,
};
use keel_state::MemStore;

pub const ALICE: Address = [0xA1; 32];
pub const BOB: Address = [0xB0; 32];
pub const GAS: u64 = 10_000_000;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../contracts/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub struct Chain {
    pub engine: Engine,
    pub store: MemStore,
    pub ctx: BlockContext,
    pub nonces: BTreeMap<Address, u64>,
}

impl Chain {
    pub fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub fn with_config(config: EngineConfig) -> Self {
        Self {
            engine: Engine::new(config),
            store: MemStore::new(),
            ctx: BlockContext {
                height: 7,
                timestamp: 1_700_000_000_000,
            },
            nonces: BTreeMap::new(),
        }
    }

    pub fn make_tx(&self, sender: Address, gas_limit: u64, action: Action) -> Transaction {
        Transaction {
            sender,
            nonce: self.nonces.get(&sender).copied().unwrap_or(0),
            gas_limit,
            action,
        }
    }

    pub fn note(&mut self, tx: &Transaction, r: &Receipt) {
        if !matches!(r.status, Status::Invalid(_)) {
            *self.nonces.entry(tx.sender).or_default() += 1;
        }
    }

    pub fn run(&mut self, sender: Address, gas_limit: u64, action: Action) -> Receipt {
        self.run_with_root(sender, gas_limit, action).0
    }

    /// Runs one transaction as a block: its receipt and the state root after the block.
    pub fn run_with_root(
        &mut self,
        sender: Address,
        gas_limit: u64,
        action: Action,
    ) -> (Receipt, Hash) {
        let tx = self.make_tx(sender, gas_limit, action);
        let mut out = self
            .engine
            .execute_block(&mut self.store, &self.ctx, std::slice::from_ref(&tx))
            .unwrap();
        let r = out.receipts.pop().unwrap();
        self.note(&tx, &r);
        (r, out.state_root)
    }

    pub fn upload(&mut self, code: Vec<u8>) -> Hash {
        let r = self.run(ALICE, GAS * 10, Action::Deploy { code });
        assert_eq!(r.status, Status::Success, "{r:?}");
        r.return_data.try_into().unwrap()
    }

    pub fn instantiate(&mut self, code_hash: Hash, salt: &[u8], args: Vec<u8>) -> Address {
        let r = self.run(
            ALICE,
            GAS,
            Action::Instantiate {
                code_hash,
                salt: salt.to_vec(),
                args,
            },
        );
        assert_eq!(r.status, Status::Success, "{r:?}");
        r.return_data.try_into().unwrap()
    }

    pub fn deploy(&mut self, name: &str, args: Vec<u8>) -> Address {
        let hash = self.upload(fixture(name));
        self.instantiate(hash, name.as_bytes(), args)
    }

    pub fn call(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Receipt {
        self.call_gas(sender, contract, method, args, GAS)
    }

    pub fn call_gas(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
        gas: u64,
    ) -> Receipt {
        self.run(
            sender,
            gas,
            Action::Call {
                contract,
                method: method.to_string(),
                args,
            },
        )
    }
}

pub fn transfer_args(to: Address, amount: u64) -> Vec<u8> {
    let mut a = to.to_vec();
    a.extend_from_slice(&amount.to_le_bytes());
    a
}

/// The data-driven test check (rust-analyzer's expect style): `lines` must equal the committed
/// file `tests/{rel}`; with `KEEL_BLESS=1` the file is rewritten instead, and the diff is
/// reviewed in the commit. `what` names the vectors in the failure message.
pub fn expect_file(rel: &str, what: &str, lines: &[String]) {
    let path = format!("{}/tests/{rel}", env!("CARGO_MANIFEST_DIR"));
    let actual = lines.join("\n") + "\n";
    if std::env::var_os("KEEL_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{path} missing: run with KEEL_BLESS=1 to create it"));
    if expected != actual {
        let mut diff = String::new();
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        for i in 0..e.len().max(a.len()) {
            let (x, y) = (e.get(i).copied(), a.get(i).copied());
            if x != y {
                diff.push_str(&format!(
                    "- {}\n+ {}\n",
                    x.unwrap_or("<none>"),
                    y.unwrap_or("<none>")
                ));
            }
        }
        panic!("{what} changed ({path}); if deliberate, rerun with KEEL_BLESS=1:\n{diff}");
    }
}
