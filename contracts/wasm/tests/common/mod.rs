//! A minimal chain for running the example contracts through the real engine: one
//! transaction per block on a `MemStore`.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)] // shared by several test files

use std::collections::BTreeMap;

use keel_engine::{
    Action, Address, BlockContext, Engine, EngineConfig, Receipt, Status, Transaction,
};
use keel_state::MemStore;
use parity_scale_codec::{Decode, DecodeAll, Encode};

pub const GAS: u64 = 50_000_000;

pub const ALICE: Address = [0xa1; 32];
pub const BOB: Address = [0xb0; 32];
pub const CAROL: Address = [0xc0; 32];

pub struct Chain {
    pub engine: Engine,
    pub store: MemStore,
    pub ctx: BlockContext,
    nonces: BTreeMap<Address, u64>,
}

impl Chain {
    pub fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub fn with_config(config: EngineConfig) -> Self {
        Chain {
            engine: Engine::new(config),
            store: MemStore::new(),
            ctx: BlockContext {
                height: 1,
                timestamp: 1_000,
            },
            nonces: BTreeMap::new(),
        }
    }

    /// Runs one transaction in its own block.
    pub fn tx(&mut self, sender: Address, action: Action) -> Receipt {
        let nonce = self.nonces.entry(sender).or_insert(0);
        let tx = Transaction {
            sender,
            nonce: *nonce,
            gas_limit: GAS,
            action,
        };
        let out = self
            .engine
            .execute_block(&mut self.store, &self.ctx, &[tx])
            .expect("store");
        let receipt = out.receipts.into_iter().next().expect("one receipt");
        if !matches!(receipt.status, Status::Invalid(_)) {
            *nonce += 1;
        }
        self.ctx.height += 1;
        receipt
    }

    /// Deploys `code` and instantiates it with the SCALE constructor `args` (for `init`).
    pub fn instantiate(&mut self, sender: Address, code: &[u8], args: impl Encode) -> Address {
        let r = self.tx(
            sender,
            Action::Deploy {
                code: code.to_vec(),
            },
        );
        assert_eq!(r.status, Status::Success, "deploy");
        let code_hash: [u8; 32] = r.return_data.try_into().expect("code hash");
        let salt = self.nonces[&sender].to_le_bytes().to_vec();
        let r = self.tx(
            sender,
            Action::Instantiate {
                code_hash,
                salt,
                args: args.encode(),
            },
        );
        assert_eq!(r.status, Status::Success, "instantiate: {r:?}");
        r.return_data.try_into().expect("address")
    }

    /// Calls `method` with the SCALE tuple `args`.
    pub fn call(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: impl Encode,
    ) -> Receipt {
        self.call_raw(sender, contract, method, args.encode())
    }

    /// Calls `method` with raw input bytes.
    pub fn call_raw(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Receipt {
        self.tx(
            sender,
            Action::Call {
                contract,
                method: method.to_string(),
                args,
            },
        )
    }

    /// Calls `method` and decodes a successful result as `T`.
    pub fn call_ok<T: Decode>(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: impl Encode,
    ) -> T {
        let r = self.call(sender, contract, method, args);
        assert_eq!(r.status, Status::Success, "{method}: {r:?}");
        T::decode_all(&mut r.return_data.as_slice()).expect("return value decodes")
    }

    /// A read-only call, decoded as `T`.
    pub fn view<T: Decode>(&self, contract: Address, method: &str, args: impl Encode) -> T {
        let r = self
            .engine
            .query(
                &self.store,
                &self.ctx,
                ALICE,
                contract,
                method,
                args.encode(),
                GAS,
            )
            .expect("store");
        assert_eq!(r.status, Status::Success, "{method}: {r:?}");
        T::decode_all(&mut r.return_data.as_slice()).expect("view value decodes")
    }
}

/// `Status::Reverted` with the SCALE encoding of a typed error.
pub fn reverted_with(e: impl Encode) -> Status {
    Status::Reverted(e.encode())
}
