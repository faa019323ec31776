//! The wire and WAL codec: SCALE (`parity-scale-codec`, the project's one encoding) for every
//! message consensus sends, syncs or writes to its WAL.
//!
//! Malachite 0.8.2 has no SCALE encoding of its own types (only optional borsh and protobuf
//! ones, which Keel does not enable), so Keel encodes them itself: each Malachite type has a
//! *wire mirror* here, a plain struct or enum of Keel and SCALE types that derives
//! `Encode`/`Decode`, converted to and from the Malachite type. Keel's own types
//! (`context.rs`) derive SCALE directly, except `Vote`, `Proposal` and `ProposalPart`, which
//! hold Malachite types (`Round`, `NilOrVal`, `VoteType`, extensions) and encode through
//! their mirrors. The WAL's framing (an entry tag, a big-endian length, and the timeouts) is
//! Malachite's own (`malachitebft_engine::wal::entry`); every payload in it is Keel's SCALE.
//!
//! Encodings of Malachite types, in field order:
//! - `Round`: `Option<u32>` (`Nil` is `None`); `NilOrVal<BlockHash>`: `Option<BlockHash>`;
//!   `VoteType`: enum `Prevote` (0), `Precommit` (1); `Validity`: `bool` (valid);
//!   `RoundCertificateType`: enum `Skip` (0), `Precommit` (1).
//! - `SignedConsensusMsg`: enum `Vote(Vote, Signature)` (0), `Proposal(Proposal, Signature)`
//!   (1); `LivenessMsg`: enum `Vote(Vote, Signature)`, `PolkaCertificate`,
//!   `SkipRoundCertificate`.
//! - `StreamMessage<ProposalPart>`: stream id bytes, sequence `u64`, enum `Data(part)` / `Fin`.
//! - sync `Status`: peer id bytes, tip height, history min height; `Request`: enum
//!   `ValueRequest(first, last)`; `Response`: start height, `Vec<(block bytes, certificate)>`.
//! - `ExtendedCommitCertificate` (also the form the node stores): height, round, value id,
//!   `Vec<(address, signature, Option<(extension bytes, signature)>)>`.
//!
//! Invariant: decoding is exact (`DecodeAll`: every byte used) and never panics: bytes from a
//! peer that do not decode are a [`CodecError`], which Malachite treats as a faulty peer
//! message. SCALE decodes from a byte slice, so no length prefix can make it allocate more than
//! the message's own size (vectors grow in bounded chunks as items decode).

use arc_malachitebft_app::consensus::LivenessMsg;
use arc_malachitebft_app::streaming::StreamContent;
use arc_malachitebft_app::types::PeerId;
use arc_malachitebft_app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedExtension, SignedMessage,
    ValidatorProof, Validity, VoteType,
};
use arc_malachitebft_app::types::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app::types::{ProposedValue, SignedConsensusMsg};
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use parity_scale_codec::{Decode, DecodeAll, Encode, EncodeLike, Input, Output};

use crate::context::{
    Address, BlockHash, Height, KeelContext, Proposal, ProposalPart, Signature, Vote,
};

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

fn dec<T: Decode>(b: &[u8]) -> Result<T, CodecError> {
    T::decode_all(&mut &b[..]).map_err(|e| CodecError(e.to_string()))
}

// ------------------------------------------------------------------ small Malachite types

/// `Round` on the wire.
pub(crate) fn round_wire(r: Round) -> Option<u32> {
    r.as_u32()
}

fn round_of(r: Option<u32>) -> Round {
    r.map_or(Round::Nil, Round::new)
}

fn nil_or_val_wire(v: &NilOrVal<BlockHash>) -> Option<BlockHash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(*h),
    }
}

fn nil_or_val_of(v: Option<BlockHash>) -> NilOrVal<BlockHash> {
    v.map_or(NilOrVal::Nil, NilOrVal::Val)
}

#[derive(Encode, Decode)]
enum VoteTypeW {
    Prevote,
    Precommit,
}

impl From<VoteType> for VoteTypeW {
    fn from(t: VoteType) -> Self {
        match t {
            VoteType::Prevote => VoteTypeW::Prevote,
            VoteType::Precommit => VoteTypeW::Precommit,
        }
    }
}

impl From<VoteTypeW> for VoteType {
    fn from(t: VoteTypeW) -> Self {
        match t {
            VoteTypeW::Prevote => VoteType::Prevote,
            VoteTypeW::Precommit => VoteType::Precommit,
        }
    }
}

/// A signed vote extension: (extension bytes, signature).
#[derive(Encode, Decode)]
struct ExtW(Vec<u8>, Signature);

impl From<&SignedExtension<KeelContext>> for ExtW {
    fn from(e: &SignedExtension<KeelContext>) -> Self {
        ExtW(e.message.clone(), e.signature)
    }
}

impl From<ExtW> for SignedExtension<KeelContext> {
    fn from(e: ExtW) -> Self {
        SignedMessage::new(e.0, e.1)
    }
}

// ------------------------------------------------------------------ Keel's Vote, Proposal, parts

#[derive(Encode, Decode)]
struct VoteW {
    vote_type: VoteTypeW,
    height: Height,
    round: Option<u32>,
    value: Option<BlockHash>,
    validator: Address,
    extension: Option<ExtW>,
}

impl Encode for Vote {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        VoteW {
            vote_type: self.vote_type.into(),
            height: self.height,
            round: round_wire(self.round),
            value: nil_or_val_wire(&self.value),
            validator: self.validator,
            extension: self.extension.as_ref().map(ExtW::from),
        }
        .encode_to(dest)
    }
}

impl EncodeLike for Vote {}

impl Decode for Vote {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let w = VoteW::decode(input)?;
        Ok(Vote {
            vote_type: w.vote_type.into(),
            height: w.height,
            round: round_of(w.round),
            value: nil_or_val_of(w.value),
            validator: w.validator,
            extension: w.extension.map(Into::into),
        })
    }
}

#[derive(Encode, Decode)]
struct ProposalW {
    height: Height,
    round: Option<u32>,
    value: BlockHash,
    pol_round: Option<u32>,
    proposer: Address,
}

impl Encode for Proposal {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        ProposalW {
            height: self.height,
            round: round_wire(self.round),
            value: self.value,
            pol_round: round_wire(self.pol_round),
            proposer: self.proposer,
        }
        .encode_to(dest)
    }
}

impl EncodeLike for Proposal {}

impl Decode for Proposal {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let w = ProposalW::decode(input)?;
        Ok(Proposal {
            height: w.height,
            round: round_of(w.round),
            value: w.value,
            pol_round: round_of(w.pol_round),
            proposer: w.proposer,
        })
    }
}

#[derive(Encode, Decode)]
enum PartW {
    Init {
        height: Height,
        round: Option<u32>,
        pol_round: Option<u32>,
        proposer: Address,
    },
    Data(Vec<u8>),
    Fin,
}

impl Encode for ProposalPart {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        match self {
            ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
            } => PartW::Init {
                height: *height,
                round: round_wire(*round),
                pol_round: round_wire(*pol_round),
                proposer: *proposer,
            }
            .encode_to(dest),
            // Encoded in place: a chunk is not copied to be encoded.
            ProposalPart::Data(d) => {
                dest.push_byte(1);
                d.encode_to(dest)
            }
            ProposalPart::Fin => PartW::Fin.encode_to(dest),
        }
    }
}

impl EncodeLike for ProposalPart {}

impl Decode for ProposalPart {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        Ok(match PartW::decode(input)? {
            PartW::Init {
                height,
                round,
                pol_round,
                proposer,
            } => ProposalPart::Init {
                height,
                round: round_of(round),
                pol_round: round_of(pol_round),
                proposer,
            },
            PartW::Data(d) => ProposalPart::Data(d),
            PartW::Fin => ProposalPart::Fin,
        })
    }
}

// ------------------------------------------------------------------ Malachite messages

#[derive(Encode, Decode)]
enum ConsensusMsgW {
    Vote(Vote, Signature),
    Proposal(Proposal, Signature),
}

impl From<&SignedConsensusMsg<KeelContext>> for ConsensusMsgW {
    fn from(m: &SignedConsensusMsg<KeelContext>) -> Self {
        match m {
            SignedConsensusMsg::Vote(v) => ConsensusMsgW::Vote(v.message.clone(), v.signature),
            SignedConsensusMsg::Proposal(p) => {
                ConsensusMsgW::Proposal(p.message.clone(), p.signature)
            }
        }
    }
}

impl From<ConsensusMsgW> for SignedConsensusMsg<KeelContext> {
    fn from(m: ConsensusMsgW) -> Self {
        match m {
            ConsensusMsgW::Vote(v, s) => SignedConsensusMsg::Vote(SignedMessage::new(v, s)),
            ConsensusMsgW::Proposal(p, s) => SignedConsensusMsg::Proposal(SignedMessage::new(p, s)),
        }
    }
}

#[derive(Encode, Decode)]
struct PolkaW {
    height: Height,
    round: Option<u32>,
    value_id: BlockHash,
    signatures: Vec<(Address, Signature)>,
}

impl From<&PolkaCertificate<KeelContext>> for PolkaW {
    fn from(c: &PolkaCertificate<KeelContext>) -> Self {
        PolkaW {
            height: c.height,
            round: round_wire(c.round),
            value_id: c.value_id,
            signatures: c
                .polka_signatures
                .iter()
                .map(|s| (s.address, s.signature))
                .collect(),
        }
    }
}

impl From<PolkaW> for PolkaCertificate<KeelContext> {
    fn from(w: PolkaW) -> Self {
        PolkaCertificate {
            height: w.height,
            round: round_of(w.round),
            value_id: w.value_id,
            polka_signatures: w
                .signatures
                .into_iter()
                .map(|(a, s)| PolkaSignature::new(a, s))
                .collect(),
        }
    }
}

#[derive(Encode, Decode)]
enum RoundCertTypeW {
    Skip,
    Precommit,
}

#[derive(Encode, Decode)]
struct RoundSigW {
    vote_type: VoteTypeW,
    value_id: Option<BlockHash>,
    address: Address,
    signature: Signature,
}

#[derive(Encode, Decode)]
struct RoundCertW {
    height: Height,
    round: Option<u32>,
    cert_type: RoundCertTypeW,
    signatures: Vec<RoundSigW>,
}

impl From<&RoundCertificate<KeelContext>> for RoundCertW {
    fn from(c: &RoundCertificate<KeelContext>) -> Self {
        RoundCertW {
            height: c.height,
            round: round_wire(c.round),
            cert_type: match c.cert_type {
                RoundCertificateType::Skip => RoundCertTypeW::Skip,
                RoundCertificateType::Precommit => RoundCertTypeW::Precommit,
            },
            signatures: c
                .round_signatures
                .iter()
                .map(|s| RoundSigW {
                    vote_type: s.vote_type.into(),
                    value_id: nil_or_val_wire(&s.value_id),
                    address: s.address,
                    signature: s.signature,
                })
                .collect(),
        }
    }
}

impl From<RoundCertW> for RoundCertificate<KeelContext> {
    fn from(w: RoundCertW) -> Self {
        RoundCertificate {
            height: w.height,
            round: round_of(w.round),
            cert_type: match w.cert_type {
                RoundCertTypeW::Skip => RoundCertificateType::Skip,
                RoundCertTypeW::Precommit => RoundCertificateType::Precommit,
            },
            round_signatures: w
                .signatures
                .into_iter()
                .map(|s| RoundSignature {
                    vote_type: s.vote_type.into(),
                    value_id: nil_or_val_of(s.value_id),
                    address: s.address,
                    signature: s.signature,
                })
                .collect(),
        }
    }
}

#[derive(Encode, Decode)]
enum LivenessW {
    Vote(Vote, Signature),
    PolkaCertificate(PolkaW),
    SkipRoundCertificate(RoundCertW),
}

impl From<&LivenessMsg<KeelContext>> for LivenessW {
    fn from(m: &LivenessMsg<KeelContext>) -> Self {
        match m {
            LivenessMsg::Vote(v) => LivenessW::Vote(v.message.clone(), v.signature),
            LivenessMsg::PolkaCertificate(c) => LivenessW::PolkaCertificate(c.into()),
            LivenessMsg::SkipRoundCertificate(c) => LivenessW::SkipRoundCertificate(c.into()),
        }
    }
}

impl From<LivenessW> for LivenessMsg<KeelContext> {
    fn from(w: LivenessW) -> Self {
        match w {
            LivenessW::Vote(v, s) => LivenessMsg::Vote(SignedMessage::new(v, s)),
            LivenessW::PolkaCertificate(c) => LivenessMsg::PolkaCertificate(c.into()),
            LivenessW::SkipRoundCertificate(c) => LivenessMsg::SkipRoundCertificate(c.into()),
        }
    }
}

#[derive(Encode, Decode)]
enum ContentW {
    Data(ProposalPart),
    Fin,
}

#[derive(Encode, Decode)]
struct StreamW {
    stream_id: Vec<u8>,
    sequence: u64,
    content: ContentW,
}

impl From<&StreamMessage<ProposalPart>> for StreamW {
    fn from(m: &StreamMessage<ProposalPart>) -> Self {
        StreamW {
            stream_id: m.stream_id.to_bytes().to_vec(),
            sequence: m.sequence,
            content: match &m.content {
                StreamContent::Data(p) => ContentW::Data(p.clone()),
                StreamContent::Fin => ContentW::Fin,
            },
        }
    }
}

impl From<StreamW> for StreamMessage<ProposalPart> {
    fn from(w: StreamW) -> Self {
        StreamMessage::new(
            StreamId::new(Bytes::from(w.stream_id)),
            w.sequence,
            match w.content {
                ContentW::Data(p) => StreamContent::Data(p),
                ContentW::Fin => StreamContent::Fin,
            },
        )
    }
}

#[derive(Encode, Decode)]
struct ProposedValueW {
    height: Height,
    round: Option<u32>,
    valid_round: Option<u32>,
    proposer: Address,
    value: BlockHash,
    valid: bool,
}

impl From<&ProposedValue<KeelContext>> for ProposedValueW {
    fn from(v: &ProposedValue<KeelContext>) -> Self {
        ProposedValueW {
            height: v.height,
            round: round_wire(v.round),
            valid_round: round_wire(v.valid_round),
            proposer: v.proposer,
            value: v.value,
            valid: v.validity == Validity::Valid,
        }
    }
}

impl From<ProposedValueW> for ProposedValue<KeelContext> {
    fn from(w: ProposedValueW) -> Self {
        ProposedValue {
            height: w.height,
            round: round_of(w.round),
            valid_round: round_of(w.valid_round),
            proposer: w.proposer,
            value: w.value,
            validity: if w.valid {
                Validity::Valid
            } else {
                Validity::Invalid
            },
        }
    }
}

/// `ValidatorProof` on the wire: (public key bytes, peer id bytes, signature).
#[derive(Encode, Decode)]
struct ProofW {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

impl From<&ValidatorProof<KeelContext>> for ProofW {
    fn from(p: &ValidatorProof<KeelContext>) -> Self {
        ProofW {
            public_key: p.public_key.clone(),
            peer_id: p.peer_id.clone(),
            signature: p.signature,
        }
    }
}

impl From<ProofW> for ValidatorProof<KeelContext> {
    fn from(w: ProofW) -> Self {
        ValidatorProof::new(w.public_key, w.peer_id, w.signature)
    }
}

#[derive(Encode, Decode)]
struct StatusW {
    peer_id: Vec<u8>,
    tip_height: Height,
    history_min_height: Height,
}

#[derive(Encode, Decode)]
enum RequestW {
    ValueRequest(Height, Height),
}

/// A commit signature with its optional extension, on the wire.
#[derive(Encode, Decode)]
struct SigW {
    address: Address,
    signature: Signature,
    extension: Option<ExtW>,
}

/// An extended commit certificate on the wire (and in the node's store).
#[derive(Encode, Decode)]
pub(crate) struct CertW {
    height: Height,
    round: Option<u32>,
    value_id: BlockHash,
    signatures: Vec<SigW>,
}

impl From<&ExtendedCommitCertificate<KeelContext>> for CertW {
    fn from(c: &ExtendedCommitCertificate<KeelContext>) -> Self {
        CertW {
            height: c.height,
            round: round_wire(c.round),
            value_id: c.value_id,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| SigW {
                    address: s.address,
                    signature: s.signature,
                    extension: s.extension.as_ref().map(ExtW::from),
                })
                .collect(),
        }
    }
}

impl From<CertW> for ExtendedCommitCertificate<KeelContext> {
    fn from(w: CertW) -> Self {
        ExtendedCommitCertificate {
            height: w.height,
            round: round_of(w.round),
            value_id: w.value_id,
            commit_signatures: w
                .signatures
                .into_iter()
                .map(|s| {
                    ExtendedCommitSignature::new(
                        s.address,
                        s.signature,
                        s.extension.map(Into::into),
                    )
                })
                .collect(),
        }
    }
}

#[derive(Encode, Decode)]
struct ResponseW {
    start_height: Height,
    values: Vec<(Vec<u8>, CertW)>,
}

fn response_wire(r: &Response<KeelContext>) -> ResponseW {
    let Response::ValueResponse(v) = r;
    ResponseW {
        start_height: v.start_height,
        values: v
            .values
            .iter()
            .map(|d| (d.value_bytes.to_vec(), CertW::from(&d.certificate)))
            .collect(),
    }
}

/// Encodes an extended commit certificate (also the form the node stores).
pub fn encode_certificate(c: &ExtendedCommitCertificate<KeelContext>) -> Vec<u8> {
    CertW::from(c).encode()
}

/// Decodes what [`encode_certificate`] wrote.
pub fn decode_certificate(b: &[u8]) -> Result<ExtendedCommitCertificate<KeelContext>, CodecError> {
    dec::<CertW>(b).map(Into::into)
}

// ------------------------------------------------------------------ the Codec impls

/// `Codec<T>` through a wire mirror `W`: `From<&T> for W` and `From<W> for T`.
macro_rules! mirror_codec {
    ($($t:ty => $w:ty),* $(,)?) => {$(
        impl Codec<$t> for KeelCodec {
            type Error = CodecError;
            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                dec::<$w>(&bytes).map(Into::into)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                Ok(Bytes::from(<$w>::from(msg).encode()))
            }
        }
    )*};
}

mirror_codec!(
    SignedConsensusMsg<KeelContext> => ConsensusMsgW,
    LivenessMsg<KeelContext> => LivenessW,
    StreamMessage<ProposalPart> => StreamW,
    ProposedValue<KeelContext> => ProposedValueW,
    PolkaCertificate<KeelContext> => PolkaW,
    ValidatorProof<KeelContext> => ProofW,
);

impl Codec<ProposalPart> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, CodecError> {
        dec(&bytes)
    }
    fn encode(&self, msg: &ProposalPart) -> Result<Bytes, CodecError> {
        Ok(Bytes::from(msg.encode()))
    }
}

impl Codec<Status<KeelContext>> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<Status<KeelContext>, CodecError> {
        let w: StatusW = dec(&bytes)?;
        let peer_id =
            PeerId::from_bytes(&w.peer_id).map_err(|e| CodecError(format!("peer id: {e}")))?;
        Ok(Status {
            peer_id,
            tip_height: w.tip_height,
            history_min_height: w.history_min_height,
        })
    }
    fn encode(&self, s: &Status<KeelContext>) -> Result<Bytes, CodecError> {
        Ok(Bytes::from(
            StatusW {
                peer_id: s.peer_id.to_bytes(),
                tip_height: s.tip_height,
                history_min_height: s.history_min_height,
            }
            .encode(),
        ))
    }
}

impl Codec<Request<KeelContext>> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<Request<KeelContext>, CodecError> {
        let RequestW::ValueRequest(first, last) = dec(&bytes)?;
        Ok(Request::ValueRequest(ValueRequest::new(first..=last)))
    }
    fn encode(&self, r: &Request<KeelContext>) -> Result<Bytes, CodecError> {
        let Request::ValueRequest(v) = r;
        Ok(Bytes::from(
            RequestW::ValueRequest(*v.range.start(), *v.range.end()).encode(),
        ))
    }
}

impl Codec<Response<KeelContext>> for KeelCodec {
    type Error = CodecError;
    fn decode(&self, bytes: Bytes) -> Result<Response<KeelContext>, CodecError> {
        let w: ResponseW = dec(&bytes)?;
        Ok(Response::ValueResponse(ValueResponse::new(
            w.start_height,
            w.values
                .into_iter()
                .map(|(b, c)| RawDecidedValue::new(Bytes::from(b), c.into()))
                .collect(),
        )))
    }
    fn encode(&self, r: &Response<KeelContext>) -> Result<Bytes, CodecError> {
        Ok(Bytes::from(response_wire(r).encode()))
    }
}

impl HasEncodedLen<Response<KeelContext>> for KeelCodec {
    fn encoded_len(&self, r: &Response<KeelContext>) -> Result<usize, CodecError> {
        Ok(response_wire(r).encoded_size())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use parity_scale_codec::Compact;

    fn round_trip<T>(v: T)
    where
        KeelCodec: Codec<T>,
        T: PartialEq + std::fmt::Debug,
        <KeelCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        let c = KeelCodec;
        let b = Codec::<T>::encode(&c, &v).unwrap();
        assert_eq!(Codec::<T>::decode(&c, b.clone()).unwrap(), v);
        // Exact: a trailing byte, or a missing one, is an error.
        let mut trailing = b.to_vec();
        trailing.push(0);
        assert!(Codec::<T>::decode(&c, Bytes::from(trailing)).is_err());
        let short = b.slice(..b.len() - 1);
        assert!(Codec::<T>::decode(&c, short).is_err());
    }

    fn vote(round: Round, value: NilOrVal<BlockHash>) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height: Height(3),
            round,
            value,
            validator: Address([1; 32]),
            extension: Some(SignedMessage::new(vec![9, 9], Signature([4; 64]))),
        }
    }

    #[test]
    fn garbage_from_a_peer_is_an_error_never_a_panic() {
        let c = KeelCodec;
        for len in 0..300usize {
            let junk: Vec<u8> = (0..len).map(|i| (i * 131 + 17) as u8).collect();
            let b = Bytes::from(junk);
            let _ = Codec::<SignedConsensusMsg<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<StreamMessage<ProposalPart>>::decode(&c, b.clone());
            let _ = Codec::<Response<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<Request<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<ValidatorProof<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<LivenessMsg<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<ProposedValue<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<PolkaCertificate<KeelContext>>::decode(&c, b.clone());
            let _ = Codec::<Status<KeelContext>>::decode(&c, b);
        }
        // A huge length prefix is refused before anything that size is allocated: a `Data`
        // part (variant 1) claiming u32::MAX bytes, and a response claiming u32::MAX values.
        let mut huge = vec![1u8];
        Compact(u32::MAX).encode_to(&mut huge);
        assert!(Codec::<ProposalPart>::decode(&c, Bytes::from(huge)).is_err());
        let mut huge = Height(1).encode();
        Compact(u32::MAX).encode_to(&mut huge);
        assert!(Codec::<Response<KeelContext>>::decode(&c, Bytes::from(huge)).is_err());
        // An unknown enum variant is an error.
        assert!(Codec::<ProposalPart>::decode(&c, Bytes::from(vec![3u8])).is_err());
    }

    #[test]
    fn every_message_round_trips_exactly() {
        round_trip(ProposalPart::Data(vec![1, 2, 3]));
        round_trip(ProposalPart::Init {
            height: Height(7),
            round: Round::new(2),
            pol_round: Round::Nil,
            proposer: Address([5; 32]),
        });
        round_trip(ProposalPart::Fin);
        let v = vote(Round::new(1), NilOrVal::Val(BlockHash([7; 32])));
        round_trip(SignedConsensusMsg::<KeelContext>::Vote(SignedMessage::new(
            v.clone(),
            Signature([2; 64]),
        )));
        round_trip(SignedConsensusMsg::<KeelContext>::Proposal(
            SignedMessage::new(
                Proposal {
                    height: Height(9),
                    round: Round::new(0),
                    value: BlockHash([3; 32]),
                    pol_round: Round::Nil,
                    proposer: Address([6; 32]),
                },
                Signature([8; 64]),
            ),
        ));
        round_trip(LivenessMsg::<KeelContext>::Vote(SignedMessage::new(
            vote(Round::Nil, NilOrVal::Nil),
            Signature([1; 64]),
        )));
        round_trip(LivenessMsg::<KeelContext>::PolkaCertificate(
            PolkaCertificate {
                height: Height(4),
                round: Round::new(3),
                value_id: BlockHash([1; 32]),
                polka_signatures: vec![PolkaSignature::new(Address([2; 32]), Signature([3; 64]))],
            },
        ));
        round_trip(LivenessMsg::<KeelContext>::SkipRoundCertificate(
            RoundCertificate {
                height: Height(4),
                round: Round::new(3),
                cert_type: RoundCertificateType::Skip,
                round_signatures: vec![RoundSignature {
                    vote_type: VoteType::Prevote,
                    value_id: NilOrVal::Nil,
                    address: Address([2; 32]),
                    signature: Signature([3; 64]),
                }],
            },
        ));
        round_trip(StreamMessage::new(
            StreamId::new(Bytes::from_static(b"abc")),
            5,
            StreamContent::Data(ProposalPart::Data(vec![0; 10])),
        ));
        round_trip(StreamMessage::<ProposalPart>::new(
            StreamId::new(Bytes::from_static(b"abc")),
            6,
            StreamContent::Fin,
        ));
        round_trip(ProposedValue::<KeelContext> {
            height: Height(2),
            round: Round::new(0),
            valid_round: Round::Nil,
            proposer: Address([1; 32]),
            value: BlockHash([2; 32]),
            validity: Validity::Invalid,
        });
        round_trip(Request::<KeelContext>::ValueRequest(ValueRequest::new(
            Height(3)..=Height(9),
        )));
        let cert = ExtendedCommitCertificate::<KeelContext> {
            height: Height(3),
            round: Round::new(0),
            value_id: BlockHash([4; 32]),
            commit_signatures: vec![ExtendedCommitSignature::new(
                Address([1; 32]),
                Signature([2; 64]),
                None,
            )],
        };
        assert_eq!(
            decode_certificate(&encode_certificate(&cert)).unwrap(),
            cert
        );
        round_trip(Response::<KeelContext>::ValueResponse(ValueResponse::new(
            Height(3),
            vec![RawDecidedValue::new(Bytes::from_static(b"block"), cert)],
        )));
        let mut secret = [7u8; 32];
        let key = arc_malachitebft_app::types::Keypair::ed25519_from_bytes(&mut secret).unwrap();
        let peer_id = PeerId::from_bytes(&key.public().to_peer_id().to_bytes()).unwrap();
        let s = Status::<KeelContext> {
            peer_id,
            tip_height: Height(10),
            history_min_height: Height(1),
        };
        let b = Codec::<Status<KeelContext>>::encode(&KeelCodec, &s).unwrap();
        let back = Codec::<Status<KeelContext>>::decode(&KeelCodec, b).unwrap();
        assert_eq!(
            (back.peer_id, back.tip_height, back.history_min_height),
            (peer_id, Height(10), Height(1))
        );
    }

    #[test]
    fn the_encoding_is_scale_of_the_documented_mirror() {
        // A prevote for nil at round 0 of height 3: SCALE of (VoteType 0, u64 3, Some(0u32),
        // None, address, None).
        let v = Vote {
            vote_type: VoteType::Prevote,
            height: Height(3),
            round: Round::new(0),
            value: NilOrVal::Nil,
            validator: Address([1; 32]),
            extension: None,
        };
        let mut want = vec![0u8];
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[1; 32]);
        want.push(0);
        assert_eq!(v.encode(), want);
        // A data part: variant 1, compact length, bytes.
        assert_eq!(ProposalPart::Data(vec![7, 8]).encode(), vec![1, 8, 7, 8]);
    }
}
