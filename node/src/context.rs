//! Keel's Malachite [`Context`]: heights, addresses, the value (a block hash), proposals,
//! votes, proposal parts, the validator set and the ed25519 signing scheme.
//!
//! Every type here has a SCALE encoding (the wire and WAL format, see [`crate::codec`]), and
//! every signature covers a domain separator followed by the SCALE encoding of what it signs.

use std::fmt;

use arc_malachitebft_app::types::core::{
    self as mc, NilOrVal, Round, SignedExtension, SignedMessage, ValidatorProof,
    VoteExtensionScope, VoteType,
};
use arc_malachitebft_signing::{Error as SigningError, Signer, VerificationResult, Verifier};
use async_trait::async_trait;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use parity_scale_codec::{Decode, Encode};

/// A block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its 32-byte ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Address(pub [u8; 32]);

/// The full hex: Malachite's network layer matches validators by this string.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.0))
    }
}

impl mc::Address for Address {}

/// The value consensus decides: the hash of a block ([`crate::block::Block::hash`]). The
/// block's bytes travel as proposal parts and sync payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(&self.0[..8]))
    }
}

impl mc::Value for BlockHash {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        *self
    }
}

/// An ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

/// An ed25519 private key.
#[derive(Clone)]
pub struct PrivateKey(pub SigningKey);

/// Keel's signing scheme: ed25519, `verify_strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mc::SigningScheme for Ed25519 {
    type DecodingError = String;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, String> {
        <[u8; 64]>::try_from(bytes)
            .map(Signature)
            .map_err(|_| format!("a signature is 64 bytes, not {}", bytes.len()))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, String> {
        <[u8; 32]>::try_from(bytes)
            .map(PublicKey)
            .map_err(|_| format!("a public key is 32 bytes, not {}", bytes.len()))
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

/// A proposal: the block hash proposed at (height, round).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockHash,
    /// The proof-of-lock round.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mc::Proposal<KeelContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockHash {
        &self.value
    }
    fn take_value(self) -> BlockHash {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator: Address,
    /// Vote extensions are disabled; always `None` on the wire from Keel nodes.
    pub extension: Option<SignedExtension<KeelContext>>,
}

impl mc::Vote<KeelContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.vote_type
    }
    fn validator_address(&self) -> &Address {
        &self.validator
    }
    fn extension(&self) -> Option<&SignedExtension<KeelContext>> {
        self.extension.as_ref()
    }
    fn take_extension(&mut self) -> Option<SignedExtension<KeelContext>> {
        self.extension.take()
    }
    fn extend(self, extension: SignedExtension<KeelContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

/// A part of a streamed proposal: `Init`, then the block's bytes in `Data` chunks, then `Fin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Starts a proposal.
    Init {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Proof-of-lock round.
        pol_round: Round,
        /// The proposer it claims (checked against the block and the signed proposal).
        proposer: Address,
    },
    /// A chunk of the SCALE-encoded block.
    Data(Vec<u8>),
    /// Ends a proposal.
    Fin,
}

impl mc::ProposalPart<KeelContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }
    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin)
    }
}

/// A validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (= public key bytes).
    pub address: Address,
    /// Its key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub voting_power: u64,
}

impl mc::Validator<KeelContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    fn voting_power(&self) -> u64 {
        self.voting_power
    }
}

/// The validator set, sorted by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// A set of `validators`, sorted by address (duplicates removed).
    pub fn new(mut validators: Vec<Validator>) -> Self {
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        Self { validators }
    }
}

impl mc::ValidatorSet<KeelContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.voting_power).sum()
    }
    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }
    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// Keel's context.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeelContext;

impl mc::Context for KeelContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mc::LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = Vec<u8>;
    type SigningScheme = Ed25519;

    /// Round-robin over the sorted set: `(height + round) mod n`.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = validator_set.validators.len().max(1) as u64;
        let r = round.as_u32().unwrap_or(0) as u64;
        let i = (height.0.wrapping_add(r) % n) as usize;
        // The set is never empty (the genesis check refuses an empty one).
        &validator_set.validators[i.min(validator_set.validators.len().saturating_sub(1))]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}

fn signing_bytes<T: Encode>(domain: &[u8], value: &T) -> Vec<u8> {
    let mut out = domain.to_vec();
    value.encode_to(&mut out);
    out
}

fn vote_bytes(vote: &Vote) -> Vec<u8> {
    // The extension is signed separately; the vote's signature covers the rest.
    let bare = Vote {
        extension: None,
        ..vote.clone()
    };
    signing_bytes(b"keel.vote v2", &bare)
}

fn proposal_bytes(p: &Proposal) -> Vec<u8> {
    signing_bytes(b"keel.proposal v2", p)
}

fn extension_bytes(scope: &VoteExtensionScope<KeelContext>, ext: &[u8]) -> Vec<u8> {
    let mut out = b"keel.extension v2".to_vec();
    scope.height.encode_to(&mut out);
    crate::codec::round_wire(scope.round).encode_to(&mut out);
    scope.value_id.encode_to(&mut out);
    scope.validator_address.encode_to(&mut out);
    ext.encode_to(&mut out);
    out
}

/// Signs votes, proposals and the validator proof with the validator's key.
pub struct KeelSigner {
    key: SigningKey,
}

impl KeelSigner {
    /// A signer with `key`.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    fn sign(&self, bytes: &[u8]) -> Signature {
        Signature(self.key.sign(bytes).to_bytes())
    }
}

fn verify(public_key: &PublicKey, bytes: &[u8], sig: &Signature) -> VerificationResult {
    let Ok(key) = VerifyingKey::from_bytes(&public_key.0) else {
        return VerificationResult::Invalid;
    };
    let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    VerificationResult::from_bool(key.verify_strict(bytes, &sig).is_ok())
}

#[async_trait]
impl Signer<KeelContext> for KeelSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<KeelContext, Vote>, SigningError> {
        let signature = self.sign(&vote_bytes(&vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<KeelContext, Proposal>, SigningError> {
        let signature = self.sign(&proposal_bytes(&proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<KeelContext>,
        extension: Vec<u8>,
    ) -> Result<SignedMessage<KeelContext, Vec<u8>>, SigningError> {
        let signature = self.sign(&extension_bytes(&scope, &extension));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<KeelContext>, SigningError> {
        let bytes = ValidatorProof::<KeelContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.sign(&bytes);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Verifies signatures against validator keys.
pub struct KeelVerifier;

#[async_trait]
impl Verifier<KeelContext> for KeelVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verify(public_key, &vote_bytes(vote), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verify(public_key, &proposal_bytes(proposal), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<KeelContext>,
        extension: &Vec<u8>,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verify(
            public_key,
            &extension_bytes(scope, extension),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<KeelContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(pk) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verify(&PublicKey(pk), &proof.preimage(), &proof.signature))
    }
}
