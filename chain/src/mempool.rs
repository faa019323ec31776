//! A bounded mempool of verified transactions, ordered by nonce per sender.
//!
//! Admission ([`Mempool::add`]) checks, in order: size, encoding, chain id, signature (see
//! [`crate::tx`]), gas limit ≤ the block gas limit, nonce ≥ the sender's next nonce in state
//! (else `Replayed`) and < next + `max_nonce_ahead`, no other pending transaction with the
//! same sender and nonce, and room (count and bytes). A block proposal takes, per sender, only
//! the run of consecutive nonces that starts at the sender's next nonce, so everything it
//! proposes can execute in order. After each committed block [`Mempool::recheck`] drops every
//! transaction whose nonce the state has passed (included, or replaced).
//!
//! Invariant: the mempool never holds two transactions with the same (sender, nonce), nor
//! one whose nonce is below its sender's next nonce at the last recheck.

use std::collections::BTreeMap;

use crate::Address;
use crate::tx::{SignedTx, TxError, VerifiedTx};

/// The mempool's limits and the chain's admission rules.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    /// The chain id transactions must be signed for.
    pub chain_id: String,
    /// Most transactions held.
    pub max_txs: usize,
    /// Most bytes held (sum of transaction sizes).
    pub max_bytes: usize,
    /// Largest transaction.
    pub max_tx_bytes: usize,
    /// The block gas limit: no transaction may ask for more.
    pub block_gas_limit: u64,
    /// How far past the sender's next nonce a transaction may be.
    pub max_nonce_ahead: u64,
}

/// The mempool.
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    by_sender: BTreeMap<Address, BTreeMap<u64, VerifiedTx>>,
    by_hash: BTreeMap<[u8; 32], (Address, u64)>,
    bytes: usize,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(config: MempoolConfig) -> Self {
        Self {
            config,
            by_sender: BTreeMap::new(),
            by_hash: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Whether a transaction with this hash is waiting.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Checks `bytes` and admits it; `next_nonce` reads a sender's next nonce from state.
    pub fn add(
        &mut self,
        bytes: &[u8],
        next_nonce: impl Fn(&Address) -> Result<u64, String>,
    ) -> Result<VerifiedTx, TxError> {
        let v = SignedTx::verify_bytes(bytes, &self.config.chain_id, self.config.max_tx_bytes)?;
        self.admit(v, next_nonce)
    }

    /// Admits an already verified transaction (the checks after the signature).
    pub fn admit(
        &mut self,
        v: VerifiedTx,
        next_nonce: impl Fn(&Address) -> Result<u64, String>,
    ) -> Result<VerifiedTx, TxError> {
        if v.tx.gas_limit > self.config.block_gas_limit {
            return Err(TxError::GasLimitTooHigh {
                gas_limit: v.tx.gas_limit,
                max: self.config.block_gas_limit,
            });
        }
        let next = next_nonce(&v.tx.sender).map_err(TxError::State)?;
        if v.tx.nonce < next {
            return Err(TxError::Replayed {
                next,
                got: v.tx.nonce,
            });
        }
        if v.tx.nonce - next >= self.config.max_nonce_ahead {
            return Err(TxError::NonceTooFarAhead {
                next,
                got: v.tx.nonce,
            });
        }
        if self
            .by_sender
            .get(&v.tx.sender)
            .is_some_and(|m| m.contains_key(&v.tx.nonce))
        {
            return Err(TxError::Duplicate);
        }
        if self.by_hash.len() >= self.config.max_txs
            || self.bytes + v.bytes.len() > self.config.max_bytes
        {
            return Err(TxError::MempoolFull);
        }
        self.bytes += v.bytes.len();
        self.by_hash.insert(v.hash, (v.tx.sender, v.tx.nonce));
        self.by_sender
            .entry(v.tx.sender)
            .or_default()
            .insert(v.tx.nonce, v.clone());
        Ok(v)
    }

    /// The transactions for the next block: per sender the consecutive run from its next
    /// nonce, taken round-robin across senders (one nonce per sender per round, senders in
    /// address order), while the sum of gas limits stays ≤ `gas_limit` and the sum of sizes
    /// ≤ `byte_limit`.
    pub fn select(
        &self,
        gas_limit: u64,
        byte_limit: usize,
        next_nonce: impl Fn(&Address) -> Result<u64, String>,
    ) -> Vec<VerifiedTx> {
        let mut cursors: Vec<(u64, &BTreeMap<u64, VerifiedTx>)> = Vec::new();
        for (sender, txs) in &self.by_sender {
            if let Ok(n) = next_nonce(sender) {
                cursors.push((n, txs));
            }
        }
        let (mut gas, mut bytes) = (0u64, 0usize);
        let mut out = Vec::new();
        let mut progress = true;
        while progress {
            progress = false;
            for (next, txs) in cursors.iter_mut() {
                let Some(v) = txs.get(next) else { continue };
                let g = gas.saturating_add(v.tx.gas_limit);
                let b = bytes.saturating_add(v.bytes.len());
                if g > gas_limit || b > byte_limit {
                    continue;
                }
                gas = g;
                bytes = b;
                out.push(v.clone());
                *next += 1;
                progress = true;
            }
        }
        out
    }

    /// Drops every transaction whose nonce is below its sender's next nonce in state (after a
    /// block), and those whose sender's nonce cannot be read.
    pub fn recheck(&mut self, next_nonce: impl Fn(&Address) -> Result<u64, String>) {
        let senders: Vec<Address> = self.by_sender.keys().copied().collect();
        for s in senders {
            let next = next_nonce(&s).unwrap_or(u64::MAX);
            let Some(txs) = self.by_sender.get_mut(&s) else {
                continue;
            };
            let keep = txs.split_off(&next);
            for (_, v) in std::mem::replace(txs, keep) {
                self.bytes -= v.bytes.len();
                self.by_hash.remove(&v.hash);
            }
            if txs.is_empty() {
                self.by_sender.remove(&s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tx::{TxPayload, signing_key};
    use keel_engine::Action;
    use parity_scale_codec::Encode;
    use std::cell::RefCell;

    fn cfg() -> MempoolConfig {
        MempoolConfig {
            chain_id: "c".into(),
            max_txs: 5,
            max_bytes: 1 << 20,
            max_tx_bytes: 4096,
            block_gas_limit: 1_000,
            max_nonce_ahead: 4,
        }
    }

    fn tx(seed: u8, nonce: u64, gas: u64) -> Vec<u8> {
        SignedTx::sign(
            TxPayload {
                chain_id: "c".into(),
                nonce,
                gas_limit: gas,
                action: Action::Deploy { code: vec![] },
            },
            &signing_key(&[seed; 32]),
        )
        .encode()
    }

    #[test]
    fn admission_selection_and_recheck() {
        let state: RefCell<BTreeMap<Address, u64>> = RefCell::default();
        let nonce = |a: &Address| Ok(state.borrow().get(a).copied().unwrap_or(0));
        let mut m = Mempool::new(cfg());
        let a = m.add(&tx(1, 0, 100), nonce).unwrap().tx.sender;
        assert_eq!(m.add(&tx(1, 0, 100), nonce), Err(TxError::Duplicate));
        m.add(&tx(1, 2, 100), nonce).unwrap(); // a gap: not selectable yet
        assert!(matches!(
            m.add(&tx(1, 4, 100), nonce),
            Err(TxError::NonceTooFarAhead { .. })
        ));
        assert!(matches!(
            m.add(&tx(2, 0, 1_001), nonce),
            Err(TxError::GasLimitTooHigh { .. })
        ));
        m.add(&tx(2, 0, 600), nonce).unwrap();
        m.add(&tx(2, 1, 600), nonce).unwrap();
        m.add(&tx(3, 0, 300), nonce).unwrap();
        assert_eq!(m.add(&tx(4, 0, 1), nonce), Err(TxError::MempoolFull));
        assert_eq!(m.len(), 5);

        // Gas limit 1_000: a's nonce 0 (100), then the senders in address order, one per round,
        // skipping what does not fit; a's nonce 2 waits for nonce 1.
        let picked = m.select(1_000, usize::MAX, nonce);
        let gas: u64 = picked.iter().map(|v| v.tx.gas_limit).sum();
        assert!(gas <= 1_000);
        assert!(
            picked
                .iter()
                .all(|v| !(v.tx.sender == a && v.tx.nonce == 2))
        );
        assert_eq!(m.select(1_000, 0, nonce), vec![]);

        // A block includes a's nonce 0 and 1 (1 from elsewhere): a's 0 is dropped, 2 stays.
        state.borrow_mut().insert(a, 2);
        m.recheck(nonce);
        assert_eq!(m.len(), 4);
        assert!(matches!(
            m.add(&tx(1, 1, 100), nonce),
            Err(TxError::Replayed { next: 2, got: 1 })
        ));
        let picked = m.select(1_000, usize::MAX, nonce);
        assert!(picked.iter().any(|v| v.tx.sender == a && v.tx.nonce == 2));
    }
}
