//! Invariant testing of a token: total supply == sum of balances, after every call of random
//! sequences of mints and transfers (including transfers to oneself). The test-only
//! `buggy-token` (tests/fixtures) has a planted bug, a self-transfer that credits without
//! debiting; the helper must find it and shrink the sequence to the two calls that show it.
//! The same token with the bug switched off (`init(true)`) must pass.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use buggy_token::{BALANCES, BuggyTokenClient, SUPPLY};
use keel_testkit::invariant::{self, Config};
use keel_testkit::{Address, TestChain, account, build_wasm};
use proptest::prelude::*;

const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Clone, Debug)]
enum Op {
    Mint {
        to: usize,
        amount: u128,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u128,
    },
}

fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..USERS.len(), 1..1_000u128).prop_map(|(to, amount)| Op::Mint { to, amount }),
        (0..USERS.len(), 0..USERS.len(), 0..1_500u128)
            .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
    ]
}

fn wasm() -> Vec<u8> {
    build_wasm(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/buggy-token"
    ))
    .unwrap()
}

fn run(fixed: bool) -> Option<invariant::Failure<Op>> {
    let users: Vec<Address> = USERS.iter().map(|n| account(n)).collect();
    let config = Config {
        cases: 48,
        max_len: 12,
        ..Config::default()
    };
    invariant::run(
        &config,
        || {
            let mut chain = TestChain::new()?;
            let token = chain.deploy(users[0], &wasm(), (fixed,))?;
            Ok((chain, token))
        },
        ops(),
        |chain, token, op| {
            let mut client = BuggyTokenClient::new(chain, *token);
            // A revert (e.g. insufficient balance) is an ordinary outcome of a random call.
            let _ = match *op {
                Op::Mint { to, amount } => client.mint(users[to], amount)?,
                Op::Transfer { from, to, amount } => client
                    .with_sender(users[from])
                    .transfer(users[to], amount)?,
            };
            Ok(())
        },
        |chain, token| {
            // Read through the contract's own Item and Map keys.
            let supply = chain
                .item(*token, &SUPPLY)
                .map_err(|e| e.to_string())?
                .unwrap_or(0);
            let mut sum = 0u128;
            for u in &users {
                sum += chain
                    .map_get(*token, &BALANCES, u)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0);
            }
            if supply == sum {
                Ok(())
            } else {
                Err(format!("total supply {supply} != sum of balances {sum}"))
            }
        },
    )
    .unwrap()
}

#[test]
fn the_supply_invariant_catches_the_planted_self_transfer_bug_and_shrinks_it() {
    let failure = run(false).expect("the planted bug must be found");
    println!("{failure}");
    assert!(failure.message.contains("total supply"), "{failure}");
    // Shrunk to the minimum: one mint, then one self-transfer of part of it.
    assert_eq!(failure.actions.len(), 2, "{failure}");
    assert!(matches!(failure.actions[0], Op::Mint { .. }), "{failure}");
    match failure.actions[1] {
        Op::Transfer { from, to, .. } => assert_eq!(from, to, "{failure}"),
        _ => panic!("{failure}"),
    }
}

#[test]
fn the_fixed_token_keeps_the_invariant() {
    if let Some(f) = run(true) {
        panic!("{f}");
    }
}
