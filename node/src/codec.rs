//! The wire and WAL codec: borsh for every message, Malachite's own types through Malachite's
//! `borsh` feature and Keel's through derives, plus hand-written encodings for the two
//! Malachite types that have none (`ValidatorProof`, and `ExtendedCommitCertificate` inside a
//! sync response).
//!
//! Invariant: decoding is exact (every byte used) and never panics: bytes from a peer that do
//! not decode are a [`CodecError`], which Malachite treats as a faulty peer message.

use arc_malachitebft_app::consensus::LivenessMsg;
use arc_malachitebft_app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, SignedExtension,
    ValidatorProof,
};
use arc_malachitebft_app::types::streaming::StreamMessage;
use arc_malachitebft_app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app::types::{ProposedValue, SignedConsensusMsg};
use arc_malachitebft_sync::ValueResponse;
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;

use crate::context::{Address, BlockHash, Height, KeelContext, ProposalPart, Signature};

/// Keel's codec (stateless).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeelCodec;

/// Bytes that are not a valid encoding of the expected message.
#[derive(Debug)]
pub struct CodecError(pub String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "undecodable message: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

fn enc<T: BorshSerialize>(v: &T) -> Result<Bytes, CodecError> {
    borsh::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| CodecError(e.to_string()))
}

fn dec<T: BorshDeserialize>(b: &[u8]) -> Result<T, CodecError> {
    borsh::from_slice(b).map_err(|e| CodecError(e.to_string()))
}

macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for KeelCodec {
            type Error = CodecError;
            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                dec(&bytes)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                enc(msg)
            }
        }
    )*};
}

borsh_codec!(
    ProposalPart,
    SignedConsensusMsg<KeelContext>,
    LivenessMsg<KeelContext>,
    StreamMessage<ProposalPart>,
    Status<KeelContext>,
    Request<KeelContext>,
    ProposedValue<KeelContext>,
    PolkaCertificate<KeelContext>,
);

/// `ValidatorProof` on the wire: (public key bytes, peer id bytes, signature).
#[derive(BorshSerialize, BorshDeserialize)]
struct ProofWire {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

impl Codec<ValidatorProof<KeelContext>> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<KeelContext>, CodecError> {
        let w: ProofWire = dec(&bytes)?;
        Ok(ValidatorProof::new(w.public_key, w.peer_id, w.signature))
    }
    fn encode(&self, p: &ValidatorProof<KeelContext>) -> Result<Bytes, CodecError> {
        enc(&ProofWire {
            public_key: p.public_key.clone(),
            peer_id: p.peer_id.clone(),
            signature: p.signature,
        })
    }
}

/// A commit signature with its optional extension, on the wire.
#[derive(BorshSerialize, BorshDeserialize)]
struct SigWire {
    address: Address,
    signature: Signature,
    extension: Option<SignedExtension<KeelContext>>,
}

/// An extended commit certificate on the wire.
#[derive(BorshSerialize, BorshDeserialize)]
pub(crate) struct CertWire {
    height: Height,
    round: Round,
    value_id: BlockHash,
    signatures: Vec<SigWire>,
}

impl CertWire {
    pub(crate) fn from_cert(c: &ExtendedCommitCertificate<KeelContext>) -> Self {
        CertWire {
            height: c.height,
            round: c.round,
            value_id: c.value_id,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| SigWire {
                    address: s.address,
                    signature: s.signature,
                    extension: s.extension.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn into_cert(self) -> ExtendedCommitCertificate<KeelContext> {
        ExtendedCommitCertificate {
            height: self.height,
            round: self.round,
            value_id: self.value_id,
            commit_signatures: self
                .signatures
                .into_iter()
                .map(|s| ExtendedCommitSignature::new(s.address, s.signature, s.extension))
                .collect(),
        }
    }
}

/// Encodes an extended commit certificate (also the form the node stores).
pub fn encode_certificate(c: &ExtendedCommitCertificate<KeelContext>) -> Vec<u8> {
    borsh::to_vec(&CertWire::from_cert(c)).unwrap_or_default()
}

/// Decodes what [`encode_certificate`] wrote.
pub fn decode_certificate(b: &[u8]) -> Result<ExtendedCommitCertificate<KeelContext>, CodecError> {
    dec::<CertWire>(b).map(CertWire::into_cert)
}

#[derive(BorshSerialize, BorshDeserialize)]
struct ResponseWire {
    start_height: Height,
    values: Vec<(Vec<u8>, CertWire)>,
}

fn response_wire(r: &Response<KeelContext>) -> ResponseWire {
    let Response::ValueResponse(v) = r;
    ResponseWire {
        start_height: v.start_height,
        values: v
            .values
            .iter()
            .map(|d| (d.value_bytes.to_vec(), CertWire::from_cert(&d.certificate)))
            .collect(),
    }
}

impl Codec<Response<KeelContext>> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<Response<KeelContext>, CodecError> {
        let w: ResponseWire = dec(&bytes)?;
        Ok(Response::ValueResponse(ValueResponse::new(
            w.start_height,
            w.values
                .into_iter()
                .map(|(b, c)| RawDecidedValue::new(Bytes::from(b), c.into_cert()))
                .collect(),
        )))
    }
    fn encode(&self, r: &Response<KeelContext>) -> Result<Bytes, CodecError> {
        enc(&response_wire(r))
    }
}

impl HasEncodedLen<Response<KeelContext>> for KeelCodec {
    fn encoded_len(&self, r: &Response<KeelContext>) -> Result<usize, CodecError> {
        borsh::object_length(&response_wire(r)).map_err(|e| CodecError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arc_malachitebft_app::types::core::NilOrVal;

    #[test]
    fn garbage_from_a_peer_is_an_error_never_a_panic() {
        let c = KeelCodec;
        for len in 0..300usize {
            let junk: Vec<u8> = (0..len).map(|i| (i * 131 + 17) as u8).collect();
            let b = Bytes::from(junk);
            let _ = Codec::<SignedConsensusMsg<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<StreamMessage<ProposalPart>>::decode(&c, b.clone());
            let _ = Codec::<Response<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<ValidatorProof<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<LivenessMsg<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<Status<KeelContext>>::decode(&c, b);
        }
        // A huge length prefix does not allocate it up front.
        let mut huge = vec![2u8]; // ProposalPart::Fin is 2; Data is 1
        huge[0] = 1;
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Codec::<ProposalPart>::decode(&c, Bytes::from(huge)).is_err());
    }

    #[test]
    fn parts_and_votes_round_trip_exactly() {
        let c = KeelCodec;
        let part = ProposalPart::Data(vec![1, 2, 3]);
        let b = Codec::<ProposalPart>::encode(&c, &part).unwrap();
        assert_eq!(Codec::<ProposalPart>::decode(&c, b.clone()).unwrap(), part);
        let mut trailing = b.to_vec();
        trailing.push(0);
        assert!(Codec::<ProposalPart>::decode(&c, Bytes::from(trailing)).is_err());
        let v = crate::context::Vote {
            vote_type: arc_malachitebft_app::types::core::VoteType::Prevote,
            height: Height(3),
            round: Round::new(1),
            value: NilOrVal::Val(BlockHash([7; 32])),
            validator: Address([1; 32]),
            extension: None,
        };
        let bytes = borsh::to_vec(&v).unwrap();
        assert_eq!(
            borsh::from_slice::<crate::context::Vote>(&bytes).unwrap(),
            v
        );
    }
}
