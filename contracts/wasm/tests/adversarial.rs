//! Contract-level attacks, written in Rust against the SDK, each with the exact receipt the
//! engine must give it.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failure should panic

mod common;

use common::{ALICE, BOB, Chain};
use keel_contracts::{ADVERSARY, COUNTER, TOKEN};
use keel_engine::{Address, InvalidReason, Status, TrapKind};
use parity_scale_codec::{Decode, Encode};

/// Mirrors `keel_sdk::CallError<token_api::TokenError>`'s SCALE shape.
#[derive(Debug, PartialEq, Eq, Encode, Decode)]
enum CallError {
    Contract(u8),
    Reverted,
    Trapped,
    Refused,
    InvalidReturn,
    Unknown(i32),
}

fn setup() -> (Chain, Address, Address) {
    let mut chain = Chain::new();
    let counter = chain.instantiate(ALICE, COUNTER, ());
    let adversary = chain.instantiate(BOB, ADVERSARY, ());
    (chain, counter, adversary)
}

#[test]
fn another_contracts_storage_cannot_be_named() {
    let (mut chain, counter, adv) = setup();
    assert_eq!(chain.call_ok::<u64>(ALICE, counter, "increment", ()), 1);

    // Reading the counter's key `c` as is, behind the counter's address, and behind the
    // state prefix 0x04 and the address: every read lands in the adversary's own namespace.
    let found: Vec<Option<Vec<u8>>> = chain.view(adv, "snoop", (counter, b"c".to_vec()));
    assert_eq!(found, vec![None, None, None]);

    // Writing them succeeds, but only ever touches the adversary's own keys.
    let r = chain.call(
        BOB,
        adv,
        "scribble",
        (counter, b"c".to_vec(), 999u64.encode()),
    );
    assert_eq!(r.status, Status::Success);
    assert_eq!(chain.view::<u64>(counter, "get", ()), 1);
    assert_eq!(chain.call_ok::<u64>(ALICE, counter, "increment", ()), 2);
    let found: Vec<Option<Vec<u8>>> = chain.view(adv, "snoop", (counter, b"c".to_vec()));
    assert_eq!(found, vec![Some(999u64.encode()); 3]);

    // Unbounded iteration sees exactly the adversary's own three keys, nothing else.
    let all: Vec<(Vec<u8>, Vec<u8>)> = chain.view(adv, "dump", ());
    let mut with_addr = counter.to_vec();
    with_addr.extend_from_slice(b"c");
    let mut with_prefix = vec![0x04];
    with_prefix.extend_from_slice(&with_addr);
    let keys: Vec<Vec<u8>> = all.into_iter().map(|(k, _)| k).collect();
    let mut expected = vec![b"c".to_vec(), with_addr, with_prefix];
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn reentering_the_token_from_its_callback_is_refused() {
    let (mut chain, _, adv) = setup();
    let token = chain.instantiate(ALICE, TOKEN, ());
    assert_eq!(
        chain.call(ALICE, token, "mint", (ALICE, 100u128)).status,
        Status::Success
    );

    // transfer_and_call credits the adversary and calls its on_token_received, which tries to
    // move the tokens again by calling the token: the token is still on the call stack and
    // does not accept re-entry, so the host refuses the call.
    let r = chain.call(ALICE, token, "transfer_and_call", (adv, 40u128));
    assert_eq!(r.status, Status::Success, "{r:?}");
    assert_eq!(r.events.len(), 1, "only the one transfer happened");
    let seen: Option<Result<(), CallError>> = chain.view(adv, "last_reentry", ());
    assert_eq!(seen, Some(Err(CallError::Refused)));
    assert_eq!(chain.view::<u128>(token, "balance_of", ALICE), 60);
    assert_eq!(chain.view::<u128>(token, "balance_of", adv), 40);
    assert_eq!(chain.view::<u128>(token, "balance_of", BOB), 0);
}

#[test]
fn failing_callback_rolls_the_transfer_back() {
    let (mut chain, counter, _) = setup();
    let token = chain.instantiate(ALICE, TOKEN, ());
    assert_eq!(
        chain.call(ALICE, token, "mint", (ALICE, 100u128)).status,
        Status::Success
    );
    // The counter has no on_token_received: the callback is refused, so the token reverts
    // with TokenError::CallbackFailed (index 5) and the credit is undone.
    let r = chain.call(ALICE, token, "transfer_and_call", (counter, 40u128));
    assert_eq!(r.status, Status::Reverted(vec![5]));
    assert!(r.events.is_empty());
    assert_eq!(chain.view::<u128>(token, "balance_of", ALICE), 100);
    assert_eq!(chain.view::<u128>(token, "balance_of", counter), 0);
}

#[test]
fn event_spam_hits_the_event_limits() {
    let (mut chain, _, adv) = setup();
    let max = chain.engine.config().limits.max_events;
    let max_data = chain.engine.config().limits.max_event_data;
    let r = chain.call(BOB, adv, "spam", (max, 16u32));
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.events.len(), max as usize);
    let r = chain.call(BOB, adv, "spam", (max + 1, 16u32));
    assert_eq!(r.status, Status::Trapped(TrapKind::LimitExceeded));
    assert!(r.events.is_empty());
    let r = chain.call(BOB, adv, "spam", (1u32, max_data + 1));
    assert_eq!(r.status, Status::Trapped(TrapKind::LimitExceeded));
}

#[test]
fn giant_return_data_is_capped() {
    let (mut chain, _, adv) = setup();
    let max = chain.engine.config().limits.max_return_len;
    let r = chain.call(BOB, adv, "big_return", max);
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.return_data.len(), max as usize);
    assert!(r.return_data.iter().all(|&b| b == 0xab));
    let r = chain.call(BOB, adv, "big_return", max + 1);
    assert_eq!(r.status, Status::Trapped(TrapKind::LimitExceeded));
    assert!(r.return_data.is_empty());
    // More than the memory limit allows: the bump allocator cannot grow memory, and the
    // allocation failure is a panic, i.e. a revert that keeps the message.
    let r = chain.call(BOB, adv, "big_return", 4u32 << 20);
    let Status::Reverted(msg) = r.status else {
        panic!("{r:?}")
    };
    let msg = String::from_utf8(msg).unwrap();
    assert!(
        msg.contains("memory allocation of 4194304 bytes failed"),
        "{msg}"
    );
}

#[test]
fn garbage_arguments_and_missing_methods_through_nested_calls() {
    let (mut chain, counter, adv) = setup();
    let token = chain.instantiate(ALICE, TOKEN, ());
    let (code, data): (i32, Vec<u8>) = chain.call_ok(
        BOB,
        adv,
        "call_raw",
        (token, "transfer".to_string(), vec![1u8, 2, 3]),
    );
    assert_eq!(code, 1, "reverted");
    assert_eq!(data, b"keel-sdk: invalid arguments for `transfer`");

    let (code, data): (i32, Vec<u8>) = chain.call_ok(
        BOB,
        adv,
        "call_raw",
        (counter, "nope".to_string(), Vec::<u8>::new()),
    );
    assert_eq!((code, data), (3, vec![]), "refused");
    let (code, _): (i32, Vec<u8>) = chain.call_ok(
        BOB,
        adv,
        "call_raw",
        ([9u8; 32], "get".to_string(), Vec::<u8>::new()),
    );
    assert_eq!(code, 3, "no contract there: refused");

    // At top level a missing method is not run at all.
    let r = chain.call(BOB, adv, "nope", ());
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownMethod));
}

#[test]
fn a_panic_reverts_with_its_message() {
    let (mut chain, _, adv) = setup();
    let r = chain.call(BOB, adv, "boom", 7u32);
    let Status::Reverted(msg) = r.status else {
        panic!("{r:?}")
    };
    let msg = String::from_utf8(msg).unwrap();
    assert!(
        msg.starts_with("panicked at adversary/src/lib.rs:"),
        "{msg}"
    );
    assert!(msg.ends_with(": boom 7"), "{msg}");
    assert_eq!(chain.call_ok::<u32>(BOB, adv, "boom", 0u32), 0);
}

#[test]
fn a_reentrant_contract_accepts_re_entry_and_sees_nested_panics() {
    let (mut chain, _, adv) = setup();
    // The adversary exports `keel_reentrant`, so it may call itself while on the stack.
    let (code, data): (i32, Vec<u8>) = chain.call_ok(
        BOB,
        adv,
        "call_raw",
        (adv, "boom".to_string(), 0u32.encode()),
    );
    assert_eq!((code, data), (0, 0u32.encode()));
    // A nested panic comes back as a revert whose message is the panic message.
    let (code, data): (i32, Vec<u8>) = chain.call_ok(
        BOB,
        adv,
        "call_raw",
        (adv, "boom".to_string(), 5u32.encode()),
    );
    assert_eq!(code, 1);
    let msg = String::from_utf8(data).unwrap();
    assert!(
        msg.starts_with("panicked at ") && msg.ends_with(": boom 5"),
        "{msg}"
    );
}

#[test]
fn overflowing_the_small_stack_traps_cleanly() {
    let (mut chain, _, adv) = setup();
    // About 8 KiB of a 32 KiB stack: fine.
    let r = chain.call(BOB, adv, "stack_bomb", 8u32);
    assert_eq!(r.status, Status::Success, "{r:?}");
    // About 64 KiB: the stack pointer runs below address 0, and the next store traps.
    let r = chain.call(BOB, adv, "stack_bomb", 64u32);
    assert_eq!(r.status, Status::Trapped(TrapKind::MemoryOutOfBounds));
}

#[test]
fn environment_wrappers_report_the_host_values() {
    let config = keel_engine::EngineConfig {
        record_logs: true,
        ..Default::default()
    };
    let mut chain = Chain::with_config(config);
    let adv = chain.instantiate(BOB, ADVERSARY, ());
    let height = chain.ctx.height;
    let r = chain.call(ALICE, adv, "env_info", "hello".to_string());
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.logs, vec!["hello".to_string()]);
    let (h, ts, gas_left, caller, me): (u64, u64, u64, Address, Address) =
        Decode::decode(&mut r.return_data.as_slice()).unwrap();
    assert_eq!((h, ts, caller, me), (height, 1_000, ALICE, adv));
    assert!(
        gas_left > 0 && gas_left < common::GAS - r.gas_used / 2,
        "{gas_left}"
    );
}
