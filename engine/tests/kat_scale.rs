//! Known-answer vectors for the SCALE encoding of every public transaction and receipt type
//! (and the consensus tables `GasSchedule` and `Limits`): the bytes a node stores and sends.
//! Each value's encoding is pinned in `tests/kat/scale.txt` and must decode back to the value.
//! To accept a deliberate change: `KEEL_BLESS=1 cargo test -p keel-engine --test kat_scale`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Debug;

use keel_engine::{
    Action, BlockContext, BlockOutcome, ContractInfo, Event, GasSchedule, InvalidReason, Limits,
    Receipt, Status, Transaction, TrapKind,
};
use parity_scale_codec::{Decode, DecodeAll, Encode};

/// Every `TrapKind`. The match has no wildcard, so a new variant fails to compile here until
/// it gets a vector.
fn all_trap_kinds() -> Vec<TrapKind> {
    let all = vec![
        TrapKind::Unreachable,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::IntegerDivisionByZero,
        TrapKind::IntegerOverflow,
        TrapKind::BadConversionToInteger,
        TrapKind::StackOverflow,
        TrapKind::BadSignature,
        TrapKind::GrowthOperationLimited,
        TrapKind::InvalidHostArgument,
        TrapKind::LimitExceeded,
        TrapKind::AbiViolation,
    ];
    for k in &all {
        match k {
            TrapKind::Unreachable
            | TrapKind::MemoryOutOfBounds
            | TrapKind::TableOutOfBounds
            | TrapKind::IndirectCallToNull
            | TrapKind::IntegerDivisionByZero
            | TrapKind::IntegerOverflow
            | TrapKind::BadConversionToInteger
            | TrapKind::StackOverflow
            | TrapKind::BadSignature
            | TrapKind::GrowthOperationLimited
            | TrapKind::InvalidHostArgument
            | TrapKind::LimitExceeded
            | TrapKind::AbiViolation => {}
        }
    }
    all
}

/// Every `InvalidReason` (no wildcard, as above).
fn all_invalid_reasons() -> Vec<InvalidReason> {
    let all = vec![
        InvalidReason::Undecodable,
        InvalidReason::BadNonce {
            expected: 3,
            got: 0x0102_0304_0506_0708,
        },
        InvalidReason::UnknownContract,
        InvalidReason::UnknownMethod,
        InvalidReason::UnknownCode,
        InvalidReason::AddressInUse,
        InvalidReason::TooLarge,
    ];
    for r in &all {
        match r {
            InvalidReason::Undecodable
            | InvalidReason::BadNonce { .. }
            | InvalidReason::UnknownContract
            | InvalidReason::UnknownMethod
            | InvalidReason::UnknownCode
            | InvalidReason::AddressInUse
            | InvalidReason::TooLarge => {}
        }
    }
    all
}

fn all_statuses() -> Vec<Status> {
    let mut all = vec![
        Status::Success,
        Status::Reverted(b"no".to_vec()),
        Status::Reverted(vec![]),
        Status::OutOfGas,
    ];
    all.extend(all_trap_kinds().into_iter().map(Status::Trapped));
    all.extend(all_invalid_reasons().into_iter().map(Status::Invalid));
    for s in &all {
        match s {
            Status::Success
            | Status::Reverted(_)
            | Status::OutOfGas
            | Status::Trapped(_)
            | Status::Invalid(_) => {}
        }
    }
    all
}

fn all_actions() -> Vec<Action> {
    let all = vec![
        Action::Deploy {
            code: b"\0asm\x01\0\0\0".to_vec(),
        },
        Action::Instantiate {
            code_hash: [0x11; 32],
            salt: b"salt".to_vec(),
            args: vec![1, 2, 3],
        },
        Action::Call {
            contract: [0x22; 32],
            method: "transfer".into(),
            args: vec![0xff; 70],
        },
    ];
    for a in &all {
        match a {
            Action::Deploy { .. } | Action::Instantiate { .. } | Action::Call { .. } => {}
        }
    }
    all
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn vector<T: Encode + Decode + PartialEq + Debug>(lines: &mut Vec<String>, label: &str, v: &T) {
    let bytes = v.encode();
    let back = T::decode_all(&mut bytes.as_slice()).unwrap();
    assert_eq!(&back, v, "{label}: decode(encode(v)) != v");
    lines.push(format!("{label} = {}", hex(&bytes)));
}

#[test]
fn scale_encodings_are_unchanged() {
    let mut lines = Vec::new();
    for (i, a) in all_actions().iter().enumerate() {
        vector(&mut lines, &format!("Action#{i}"), a);
        let tx = Transaction {
            sender: [0xa1; 32],
            nonce: 7 + i as u64,
            gas_limit: 1_000_000,
            action: a.clone(),
        };
        vector(&mut lines, &format!("Transaction#{i}"), &tx);
    }
    vector(
        &mut lines,
        "BlockContext",
        &BlockContext {
            height: 42,
            timestamp: 1_700_000_000_000,
        },
    );
    let event = Event {
        contract: [0x33; 32],
        topics: vec![[0x44; 32], [0x55; 32]],
        data: b"payload".to_vec(),
    };
    vector(&mut lines, "Event", &event);
    for (i, k) in all_trap_kinds().iter().enumerate() {
        vector(&mut lines, &format!("TrapKind#{i} {k:?}"), k);
    }
    for (i, r) in all_invalid_reasons().iter().enumerate() {
        vector(&mut lines, &format!("InvalidReason#{i}"), r);
    }
    for (i, s) in all_statuses().iter().enumerate() {
        vector(&mut lines, &format!("Status#{i}"), s);
    }
    let receipt = Receipt {
        status: Status::Success,
        gas_used: 12_345,
        return_data: vec![9; 5],
        events: vec![event.clone()],
        logs: vec!["hello".into()],
    };
    vector(&mut lines, "Receipt", &receipt);
    let reverted = Receipt {
        status: Status::Reverted(b"why".to_vec()),
        gas_used: 2_000,
        return_data: vec![],
        events: vec![],
        logs: vec![],
    };
    vector(&mut lines, "Receipt(reverted)", &reverted);
    vector(
        &mut lines,
        "BlockOutcome",
        &BlockOutcome {
            receipts: vec![receipt, reverted],
            version: 9,
            state_root: [0x66; 32],
        },
    );
    vector(
        &mut lines,
        "ContractInfo",
        &ContractInfo {
            code_hash: [0x77; 32],
            flags: keel_engine::FLAG_REENTRANT,
        },
    );
    vector(
        &mut lines,
        "GasSchedule::default()",
        &GasSchedule::default(),
    );
    vector(&mut lines, "Limits::default()", &Limits::default());

    common::expect_file("kat/scale.txt", "SCALE vectors", &lines);
}
