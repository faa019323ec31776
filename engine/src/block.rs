//! The block API a node needs beyond [`crate::Engine::execute_block`]: execute a block without
//! committing and commit that same result later ([`PendingBlock`]), read an account's nonce
//! ([`nonce`]), and bind a block's receipts into one hash ([`receipts_root`]).
//!
//! A consensus node executes a decided block once, compares or publishes its root, and only
//! then commits: [`crate::Engine::execute_pending`] gives the receipts and the change set,
//! [`crate::Engine::commit_pending`] writes exactly that change set. `execute_block` is the
//! two in a row, so both paths give the same receipts, gas and root.

use keel_state::{ChangeSet, StateRead, Version};
use parity_scale_codec::{DecodeAll, Encode};

use crate::{Address, EngineError, Hash, Receipt};

/// A block that has been executed on top of a known state version but not committed.
///
/// It is only valid on the state it was executed on: [`crate::Engine::commit_pending`] refuses
/// it (with [`EngineError::Internal`]) if the store's version or root has moved since.
#[derive(Debug, Clone)]
pub struct PendingBlock {
    /// One receipt per transaction, in order (what `execute_block` would return).
    pub receipts: Vec<Receipt>,
    /// The writes of the whole block.
    pub changes: ChangeSet,
    /// The store version the block was executed on.
    pub base_version: Version,
    /// The store root the block was executed on.
    pub base_root: Hash,
}

/// An account's next nonce as stored in `state` (`0x03 ‖ account`; 0 if absent).
pub fn nonce<S: StateRead + ?Sized>(state: &S, account: &Address) -> Result<u64, EngineError> {
    match state.get(&crate::exec::nonce_key(account))? {
        None => Ok(0),
        Some(v) => u64::decode_all(&mut v.as_slice())
            .map_err(|_| EngineError::Internal("undecodable nonce in state".into())),
    }
}

/// The code a contract runs, as stored in `state`: its code hash and module bytes (the
/// contract's record at [`crate::contract_key`] names the code at [`crate::code_key`]).
/// `None` if no contract is at `address`.
pub fn contract_code<S: StateRead + ?Sized>(
    state: &S,
    address: &Address,
) -> Result<Option<(Hash, Vec<u8>)>, EngineError> {
    let Some(info) = state.get(&crate::exec::contract_key(address))? else {
        return Ok(None);
    };
    let info = crate::ContractInfo::decode_all(&mut info.as_slice())
        .map_err(|_| EngineError::Internal("undecodable contract record in state".into()))?;
    let code = state
        .get(&crate::exec::code_key(&info.code_hash))?
        .ok_or_else(|| EngineError::Internal("a contract's code is missing from state".into()))?;
    Ok(Some((info.code_hash, code)))
}

/// The receipts root of a block: a binary Merkle tree over the receipts in order.
///
/// - leaf `i` = `blake3(derive_key("keel.receipt.leaf") , SCALE(receipt_i))` (keyed mode);
/// - an internal node = keyed `blake3("keel.receipt.node")` of `left ‖ right` (64 bytes);
/// - a level with an odd count carries its last hash up unchanged;
/// - no receipts: 32 zero bytes.
///
/// Every field of every receipt (status, gas, return data, events, logs) is bound. Logs are
/// only recorded with `EngineConfig::record_logs`: nodes that compare receipts roots must run
/// with the same setting (Keel's node runs with it off).
pub fn receipts_root(receipts: &[Receipt]) -> Hash {
    let leaf_key = blake3::derive_key("keel.receipt.leaf v1", b"");
    let node_key = blake3::derive_key("keel.receipt.node v1", b"");
    let mut level: Vec<Hash> = receipts
        .iter()
        .map(|r| *blake3::keyed_hash(&leaf_key, &r.encode()).as_bytes())
        .collect();
    if level.is_empty() {
        return [0; 32];
    }
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [l, r] => {
                    let mut buf = [0u8; 64];
                    buf[..32].copy_from_slice(l);
                    buf[32..].copy_from_slice(r);
                    next.push(*blake3::keyed_hash(&node_key, &buf).as_bytes());
                }
                [one] => next.push(*one),
                _ => {}
            }
        }
        level = next;
    }
    level[0]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{InvalidReason, Status};

    fn r(gas: u64) -> Receipt {
        Receipt {
            status: Status::Success,
            gas_used: gas,
            return_data: vec![],
            events: vec![],
            logs: vec![],
        }
    }

    #[test]
    fn receipts_root_binds_every_receipt_and_their_order() {
        assert_eq!(receipts_root(&[]), [0; 32]);
        let base: Vec<Receipt> = (0..5).map(r).collect();
        let root = receipts_root(&base);
        // Order matters.
        let mut swapped = base.clone();
        swapped.swap(0, 1);
        assert_ne!(receipts_root(&swapped), root);
        // Any one field of any one receipt matters, including the carried-up last one.
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i].status = Status::Invalid(InvalidReason::BadNonce {
                expected: 0,
                got: 1,
            });
            assert_ne!(receipts_root(&changed), root, "receipt {i}");
        }
        // A prefix is not the same block.
        assert_ne!(receipts_root(&base[..4]), root);
        // A single receipt's root is its leaf, not zero.
        assert_ne!(receipts_root(&base[..1]), [0; 32]);
    }
}
