//! The example contracts, tested the way a contract author would: with `TestChain`, typed
//! arguments and results, event and revert assertions, and a gas report.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use keel_testkit::codec::{Decode, Encode};
use keel_testkit::{Address, StoreKind, TestChain, account};

/// Mirrors `token_api::TokenError` (a client only needs the same SCALE shape).
#[derive(Debug, PartialEq, Eq, Encode, Decode)]
enum TokenError {
    AlreadyInitialized,
    NotAdmin,
    InsufficientBalance,
    InsufficientAllowance,
    Overflow,
    CallbackFailed,
}

#[derive(Debug, PartialEq, Eq, Encode, Decode)]
enum NftError {
    NotAdmin,
    AlreadyMinted,
    NoSuchToken,
    NotOwner,
}

fn names() -> (Address, Address, Address) {
    (account("alice"), account("bob"), account("carol"))
}

fn token(chain: &mut TestChain, admin: Address, supply: u128) -> Address {
    let t = chain.deploy_example(admin, "token", ()).unwrap();
    chain
        .call(admin, t, "mint", (admin, supply))
        .unwrap()
        .assert_success();
    t
}

#[test]
fn counter_counts_on_both_stores() {
    for kind in [StoreKind::Memory, StoreKind::RocksDb] {
        let (alice, bob, _) = names();
        let mut chain = TestChain::with_store(kind).unwrap();
        let c = chain.deploy_example(alice, "counter", ()).unwrap();
        assert_eq!(chain.query::<_, u64>(alice, c, "get", ()).unwrap(), 0);
        let n: u64 = chain
            .call(alice, c, "increment", ())
            .unwrap()
            .decode()
            .unwrap();
        assert_eq!(n, 1);
        let n: u64 = chain.call_decoded(bob, c, "increment", ()).unwrap();
        assert_eq!(n, 2);
        assert_eq!(chain.query::<_, u64>(bob, c, "get", ()).unwrap(), 2);
        // The counter's storage is visible from outside, at its own key.
        assert_eq!(chain.storage_decoded::<u64>(c, b"c").unwrap(), Some(2));
        assert_eq!(
            chain.storage_entries(c).unwrap(),
            vec![(b"c".to_vec(), 2u64.encode())]
        );
        let p = chain.prove(c, b"c").unwrap();
        assert_eq!(p.value, Some(2u64.encode()));
        p.verify().unwrap();
    }
}

#[test]
fn token_transfers_approvals_events_and_typed_errors() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let t = chain.deploy_example(alice, "token", ()).unwrap();
    assert_eq!(
        chain
            .query::<_, Option<Address>>(bob, t, "admin", ())
            .unwrap(),
        Some(alice)
    );

    chain
        .call(bob, t, "mint", (bob, 5u128))
        .unwrap()
        .assert_reverted_with_error(&TokenError::NotAdmin);
    chain
        .call(alice, t, "mint", (alice, 1_000u128))
        .unwrap()
        .assert_success()
        .assert_event_count(1)
        .assert_event("Transfer", &([0u8; 32], alice, 1_000u128));

    let out = chain.call(alice, t, "transfer", (bob, 300u128)).unwrap();
    out.assert_success()
        .assert_event("Transfer", &(alice, bob, 300u128));
    let ev = out.events_named("Transfer");
    // Raw engine events carry `[u8; 32]`s, the bytes of the `Address`es.
    assert_eq!(ev[0].topics[1..], [alice.0, bob.0]);
    assert_eq!(Address::from(ev[0].contract), t);

    let out = chain.call(bob, t, "transfer", (carol, 301u128)).unwrap();
    out.assert_reverted_with_error(&TokenError::InsufficientBalance)
        .assert_event_count(0);
    assert_eq!(
        out.revert_error::<TokenError>(),
        Some(TokenError::InsufficientBalance)
    );

    chain
        .call(alice, t, "approve", (carol, 100u128))
        .unwrap()
        .assert_event("Approval", &(alice, carol, 100u128));
    chain
        .call(carol, t, "transfer_from", (alice, carol, 101u128))
        .unwrap()
        .assert_reverted_with_error(&TokenError::InsufficientAllowance);
    chain
        .call(carol, t, "transfer_from", (alice, carol, 60u128))
        .unwrap()
        .assert_success();

    let balance = |c: &TestChain, who| c.query::<_, u128>(alice, t, "balance_of", who).unwrap();
    assert_eq!(balance(&chain, alice), 640);
    assert_eq!(balance(&chain, bob), 300);
    assert_eq!(balance(&chain, carol), 60);
    assert_eq!(
        chain
            .query::<_, u128>(alice, t, "allowance", (alice, carol))
            .unwrap(),
        40
    );
    assert_eq!(
        chain
            .query::<_, u128>(alice, t, "total_supply", ())
            .unwrap(),
        1_000
    );
    // Garbage arguments: the SDK's message, as text.
    chain
        .call(alice, t, "transfer", ())
        .unwrap()
        .assert_reverted_with("invalid arguments for `transfer`");

    let report = chain.gas_report();
    assert_eq!(report.get("token", "transfer").unwrap().calls, 3);
    assert_eq!(report.get("token", "mint").unwrap().calls, 2);
    chain.print_gas_report();
    // The token's storage: admin, supply, 3 balances, 1 allowance; nothing of the counter's.
    let entries = chain.storage_entries(t).unwrap();
    assert_eq!(entries.len(), 6, "{entries:?}");
    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn nft_registry() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let n = chain.deploy_example(alice, "nft", ()).unwrap();
    for id in [256u64, 1, 2] {
        chain
            .call(alice, n, "mint", (id, bob))
            .unwrap()
            .assert_success();
    }
    chain
        .call(alice, n, "mint", (1u64, bob))
        .unwrap()
        .assert_reverted_with_error(&NftError::AlreadyMinted);
    chain
        .call(alice, n, "transfer", (2u64, carol))
        .unwrap()
        .assert_reverted_with_error(&NftError::NotOwner);
    chain
        .call(bob, n, "transfer", (2u64, carol))
        .unwrap()
        .assert_success();
    let owner: Option<Address> = chain.query(alice, n, "owner_of", 2u64).unwrap();
    assert_eq!(owner, Some(carol));
    let all: Vec<(u64, Address)> = chain.query(alice, n, "list", (None::<u64>, 10u32)).unwrap();
    assert_eq!(
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [1, 2, 256]
    );
}

#[test]
fn multisig_executes_a_token_transfer_after_enough_approvals() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let t = token(&mut chain, alice, 1_000);
    let m = chain
        .deploy_example(alice, "multisig", (vec![alice, bob, carol], 2u32))
        .unwrap();
    chain
        .call(alice, t, "transfer", (m, 500u128))
        .unwrap()
        .assert_success();

    let args = (carol, 200u128).encode();
    let id: u64 = chain
        .call_decoded(alice, m, "propose", (t, "transfer".to_string(), args))
        .unwrap();
    // One approval (the proposer's) is not enough.
    let early = chain.call(alice, m, "execute", id).unwrap();
    early.assert_reverted();
    let approvals: u32 = chain.call_decoded(bob, m, "approve", id).unwrap();
    assert_eq!(approvals, 2);
    chain
        .call(carol, m, "execute", id)
        .unwrap()
        .assert_success();
    assert_eq!(
        chain
            .query::<_, u128>(alice, t, "balance_of", carol)
            .unwrap(),
        200
    );
    assert_eq!(
        chain.query::<_, u128>(alice, t, "balance_of", m).unwrap(),
        300
    );
}

#[test]
fn swap_pool_adds_liquidity_and_swaps() {
    let (alice, bob, _) = names();
    let mut chain = TestChain::in_memory();
    let a = token(&mut chain, alice, 1_000_000);
    let b = token(&mut chain, alice, 1_000_000);
    let pool = chain.deploy_example(alice, "swap", (a, b)).unwrap();
    for t in [a, b] {
        chain
            .call(alice, t, "approve", (pool, 100_000u128))
            .unwrap()
            .assert_success();
    }
    let shares: u128 = chain
        .call_decoded(alice, pool, "add_liquidity", (10_000u128, 10_000u128))
        .unwrap();
    assert!(shares > 0);
    let reserves: (u128, u128) = chain.query(alice, pool, "reserves", ()).unwrap();
    assert_eq!(reserves, (10_000, 10_000));

    // Bob gets some of token a and swaps it for b.
    chain
        .call(alice, a, "transfer", (bob, 1_000u128))
        .unwrap()
        .assert_success();
    chain
        .call(bob, a, "approve", (pool, 1_000u128))
        .unwrap()
        .assert_success();
    let snap = chain.snapshot().unwrap();
    let out: u128 = chain
        .call_decoded(bob, pool, "swap", (a, 1_000u128, 1u128))
        .unwrap();
    assert!(out > 0 && out < 1_000, "constant product: {out}");
    assert_eq!(
        chain.query::<_, u128>(bob, b, "balance_of", bob).unwrap(),
        out
    );
    // An impossible minimum reverts, and the whole swap rolls back.
    chain.restore(&snap).unwrap();
    chain
        .call(bob, pool, "swap", (a, 1_000u128, 1_000u128))
        .unwrap()
        .assert_reverted();
    assert_eq!(
        chain.query::<_, u128>(bob, a, "balance_of", bob).unwrap(),
        1_000
    );
}

#[test]
fn panics_in_contracts_arrive_with_their_message() {
    let (alice, _, _) = names();
    let mut chain = TestChain::in_memory();
    let adv = chain.deploy_example(alice, "adversary", ()).unwrap();
    let out = chain.call(alice, adv, "boom", 3u32).unwrap();
    out.assert_reverted_with("boom 3");
    assert!(out.revert_message().unwrap().contains("panicked at"));
    let fine: u32 = chain.call_decoded(alice, adv, "boom", 0u32).unwrap();
    assert_eq!(fine, 0);
}

#[test]
fn heavy_compute_runs_out_of_gas() {
    let (alice, _, _) = names();
    let mut chain = TestChain::in_memory();
    let c = chain.deploy_example(alice, "compute", ()).unwrap();
    let fib: u64 = chain.call_decoded(alice, c, "fib", 10u32).unwrap();
    assert_eq!(fib, 55);
    chain.set_gas_limit(50_000);
    let out = chain.call(alice, c, "fib_recursive", 30u32).unwrap();
    out.assert_out_of_gas();
    assert_eq!(out.gas_used(), 50_000);
}
