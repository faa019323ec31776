//! Signed transactions: what a client sends to a node.
//!
//! A [`SignedTx`] is the SCALE encoding of ([`TxPayload`], public key, signature). The
//! ed25519 signature covers `b"keel.tx v1" ‖ SCALE(payload)`, and the payload holds the chain
//! id and the nonce, so a transaction cannot be replayed on another chain or twice on this
//! one (the engine rejects a used nonce with `Invalid(BadNonce)`). The sender the engine sees
//! is the 32-byte public key itself.
//!
//! Signature checks are outside the gas path: a node verifies a transaction when it admits it
//! to its mempool and when it checks a proposed block, never inside the engine, and charges
//! no gas for it. What bounds that work is the size limit ([`SignedTx::MAX_BYTES`] per
//! transaction, the block byte limit per block): one verification (about 50 µs) per at least
//! [`SignedTx::MIN_BYTES`] bytes. Verification is `verify_strict` (no small-order keys, no
//! malleable signatures), so every node accepts exactly the same set.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use keel_engine::{Action, Transaction};
use parity_scale_codec::{Decode, DecodeAll, Encode};

use crate::Address;

/// The domain separator in front of every signed payload.
pub const SIGNING_DOMAIN: &[u8] = b"keel.tx v1";

/// What the sender signs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TxPayload {
    /// The chain this transaction is for (from the genesis).
    pub chain_id: String,
    /// The sender's next nonce.
    pub nonce: u64,
    /// The most gas the transaction may use.
    pub gas_limit: u64,
    /// What to do.
    pub action: Action,
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedTx {
    /// The signed part.
    pub payload: TxPayload,
    /// The sender's ed25519 public key, which is also its address.
    pub public_key: [u8; 32],
    /// The ed25519 signature of `SIGNING_DOMAIN ‖ SCALE(payload)`.
    pub signature: [u8; 64],
}

/// Why a transaction was refused before it could reach a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxError {
    /// More bytes than allowed.
    Oversized {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not one SCALE `SignedTx`.
    Undecodable,
    /// Signed for another chain.
    WrongChainId {
        /// This chain's id.
        expected: String,
        /// The transaction's.
        got: String,
    },
    /// The public key is not a valid ed25519 key, or the signature does not verify.
    BadSignature,
    /// The nonce was already used (state is past it).
    Replayed {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce is too far ahead of the sender's next nonce.
    NonceTooFarAhead {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        got: u64,
    },
    /// A transaction with this sender and nonce is already waiting.
    Duplicate,
    /// The gas limit exceeds the block gas limit, so it could never be included.
    GasLimitTooHigh {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// The block gas limit.
        max: u64,
    },
    /// The mempool is full.
    MempoolFull,
    /// The store failed while checking the nonce.
    State(String),
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Oversized { len, max } => {
                write!(f, "transaction too large: {len} bytes, the limit is {max}")
            }
            TxError::Undecodable => f.write_str("not a SCALE-encoded signed transaction"),
            TxError::WrongChainId { expected, got } => {
                write!(f, "wrong chain id {got:?}: this chain is {expected:?}")
            }
            TxError::BadSignature => f.write_str("bad signature"),
            TxError::Replayed { next, got } => {
                write!(
                    f,
                    "nonce {got} already used (the sender's next nonce is {next})"
                )
            }
            TxError::NonceTooFarAhead { next, got } => {
                write!(
                    f,
                    "nonce {got} too far ahead of the sender's next nonce {next}"
                )
            }
            TxError::Duplicate => {
                f.write_str("a transaction with this sender and nonce is already pending")
            }
            TxError::GasLimitTooHigh { gas_limit, max } => {
                write!(f, "gas limit {gas_limit} exceeds the block gas limit {max}")
            }
            TxError::MempoolFull => f.write_str("mempool full"),
            TxError::State(e) => write!(f, "state error: {e}"),
        }
    }
}

impl std::error::Error for TxError {}

/// A transaction whose size, encoding, chain id and signature have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    /// Its hash: `blake3(SCALE(SignedTx))`.
    pub hash: [u8; 32],
    /// The exact bytes as received (what goes into a block).
    pub bytes: Vec<u8>,
    /// What the engine runs, with the authenticated sender.
    pub tx: Transaction,
}

/// The hash of a transaction's bytes: `blake3(bytes)`.
pub fn tx_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

impl TxPayload {
    fn signing_bytes(&self) -> Vec<u8> {
        let mut m = SIGNING_DOMAIN.to_vec();
        self.encode_to(&mut m);
        m
    }
}

impl SignedTx {
    /// The largest transaction a node accepts, in bytes (a deploy of a 256 KiB module fits).
    pub const MAX_BYTES: usize = 300 * 1024;
    /// The smallest possible encoding (empty chain id, smallest action).
    pub const MIN_BYTES: usize = 100;

    /// Signs `payload` with `key`.
    pub fn sign(payload: TxPayload, key: &SigningKey) -> SignedTx {
        let signature = key.sign(&payload.signing_bytes()).to_bytes();
        SignedTx {
            payload,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }

    /// The sender's address (its public key).
    pub fn sender(&self) -> Address {
        self.public_key
    }

    /// Checks size, encoding, chain id and signature of `bytes`, in that order (the cheap
    /// checks first), and returns the engine's transaction with the authenticated sender.
    pub fn verify_bytes(
        bytes: &[u8],
        chain_id: &str,
        max_bytes: usize,
    ) -> Result<VerifiedTx, TxError> {
        if bytes.len() > max_bytes {
            return Err(TxError::Oversized {
                len: bytes.len(),
                max: max_bytes,
            });
        }
        let signed = SignedTx::decode_all(&mut &bytes[..]).map_err(|_| TxError::Undecodable)?;
        if signed.payload.chain_id != chain_id {
            return Err(TxError::WrongChainId {
                expected: chain_id.to_string(),
                got: signed.payload.chain_id,
            });
        }
        let key =
            VerifyingKey::from_bytes(&signed.public_key).map_err(|_| TxError::BadSignature)?;
        let sig = Signature::from_bytes(&signed.signature);
        key.verify_strict(&signed.payload.signing_bytes(), &sig)
            .map_err(|_| TxError::BadSignature)?;
        let sender = signed.sender();
        let TxPayload {
            nonce,
            gas_limit,
            action,
            ..
        } = signed.payload;
        Ok(VerifiedTx {
            hash: tx_hash(bytes),
            bytes: bytes.to_vec(),
            tx: Transaction {
                sender,
                nonce,
                gas_limit,
                action,
            },
        })
    }
}

/// A signing key from its 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payload(chain: &str, nonce: u64) -> TxPayload {
        TxPayload {
            chain_id: chain.into(),
            nonce,
            gas_limit: 1_000,
            action: Action::Deploy { code: vec![0; 8] },
        }
    }

    #[test]
    fn sign_and_verify_and_every_rejection() {
        let key = signing_key(&[9; 32]);
        let tx = SignedTx::sign(payload("keel-test", 3), &key);
        let bytes = tx.encode();
        assert!(bytes.len() >= SignedTx::MIN_BYTES, "{}", bytes.len());
        let v = SignedTx::verify_bytes(&bytes, "keel-test", SignedTx::MAX_BYTES).unwrap();
        assert_eq!(v.tx.sender, key.verifying_key().to_bytes());
        assert_eq!(v.tx.nonce, 3);
        assert_eq!(v.hash, tx_hash(&bytes));

        assert!(matches!(
            SignedTx::verify_bytes(&bytes, "other", SignedTx::MAX_BYTES),
            Err(TxError::WrongChainId { .. })
        ));
        assert_eq!(
            SignedTx::verify_bytes(&bytes, "keel-test", 10),
            Err(TxError::Oversized {
                len: bytes.len(),
                max: 10
            })
        );
        let mut bad = tx.clone();
        bad.signature[0] ^= 1;
        assert_eq!(
            SignedTx::verify_bytes(&bad.encode(), "keel-test", SignedTx::MAX_BYTES),
            Err(TxError::BadSignature)
        );
        // The nonce is signed: changing it breaks the signature.
        let mut renonced = tx.clone();
        renonced.payload.nonce = 4;
        assert_eq!(
            SignedTx::verify_bytes(&renonced.encode(), "keel-test", SignedTx::MAX_BYTES),
            Err(TxError::BadSignature)
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            SignedTx::verify_bytes(&trailing, "keel-test", SignedTx::MAX_BYTES),
            Err(TxError::Undecodable)
        );
        // Garbage never panics.
        for len in 0..200 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            assert!(SignedTx::verify_bytes(&junk, "keel-test", SignedTx::MAX_BYTES).is_err());
        }
    }
}
