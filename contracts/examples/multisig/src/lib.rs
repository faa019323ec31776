//! A multisig wallet: a fixed set of owners and a threshold, given at instantiation. An owner
//! proposes a call (target contract, method, SCALE arguments); owners approve it; once
//! `threshold` owners have approved, anyone executes it, once. If the call fails, the
//! execution reverts and the proposal stays executable. Uses the SDK's `alloc` feature.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::alloc::{string::String, vec, vec::Vec};
use keel_sdk::{
    ALL_GAS, Address, BigEndian, CallStatus, Event, Item, Map, TypeInfo, caller, contract, emit,
    env,
};
use parity_scale_codec::{Decode, Encode};

static OWNERS: Item<Vec<Address>> = Item::new(b"O");
static THRESHOLD: Item<u32> = Item::new(b"T");
static NEXT_ID: Item<u64> = Item::new(b"N");
static PROPOSALS: Map<BigEndian<u64>, Proposal> = Map::new(b"p");
static APPROVED: Map<(BigEndian<u64>, Address), ()> = Map::new(b"a");

/// Why a multisig method failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MultisigError {
    /// Threshold is 0 or above the number of owners, or an owner is listed twice.
    BadConfig,
    /// The caller is not an owner.
    NotOwner,
    /// No proposal has this id.
    NoSuchProposal,
    /// The caller approved this proposal already.
    AlreadyApproved,
    /// The proposal has fewer approvals than the threshold.
    NotEnoughApprovals,
    /// The proposal was executed already.
    AlreadyExecuted,
    /// The released call did not succeed: the `CallStatus` code (1 reverted, 2 trapped,
    /// 3 refused).
    CallFailed(i32),
}

/// A proposed call.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Proposal {
    /// The contract to call.
    pub target: Address,
    /// Its method.
    pub method: String,
    /// The SCALE arguments.
    pub args: Vec<u8>,
    /// How many owners approved.
    pub approvals: u32,
    /// Whether it ran.
    pub executed: bool,
}

/// A proposal was executed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Executed {
    /// The proposal.
    #[topic]
    pub id: u64,
    /// The callee's return data.
    pub result: Vec<u8>,
}

fn require_owner() -> Result<Address, MultisigError> {
    let who = caller();
    if OWNERS.get().unwrap_or_default().contains(&who) {
        Ok(who)
    } else {
        Err(MultisigError::NotOwner)
    }
}

fn approve_as(id: u64, who: Address, p: &mut Proposal) -> Result<(), MultisigError> {
    let key = (BigEndian(id), who);
    if APPROVED.contains(&key) {
        return Err(MultisigError::AlreadyApproved);
    }
    APPROVED.set(&key, &());
    p.approvals += 1;
    Ok(())
}

/// The multisig contract.
pub struct Multisig;

#[contract(events(Executed))]
impl Multisig {
    /// Constructor: the owners and how many of them must approve a call.
    pub fn init(owners: Vec<Address>, threshold: u32) -> Result<(), MultisigError> {
        // Quadratic, but owner lists are short, and it keeps a sort (several KB) out of the code.
        let duplicate = owners
            .iter()
            .enumerate()
            .any(|(i, a)| owners.iter().take(i).any(|b| b == a));
        if threshold == 0 || threshold as usize > owners.len() || duplicate {
            return Err(MultisigError::BadConfig);
        }
        OWNERS.set(&owners);
        THRESHOLD.set(&threshold);
        Ok(())
    }

    /// Owner only: proposes calling `method` of `target` with `args`; the proposer's approval
    /// is counted. Returns the proposal id.
    pub fn propose(target: Address, method: String, args: Vec<u8>) -> Result<u64, MultisigError> {
        let who = require_owner()?;
        let id = NEXT_ID.get_or_default();
        NEXT_ID.set(&(id + 1));
        let mut p = Proposal {
            target,
            method,
            args,
            approvals: 0,
            executed: false,
        };
        approve_as(id, who, &mut p)?;
        PROPOSALS.set(&BigEndian(id), &p);
        Ok(id)
    }

    /// Owner only: approves proposal `id`. Returns its approval count.
    pub fn approve(id: u64) -> Result<u32, MultisigError> {
        let who = require_owner()?;
        let mut p = PROPOSALS
            .get(&BigEndian(id))
            .ok_or(MultisigError::NoSuchProposal)?;
        if p.executed {
            return Err(MultisigError::AlreadyExecuted);
        }
        approve_as(id, who, &mut p)?;
        PROPOSALS.set(&BigEndian(id), &p);
        Ok(p.approvals)
    }

    /// Runs proposal `id` once it has enough approvals; returns the callee's return data.
    pub fn execute(id: u64) -> Result<Vec<u8>, MultisigError> {
        let key = BigEndian(id);
        let mut p = PROPOSALS.get(&key).ok_or(MultisigError::NoSuchProposal)?;
        if p.executed {
            return Err(MultisigError::AlreadyExecuted);
        }
        if p.approvals < THRESHOLD.get_or_default() {
            return Err(MultisigError::NotEnoughApprovals);
        }
        p.executed = true;
        PROPOSALS.set(&key, &p);
        let status = env::call_raw(&p.target, &p.method, &p.args, ALL_GAS);
        let mut result = vec![0u8; env::call_result(&mut [])];
        env::call_result(&mut result);
        match status {
            CallStatus::Success => {
                emit(&Executed {
                    id,
                    result: result.clone(),
                });
                Ok(result)
            }
            CallStatus::Reverted => Err(MultisigError::CallFailed(1)),
            CallStatus::Trapped => Err(MultisigError::CallFailed(2)),
            CallStatus::Refused => Err(MultisigError::CallFailed(3)),
            CallStatus::Unknown(c) => Err(MultisigError::CallFailed(c)),
        }
    }

    /// Proposal `id`, if any.
    pub fn proposal(id: u64) -> Option<Proposal> {
        PROPOSALS.get(&BigEndian(id))
    }

    /// The owners.
    pub fn owners() -> Vec<Address> {
        OWNERS.get().unwrap_or_default()
    }

    /// The approval threshold.
    pub fn threshold() -> u32 {
        THRESHOLD.get_or_default()
    }
}
