//! The scenarios of `examples.rs`, written against the example contracts' own Rust types: every
//! call goes through the typed client `#[contract]` generates (`TokenClient`, `NftClient`, ...),
//! returns `Result<T, CallFailure<E>>` with the contract's own error type (`TokenError`,
//! `NftError`, `MultisigError`, `SwapError`), and events decode as the contract's own event
//! types. The example crates are dev-dependencies (host builds of `contracts/examples/*`); the
//! wasm that runs is the one keel-contracts builds from the same source.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use adversary::AdversaryClient;
use compute::ComputeClient;
use counter::CounterClient;
use multisig::{MultisigClient, MultisigError};
use nft::{NftClient, NftError};
use swap::{SwapClient, SwapError, Swapped};
use token::TokenClient;
use token_api::{Approval, TokenError, Transfer};

use keel_testkit::codec::Encode;
use keel_testkit::{Address, CallFailure, StoreKind, TestChain, account};

fn names() -> (Address, Address, Address) {
    (account("alice"), account("bob"), account("carol"))
}

/// The example token, `admin` its admin, with `supply` minted to `admin`.
fn token(chain: &mut TestChain, admin: Address, supply: u128) -> Address {
    let t = chain.deploy_example(admin, "token", ()).unwrap();
    TokenClient::new(chain, t)
        .with_sender(admin)
        .mint(admin, supply)
        .unwrap()
        .unwrap();
    t
}

#[test]
fn counter_counts_on_both_stores() {
    for kind in [StoreKind::Memory, StoreKind::RocksDb] {
        let (alice, bob, _) = names();
        let mut chain = TestChain::with_store(kind).unwrap();
        let c = chain.deploy_example(alice, "counter", ()).unwrap();
        let mut counter = CounterClient::new(&mut chain, c);
        assert_eq!(counter.get().unwrap().result, Ok(0));
        assert_eq!(counter.increment().unwrap().result, Ok(1));
        let mut as_bob = CounterClient::new(&mut chain, c).with_sender(bob);
        assert_eq!(as_bob.increment().unwrap().unwrap(), 2);
        assert_eq!(as_bob.get().unwrap().unwrap(), 2);
        assert_eq!(chain.storage_decoded::<u64>(c, b"c").unwrap(), Some(2));
        chain.prove(c, b"c").unwrap().verify().unwrap();
    }
}

#[test]
fn token_transfers_approvals_events_and_typed_errors() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let t = chain.deploy_example(alice, "token", ()).unwrap();
    let mut as_alice = TokenClient::new(&mut chain, t).with_sender(alice);
    assert_eq!(as_alice.admin().unwrap().result, Ok(Some(alice)));

    let mut as_bob = TokenClient::new(&mut chain, t).with_sender(bob);
    let denied = as_bob.mint(bob, 5).unwrap();
    assert_eq!(denied.result, Err(CallFailure::Error(TokenError::NotAdmin)));
    assert!(denied.receipt.events().is_empty());

    let mut as_alice = TokenClient::new(&mut chain, t).with_sender(alice);
    let minted = as_alice.mint(alice, 1_000).unwrap();
    assert_eq!(minted.result, Ok(()));
    let ev = minted.receipt.event::<Transfer>().unwrap();
    assert_eq!(ev.emitter, t);
    let mint_event = Transfer {
        from: Address::ZERO,
        to: alice,
        amount: 1_000,
    };
    assert_eq!(ev.value, mint_event);

    let sent = as_alice.transfer(bob, 300).unwrap();
    assert_eq!(sent.result, Ok(()));
    let ev = sent.receipt.event::<Transfer>().unwrap();
    assert_eq!(
        ev.value,
        Transfer {
            from: alice,
            to: bob,
            amount: 300
        }
    );
    // The topics are the event's `#[topic]` fields, after its name.
    assert_eq!(ev.topics[1..], [alice.0, bob.0]);

    let mut as_bob = TokenClient::new(&mut chain, t).with_sender(bob);
    let short = as_bob.transfer(carol, 301).unwrap();
    assert_eq!(short.unwrap_err(), TokenError::InsufficientBalance);

    let mut as_alice = TokenClient::new(&mut chain, t).with_sender(alice);
    let approved = as_alice.approve(carol, 100).unwrap();
    assert_eq!(
        approved.receipt.event::<Approval>().unwrap().value,
        Approval {
            owner: alice,
            spender: carol,
            amount: 100
        }
    );
    let mut as_carol = TokenClient::new(&mut chain, t).with_sender(carol);
    assert_eq!(
        as_carol.transfer_from(alice, carol, 101).unwrap().result,
        Err(CallFailure::Error(TokenError::InsufficientAllowance))
    );
    as_carol.transfer_from(alice, carol, 60).unwrap().unwrap();

    let mut token = TokenClient::new(&mut chain, t);
    assert_eq!(token.balance_of(alice).unwrap().unwrap(), 640);
    assert_eq!(token.balance_of(bob).unwrap().unwrap(), 300);
    assert_eq!(token.balance_of(carol).unwrap().unwrap(), 60);
    assert_eq!(token.allowance(alice, carol).unwrap().unwrap(), 40);
    assert_eq!(token.total_supply().unwrap().unwrap(), 1_000);
    // Arguments that are not the method's: the SDK's message, not a `TokenError`.
    let garbage = chain.call(alice, t, "transfer", ()).unwrap();
    garbage.assert_reverted_with("invalid arguments for `transfer`");

    // Typed calls are ordinary transactions: each is in the gas report (two typed transfers and
    // the garbage one; the denied and the admin's mint).
    let report = chain.gas_report();
    assert_eq!(report.get("token", "transfer").unwrap().calls, 3);
    assert_eq!(report.get("token", "mint").unwrap().calls, 2);
    chain.print_gas_report();
}

#[test]
fn nft_registry() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let n = chain.deploy_example(alice, "nft", ()).unwrap();
    let mut admin = NftClient::new(&mut chain, n).with_sender(alice);
    for id in [256, 1, 2] {
        admin.mint(id, bob).unwrap().unwrap();
    }
    assert_eq!(
        admin.mint(1, bob).unwrap().result,
        Err(CallFailure::Error(NftError::AlreadyMinted))
    );
    assert_eq!(
        admin.transfer(2, carol).unwrap().unwrap_err(),
        NftError::NotOwner
    );
    let moved = NftClient::new(&mut chain, n)
        .with_sender(bob)
        .transfer(2, carol)
        .unwrap();
    let ev = moved.receipt.event::<nft::Transfer>().unwrap();
    assert_eq!(
        ev.value,
        nft::Transfer {
            from: bob,
            to: carol,
            id: 2
        }
    );
    let mut nfts = NftClient::new(&mut chain, n);
    assert_eq!(nfts.owner_of(2).unwrap().result, Ok(Some(carol)));
    let all = nfts.list(None, 10).unwrap().unwrap();
    assert_eq!(all, vec![(1, bob), (2, carol), (256, bob)]);
}

#[test]
fn multisig_executes_a_token_transfer_after_enough_approvals() {
    let (alice, bob, carol) = names();
    let mut chain = TestChain::in_memory();
    let t = token(&mut chain, alice, 1_000);
    let m = chain
        .deploy_example(alice, "multisig", (vec![alice, bob, carol], 2u32))
        .unwrap();
    TokenClient::new(&mut chain, t)
        .with_sender(alice)
        .transfer(m, 500)
        .unwrap()
        .unwrap();

    let args = (carol, 200u128).encode();
    let mut as_alice = MultisigClient::new(&mut chain, m).with_sender(alice);
    let id = as_alice
        .propose(t, "transfer".to_string(), args)
        .unwrap()
        .unwrap();
    // One approval (the proposer's) is not enough.
    assert_eq!(
        as_alice.execute(id).unwrap().result,
        Err(CallFailure::Error(MultisigError::NotEnoughApprovals))
    );
    let mut as_bob = MultisigClient::new(&mut chain, m).with_sender(bob);
    assert_eq!(as_bob.approve(id).unwrap().result, Ok(2));
    assert_eq!(
        as_bob.approve(id).unwrap().unwrap_err(),
        MultisigError::AlreadyApproved
    );
    let mut as_carol = MultisigClient::new(&mut chain, m).with_sender(carol);
    as_carol.execute(id).unwrap().unwrap();
    assert_eq!(
        as_carol.execute(id).unwrap().unwrap_err(),
        MultisigError::AlreadyExecuted
    );
    let mut token = TokenClient::new(&mut chain, t);
    assert_eq!(token.balance_of(carol).unwrap().result, Ok(200));
    assert_eq!(token.balance_of(m).unwrap().result, Ok(300));
}

#[test]
fn swap_pool_adds_liquidity_and_swaps() {
    let (alice, bob, _) = names();
    let mut chain = TestChain::in_memory();
    let a = token(&mut chain, alice, 1_000_000);
    let b = token(&mut chain, alice, 1_000_000);
    let pool = chain.deploy_example(alice, "swap", (a, b)).unwrap();
    for t in [a, b] {
        TokenClient::new(&mut chain, t)
            .with_sender(alice)
            .approve(pool, 100_000)
            .unwrap()
            .unwrap();
    }
    let mut as_alice = SwapClient::new(&mut chain, pool).with_sender(alice);
    let shares = as_alice.add_liquidity(10_000, 10_000).unwrap().unwrap();
    assert!(shares > 0);
    assert_eq!(as_alice.reserves().unwrap().result, Ok((10_000, 10_000)));
    assert_eq!(
        as_alice.add_liquidity(0, 10).unwrap().unwrap_err(),
        SwapError::ZeroAmount
    );

    // Bob gets some of token a and swaps it for b.
    let mut token_a = TokenClient::new(&mut chain, a).with_sender(alice);
    token_a.transfer(bob, 1_000).unwrap().unwrap();
    let mut token_a = TokenClient::new(&mut chain, a).with_sender(bob);
    token_a.approve(pool, 1_000).unwrap().unwrap();
    let snap = chain.snapshot().unwrap();
    let swapped = SwapClient::new(&mut chain, pool)
        .with_sender(bob)
        .swap(a, 1_000, 1)
        .unwrap();
    let out = swapped.result.clone().unwrap();
    assert!(out > 0 && out < 1_000, "constant product: {out}");
    let ev = swapped.receipt.event::<Swapped>().unwrap();
    assert_eq!(
        ev.value,
        Swapped {
            trader: bob,
            token_in: a,
            amount_in: 1_000,
            amount_out: out
        }
    );
    assert_eq!(
        TokenClient::new(&mut chain, b)
            .balance_of(bob)
            .unwrap()
            .result,
        Ok(out)
    );
    // An impossible minimum is the pool's own error, and the whole swap rolls back.
    chain.restore(&snap).unwrap();
    let mut as_bob = SwapClient::new(&mut chain, pool).with_sender(bob);
    assert_eq!(
        as_bob.swap(a, 1_000, 1_000).unwrap().unwrap_err(),
        SwapError::Slippage
    );
    assert_eq!(
        TokenClient::new(&mut chain, a)
            .balance_of(bob)
            .unwrap()
            .result,
        Ok(1_000)
    );
}

#[test]
fn panics_in_contracts_arrive_with_their_message() {
    let (alice, _, _) = names();
    let mut chain = TestChain::in_memory();
    let adv = chain.deploy_example(alice, "adversary", ()).unwrap();
    let mut adversary = AdversaryClient::new(&mut chain, adv);
    let out = adversary.boom(3).unwrap();
    // A panic is not the method's error type: the revert bytes, which the receipt shows.
    assert!(matches!(out.result, Err(CallFailure::Reverted(_))));
    out.receipt.assert_reverted_with("boom 3");
    assert!(
        out.receipt
            .revert_message()
            .unwrap()
            .contains("panicked at")
    );
    assert_eq!(adversary.boom(0).unwrap().result, Ok(0));
}

#[test]
fn heavy_compute_runs_out_of_gas() {
    let (alice, _, _) = names();
    let mut chain = TestChain::in_memory();
    let c = chain.deploy_example(alice, "compute", ()).unwrap();
    assert_eq!(
        ComputeClient::new(&mut chain, c).fib(10).unwrap().result,
        Ok(55)
    );
    chain.set_gas_limit(50_000);
    let out = ComputeClient::new(&mut chain, c).fib_recursive(30).unwrap();
    assert_eq!(out.result, Err(CallFailure::Failed));
    out.receipt.assert_out_of_gas();
    assert_eq!(out.receipt.gas_used(), 50_000);
}
