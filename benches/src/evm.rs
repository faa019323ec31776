//! The EVM peer (revm 43, Cancun-compiled ERC-20 from `benches/evm/`): the same workloads as
//! Keel's token benchmarks, one transaction at a time, each committed into revm's in-memory
//! `CacheDB` (no Merkle root: revm computes none).

use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::{Address, Bytes, U256};
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

/// Creation code of `benches/evm/Erc20.sol` (constructor `(uint256 supply)`), made by
/// `benches/evm/gen.sh` with solc.
pub const ERC20_CREATION_HEX: &str = include_str!("../evm/Erc20.bin.hex");

/// revm with the mainnet handler over an in-memory database.
pub type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// Gas limit of a transfer transaction.
const TRANSFER_GAS: u64 = 200_000;

/// The 20-byte EVM address of the `i`th benchmark account (the first 20 bytes of
/// [`crate::account`]).
pub fn evm_account(i: u64) -> Address {
    Address::from_slice(&crate::account(i)[..20])
}

/// An EVM with a funded sender and the ERC-20 deployed with the sender holding the supply.
pub struct EvmChain {
    /// The EVM (its context holds the database).
    pub evm: Evm,
    /// The sender of every transaction.
    pub sender: Address,
    /// The deployed ERC-20.
    pub token: Address,
    /// The sender's next nonce.
    pub nonce: u64,
}

impl Default for EvmChain {
    fn default() -> Self {
        Self::new()
    }
}

impl EvmChain {
    /// Deploys the ERC-20 from `evm_account(0)`, which gets `u128::MAX / 2` tokens and
    /// 10^30 wei.
    pub fn new() -> Self {
        let sender = evm_account(0);
        let mut db = CacheDB::<EmptyDB>::default();
        db.insert_account_info(
            sender,
            AccountInfo::from_balance(U256::from(10u64).pow(U256::from(30u64))),
        );
        let mut evm = Context::mainnet().with_db(db).build_mainnet();
        let mut code = hex::decode(ERC20_CREATION_HEX.trim()).expect("hex bytecode");
        code.extend_from_slice(&U256::from(u128::MAX / 2).to_be_bytes::<32>());
        let tx = TxEnv::builder()
            .caller(sender)
            .create()
            .data(Bytes::from(code))
            .gas_limit(5_000_000)
            .nonce(0)
            .build()
            .expect("create tx");
        let result = evm.transact_commit(tx).expect("deploy");
        assert!(result.is_success(), "ERC-20 deploy failed: {result:?}");
        let token = result.created_address().expect("created address");
        EvmChain {
            evm,
            sender,
            token,
            nonce: 1,
        }
    }

    fn tx(&mut self, to: Address, value: U256, data: Vec<u8>, gas: u64) -> TxEnv {
        let tx = TxEnv::builder()
            .caller(self.sender)
            .call(to)
            .value(value)
            .data(Bytes::from(data))
            .gas_limit(gas)
            .nonce(self.nonce)
            .build()
            .expect("tx");
        self.nonce += 1;
        tx
    }

    /// `n` plain value transfers of 1 wei to `recipients` distinct accounts in turn.
    pub fn value_transfers(&mut self, n: usize, recipients: u64) -> Vec<TxEnv> {
        (0..n as u64)
            .map(|i| {
                let to = evm_account(1 + (self.nonce.wrapping_add(i)) % recipients.max(1));
                self.tx(to, U256::from(1u64), Vec::new(), 21_000)
            })
            .collect()
    }

    /// `n` ERC-20 `transfer(to, 1)` calls to `recipients` distinct accounts in turn.
    pub fn erc20_transfers(&mut self, n: usize, recipients: u64) -> Vec<TxEnv> {
        let token = self.token;
        (0..n as u64)
            .map(|i| {
                let to = evm_account(1 + (self.nonce.wrapping_add(i)) % recipients.max(1));
                let mut data = Vec::with_capacity(68);
                data.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]); // transfer(address,uint256)
                data.extend_from_slice(&[0u8; 12]);
                data.extend_from_slice(to.as_slice());
                data.extend_from_slice(&U256::from(1u64).to_be_bytes::<32>());
                self.tx(token, U256::ZERO, data, TRANSFER_GAS)
            })
            .collect()
    }

    /// Executes and commits each transaction in turn; panics if one fails.
    pub fn run(&mut self, txs: Vec<TxEnv>) {
        for tx in txs {
            let result = self.evm.transact_commit(tx).expect("evm error");
            assert!(result.is_success(), "EVM transfer failed: {result:?}");
        }
    }
}
