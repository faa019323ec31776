//! Blocks: what a proposer builds, what validators check, what every node executes.
//!
//! Invariant: the state root after height h − 1 is bound into consensus through block h:
//! `Block::prev_root` is the proposer's root after h − 1, and a validator marks a proposal
//! `Invalid` unless it equals its own. Binding the previous root (rather than the block's own
//! post-state root) lets a proposer propose without executing first and lets every validator
//! execute each block exactly once, after it is decided. A validator whose own root after h − 1
//! differs from the `prev_root` of a decided block h has diverged: it stops and says so.

use keel_chain::tx::{SignedTx, VerifiedTx};
use keel_engine::Transaction;
use parity_scale_codec::{Decode, DecodeAll, Encode};

use crate::context::BlockHash;
use crate::genesis::Genesis;

/// A block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    /// Its height (≥ 1).
    pub height: u64,
    /// Milliseconds since the Unix epoch, as the proposer saw it; never below the previous
    /// block's.
    pub timestamp: u64,
    /// The state root after height − 1 (the genesis root for height 1).
    pub prev_root: [u8; 32],
    /// The proposer's address.
    pub proposer: [u8; 32],
    /// The SCALE-encoded `SignedTx`s, in execution order.
    pub txs: Vec<Vec<u8>>,
}

/// Why a block is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// Bytes that are not one SCALE block.
    Undecodable,
    /// Wrong height.
    Height {
        /// Expected.
        expected: u64,
        /// Found.
        got: u64,
    },
    /// Its `prev_root` is not this node's root after the previous height.
    PrevRoot {
        /// This node's root.
        ours: [u8; 32],
        /// The block's.
        theirs: [u8; 32],
    },
    /// Timestamp below the previous block's.
    Timestamp,
    /// Over the byte limit or the transaction count limit.
    TooLarge,
    /// The sum of gas limits is over the block gas limit.
    GasLimit,
    /// A transaction that fails size, encoding, chain id or signature checks.
    BadTx(usize, String),
    /// Proposer claimed in the stream differs from the block's.
    Proposer,
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockError::Undecodable => f.write_str("undecodable block"),
            BlockError::Height { expected, got } => write!(f, "height {got}, expected {expected}"),
            BlockError::PrevRoot { ours, theirs } => write!(
                f,
                "previous state root {} differs from ours {}",
                hex::encode(theirs),
                hex::encode(ours)
            ),
            BlockError::Timestamp => f.write_str("timestamp before the previous block's"),
            BlockError::TooLarge => f.write_str("block over the byte or transaction limit"),
            BlockError::GasLimit => f.write_str("block over the gas limit"),
            BlockError::BadTx(i, e) => write!(f, "transaction {i}: {e}"),
            BlockError::Proposer => f.write_str("proposer mismatch"),
        }
    }
}

impl Block {
    /// The SCALE bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Decodes exactly one block.
    pub fn from_bytes(bytes: &[u8]) -> Result<Block, BlockError> {
        Block::decode_all(&mut &bytes[..]).map_err(|_| BlockError::Undecodable)
    }

    /// The block hash: `blake3("keel.block v1" ‖ SCALE(block))`.
    pub fn hash(&self) -> BlockHash {
        hash_bytes(&self.to_bytes())
    }

    /// Checks everything about a proposed block that does not need executing it, and returns
    /// its verified transactions.
    pub fn check(
        &self,
        genesis: &Genesis,
        height: u64,
        prev_root: [u8; 32],
        prev_timestamp: u64,
        encoded_len: usize,
    ) -> Result<Vec<VerifiedTx>, BlockError> {
        if self.height != height {
            return Err(BlockError::Height {
                expected: height,
                got: self.height,
            });
        }
        if self.prev_root != prev_root {
            return Err(BlockError::PrevRoot {
                ours: prev_root,
                theirs: self.prev_root,
            });
        }
        if self.timestamp < prev_timestamp {
            return Err(BlockError::Timestamp);
        }
        if encoded_len > genesis.block_max_bytes || self.txs.len() > genesis.block_max_txs {
            return Err(BlockError::TooLarge);
        }
        let mut gas = 0u64;
        let mut out = Vec::with_capacity(self.txs.len());
        for (i, b) in self.txs.iter().enumerate() {
            let v = SignedTx::verify_bytes(b, &genesis.chain_id, SignedTx::MAX_BYTES)
                .map_err(|e| BlockError::BadTx(i, e.to_string()))?;
            gas = gas.saturating_add(v.tx.gas_limit);
            out.push(v);
        }
        if gas > genesis.block_gas_limit {
            return Err(BlockError::GasLimit);
        }
        Ok(out)
    }

    /// The engine's view of the transactions: each verified one SCALE-encoded, anything that
    /// fails verification as empty bytes (an `Invalid(Undecodable)` receipt, no state change).
    /// Decided blocks only hold verified transactions while at least 2/3 of the voting power
    /// is honest; this keeps execution total anyway.
    pub fn engine_txs(&self, chain_id: &str) -> Vec<Vec<u8>> {
        self.txs
            .iter()
            .map(
                |b| match SignedTx::verify_bytes(b, chain_id, SignedTx::MAX_BYTES) {
                    Ok(v) => Transaction::encode(&v.tx),
                    Err(_) => Vec::new(),
                },
            )
            .collect()
    }
}

/// The hash of a block's bytes.
pub fn hash_bytes(bytes: &[u8]) -> BlockHash {
    let mut h = blake3::Hasher::new();
    h.update(b"keel.block v1");
    h.update(bytes);
    BlockHash(*h.finalize().as_bytes())
}
