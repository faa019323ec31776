//! The example contracts, run as wasm through the engine: each behaves as documented, typed
//! errors arrive as SCALE revert data, events carry their name topic, and cross-contract
//! calls (swap pool ↔ tokens, multisig → token) commit or roll back as a unit.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failure should panic

mod common;

use common::{ALICE, BOB, CAROL, Chain, reverted_with};
use keel_contracts::{COMPUTE, COUNTER, MULTISIG, NFT, SWAP, TOKEN};
use keel_engine::{Address, InvalidReason, Status};
use parity_scale_codec::{Decode, Encode};

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

fn topic(name: &str) -> [u8; 32] {
    let mut t = [0u8; 32];
    t[..name.len()].copy_from_slice(name.as_bytes());
    t
}

/// A token whose admin is `admin`, with `supply` minted to `admin`.
fn token(chain: &mut Chain, admin: Address, supply: u128) -> Address {
    let t = chain.instantiate(admin, TOKEN, ());
    let r = chain.call(admin, t, "mint", (admin, supply));
    assert_eq!(r.status, Status::Success, "{r:?}");
    t
}

#[test]
fn counter_counts() {
    let mut chain = Chain::new();
    let c = chain.instantiate(ALICE, COUNTER, ());
    assert_eq!(chain.view::<u64>(c, "get", ()), 0);
    assert_eq!(chain.call_ok::<u64>(ALICE, c, "increment", ()), 1);
    assert_eq!(chain.call_ok::<u64>(BOB, c, "increment", ()), 2);
    assert_eq!(chain.view::<u64>(c, "get", ()), 2);
}

#[test]
fn token_mint_transfer_approve_and_events() {
    let mut chain = Chain::new();
    let t = chain.instantiate(ALICE, TOKEN, ());
    assert_eq!(chain.view::<Option<Address>>(t, "admin", ()), Some(ALICE));

    let r = chain.call(BOB, t, "mint", (BOB, 5u128));
    assert_eq!(r.status, reverted_with(TokenError::NotAdmin));
    let r = chain.call(ALICE, t, "mint", (ALICE, 1_000u128));
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].topics, vec![topic("Transfer"), [0; 32], ALICE]);
    assert_eq!(r.events[0].data, ([0u8; 32], ALICE, 1_000u128).encode());

    let r = chain.call(ALICE, t, "transfer", (BOB, 300u128));
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.events[0].topics, vec![topic("Transfer"), ALICE, BOB]);
    let r = chain.call(BOB, t, "transfer", (CAROL, 301u128));
    assert_eq!(r.status, reverted_with(TokenError::InsufficientBalance));
    assert!(r.events.is_empty(), "a reverted call's events are dropped");

    let r = chain.call(ALICE, t, "approve", (CAROL, 100u128));
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.events[0].topics, vec![topic("Approval"), ALICE, CAROL]);
    let r = chain.call(CAROL, t, "transfer_from", (ALICE, CAROL, 101u128));
    assert_eq!(r.status, reverted_with(TokenError::InsufficientAllowance));
    let r = chain.call(CAROL, t, "transfer_from", (ALICE, CAROL, 60u128));
    assert_eq!(r.status, Status::Success);

    assert_eq!(chain.view::<u128>(t, "balance_of", ALICE), 640);
    assert_eq!(chain.view::<u128>(t, "balance_of", BOB), 300);
    assert_eq!(chain.view::<u128>(t, "balance_of", CAROL), 60);
    assert_eq!(chain.view::<u128>(t, "allowance", (ALICE, CAROL)), 40);
    assert_eq!(chain.view::<u128>(t, "total_supply", ()), 1_000);
    assert_eq!(chain.view::<Address>(t, "address", ()), t);
}

#[test]
fn token_rejects_garbage_arguments_with_a_clear_message() {
    let mut chain = Chain::new();
    let t = token(&mut chain, ALICE, 10);
    // Too short, too long, and empty: never a trap, always the SDK's message.
    for args in [vec![1, 2, 3], vec![0u8; 49], vec![]] {
        let r = chain.call_raw(ALICE, t, "transfer", args);
        assert_eq!(
            r.status,
            Status::Reverted(b"keel-sdk: invalid arguments for `transfer`".to_vec())
        );
    }
    let r = chain.call_raw(ALICE, t, "total_supply", vec![0]);
    assert_eq!(
        r.status,
        Status::Reverted(b"keel-sdk: invalid arguments for `total_supply`".to_vec())
    );
    assert_eq!(chain.view::<u128>(t, "balance_of", ALICE), 10);
}

#[test]
fn calling_a_missing_method_is_refused_before_running() {
    let mut chain = Chain::new();
    let c = chain.instantiate(ALICE, COUNTER, ());
    let r = chain.call(ALICE, c, "decrement", ());
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownMethod));
    assert_eq!(r.gas_used, 0);
}

#[test]
fn compute_results_are_right() {
    let mut chain = Chain::new();
    let c = chain.instantiate(ALICE, COMPUTE, ());
    assert_eq!(chain.view::<u64>(c, "fib", 0u32), 0);
    assert_eq!(chain.view::<u64>(c, "fib", 10u32), 55);
    assert_eq!(
        chain.view::<u64>(c, "fib", 90u32),
        2_880_067_194_370_816_120
    );
    assert_eq!(chain.view::<u64>(c, "fib_recursive", 20u32), 6_765);
    let mut h = [0u8; 32];
    for _ in 0..3 {
        h = *blake3::hash(&h).as_bytes();
    }
    assert_eq!(chain.view::<[u8; 32]>(c, "hash_loop", 3u32), h);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..1000u64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd).wrapping_add(i);
        x ^= x >> 29;
    }
    assert_eq!(chain.view::<u64>(c, "mix_loop", 1000u32), x);
    let _ = chain.call_ok::<[u8; 32]>(ALICE, c, "sha256_loop", 2u32);
}

#[derive(Debug, PartialEq, Eq, Encode, Decode)]
enum NftError {
    NotAdmin,
    AlreadyMinted,
    NoSuchToken,
    NotOwner,
}

#[test]
fn nft_registry_mints_transfers_and_lists_in_id_order() {
    let mut chain = Chain::new();
    let n = chain.instantiate(ALICE, NFT, ());
    // Ids whose little-endian bytes sort differently from their values.
    for id in [256u64, 1, 2, 65_536, 3] {
        let r = chain.call(ALICE, n, "mint", (id, BOB));
        assert_eq!(r.status, Status::Success, "{r:?}");
        assert_eq!(r.events[0].topics[0], topic("Transfer"));
        let mut id_topic = [0u8; 32];
        id_topic[24..].copy_from_slice(&id.to_be_bytes());
        assert_eq!(r.events[0].topics[3], id_topic);
    }
    assert_eq!(
        chain.call(ALICE, n, "mint", (1u64, BOB)).status,
        reverted_with(NftError::AlreadyMinted)
    );
    assert_eq!(
        chain.call(BOB, n, "mint", (9u64, BOB)).status,
        reverted_with(NftError::NotAdmin)
    );
    assert_eq!(
        chain.call(ALICE, n, "transfer", (2u64, CAROL)).status,
        reverted_with(NftError::NotOwner)
    );
    assert_eq!(
        chain.call(BOB, n, "transfer", (7u64, CAROL)).status,
        reverted_with(NftError::NoSuchToken)
    );
    assert_eq!(
        chain.call(BOB, n, "transfer", (2u64, CAROL)).status,
        Status::Success
    );

    assert_eq!(
        chain.view::<Option<Address>>(n, "owner_of", 2u64),
        Some(CAROL)
    );
    assert_eq!(chain.view::<Option<Address>>(n, "owner_of", 7u64), None);
    assert_eq!(chain.view::<u64>(n, "balance_of", BOB), 4);
    assert_eq!(chain.view::<u64>(n, "total_supply", ()), 5);

    let all: Vec<(u64, Address)> = chain.view(n, "list", (None::<u64>, 100u32));
    let ids: Vec<u64> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2, 3, 256, 65_536]);
    assert_eq!(all[1].1, CAROL);
    let page1: Vec<(u64, Address)> = chain.view(n, "list", (None::<u64>, 2u32));
    let page2: Vec<(u64, Address)> = chain.view(n, "list", (Some(2u64), 2u32));
    let page3: Vec<(u64, Address)> = chain.view(n, "list", (Some(256u64), 2u32));
    assert_eq!(page1.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(page2.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 256]);
    assert_eq!(page3.iter().map(|p| p.0).collect::<Vec<_>>(), [65_536]);

    // Burning removes the entry from storage, so iteration skips it.
    assert_eq!(
        chain.call(CAROL, n, "burn", 3u64).status,
        reverted_with(NftError::NotOwner)
    );
    assert_eq!(chain.call(BOB, n, "burn", 3u64).status, Status::Success);
    assert_eq!(chain.view::<Option<Address>>(n, "owner_of", 3u64), None);
    assert_eq!(chain.view::<u64>(n, "total_supply", ()), 4);
    let all: Vec<(u64, Address)> = chain.view(n, "list", (None::<u64>, 100u32));
    assert_eq!(
        all.iter().map(|p| p.0).collect::<Vec<_>>(),
        [1, 2, 256, 65_536]
    );
    assert_eq!(
        chain.call(ALICE, n, "mint", (3u64, CAROL)).status,
        Status::Success
    );
}

#[derive(Debug, PartialEq, Eq, Encode, Decode)]
enum MultisigError {
    BadConfig,
    NotOwner,
    NoSuchProposal,
    AlreadyApproved,
    NotEnoughApprovals,
    AlreadyExecuted,
    CallFailed(i32),
}

#[test]
fn multisig_releases_a_call_at_the_threshold() {
    let mut chain = Chain::new();
    // The wallet must exist before the token can mint to it: mint to ALICE, then transfer.
    let t = token(&mut chain, ALICE, 1_000);
    let owners = vec![ALICE, BOB, CAROL];
    let w = chain.instantiate(ALICE, MULTISIG, (owners.clone(), 2u32));
    assert_eq!(
        chain.call(ALICE, t, "transfer", (w, 500u128)).status,
        Status::Success
    );
    assert_eq!(chain.view::<Vec<Address>>(w, "owners", ()), owners);

    let stranger = [0x55; 32];
    let args = (stranger, 200u128).encode();
    let r = chain.call(
        stranger,
        w,
        "propose",
        (t, "transfer".to_string(), args.clone()),
    );
    assert_eq!(r.status, reverted_with(MultisigError::NotOwner));
    let id: u64 = chain.call_ok(ALICE, w, "propose", (t, "transfer".to_string(), args));
    assert_eq!(
        chain.call(ALICE, w, "execute", id).status,
        reverted_with(MultisigError::NotEnoughApprovals)
    );
    assert_eq!(
        chain.call(ALICE, w, "approve", id).status,
        reverted_with(MultisigError::AlreadyApproved)
    );
    assert_eq!(chain.call_ok::<u32>(BOB, w, "approve", id), 2);
    let r = chain.call(stranger, w, "execute", id);
    assert_eq!(r.status, Status::Success, "{r:?}");
    // The released transfer's event, then the wallet's own.
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].topics, vec![topic("Transfer"), w, stranger]);
    assert_eq!(chain.view::<u128>(t, "balance_of", stranger), 200);
    assert_eq!(chain.view::<u128>(t, "balance_of", w), 300);
    assert_eq!(
        chain.call(ALICE, w, "execute", id).status,
        reverted_with(MultisigError::AlreadyExecuted)
    );

    // A released call that fails rolls the execution back: it can be retried later.
    let args = (stranger, 10_000u128).encode();
    let id: u64 = chain.call_ok(BOB, w, "propose", (t, "transfer".to_string(), args));
    assert_eq!(chain.call_ok::<u32>(CAROL, w, "approve", id), 2);
    assert_eq!(
        chain.call(CAROL, w, "execute", id).status,
        reverted_with(MultisigError::CallFailed(1))
    );
    let r = chain.call(CAROL, w, "execute", id);
    assert_eq!(
        r.status,
        reverted_with(MultisigError::CallFailed(1)),
        "still pending, not executed"
    );
    assert_eq!(chain.view::<u128>(t, "balance_of", w), 300);
}

#[test]
fn multisig_rejects_bad_configs() {
    let mut chain = Chain::new();
    let r = chain.tx(
        ALICE,
        keel_engine::Action::Deploy {
            code: MULTISIG.to_vec(),
        },
    );
    let code_hash: [u8; 32] = r.return_data.try_into().unwrap();
    for (owners, threshold) in [
        (vec![ALICE], 0u32),
        (vec![ALICE], 2),
        (vec![ALICE, ALICE], 1),
    ] {
        let r = chain.tx(
            ALICE,
            keel_engine::Action::Instantiate {
                code_hash,
                salt: vec![threshold as u8, owners.len() as u8],
                args: (owners, threshold).encode(),
            },
        );
        assert_eq!(r.status, reverted_with(MultisigError::BadConfig));
    }
}

#[test]
fn swap_pool_trades_through_the_token_contracts() {
    let mut chain = Chain::new();
    let a = token(&mut chain, ALICE, 1_000_000);
    let b = token(&mut chain, ALICE, 1_000_000);
    let pool = chain.instantiate(ALICE, SWAP, (a, b));
    assert_eq!(chain.view::<(Address, Address)>(pool, "tokens", ()), (a, b));
    for t in [a, b] {
        assert_eq!(
            chain.call(ALICE, t, "approve", (pool, 100_000u128)).status,
            Status::Success
        );
    }
    let shares: u128 = chain.call_ok(ALICE, pool, "add_liquidity", (10_000u128, 40_000u128));
    assert_eq!(shares, 10_000);
    assert_eq!(chain.view::<u128>(a, "balance_of", pool), 10_000);
    assert_eq!(chain.view::<u128>(b, "balance_of", pool), 40_000);

    // BOB swaps 1000 A for B: out = 1000*997*40000 / (10000*1000 + 1000*997) = 3626.
    assert_eq!(
        chain.call(ALICE, a, "transfer", (BOB, 1_000u128)).status,
        Status::Success
    );
    assert_eq!(
        chain.call(BOB, a, "approve", (pool, 1_000u128)).status,
        Status::Success
    );
    let r = chain.call(BOB, pool, "swap", (a, 1_000u128, 3_627u128));
    assert!(matches!(r.status, Status::Reverted(_)), "slippage guard");
    let out: u128 = chain.call_ok(BOB, pool, "swap", (a, 1_000u128, 3_600u128));
    assert_eq!(out, 3_626);
    assert_eq!(chain.view::<u128>(a, "balance_of", BOB), 0);
    assert_eq!(chain.view::<u128>(b, "balance_of", BOB), 3_626);
    assert_eq!(
        chain.view::<(u128, u128)>(pool, "reserves", ()),
        (11_000, 40_000 - 3_626)
    );

    let (out_a, out_b): (u128, u128) = chain.call_ok(ALICE, pool, "remove_liquidity", 5_000u128);
    assert_eq!((out_a, out_b), (5_500, (40_000 - 3_626) / 2));
    assert_eq!(chain.view::<u128>(a, "balance_of", pool), 5_500);
}

#[test]
fn swap_pool_rolls_back_the_first_leg_when_the_second_fails() {
    let mut chain = Chain::new();
    let a = token(&mut chain, ALICE, 1_000);
    let b = token(&mut chain, ALICE, 1_000);
    let pool = chain.instantiate(ALICE, SWAP, (a, b));
    // Only token A is approved: pulling A succeeds, pulling B fails.
    assert_eq!(
        chain.call(ALICE, a, "approve", (pool, 500u128)).status,
        Status::Success
    );
    let r = chain.call(ALICE, pool, "add_liquidity", (100u128, 100u128));
    // SwapError::Token(CallError::Contract(TokenError::InsufficientAllowance)).
    assert_eq!(r.status, Status::Reverted(vec![6, 0, 3]));
    assert!(
        r.events.is_empty(),
        "the first leg's Transfer event is rolled back too"
    );
    assert_eq!(chain.view::<u128>(a, "balance_of", ALICE), 1_000);
    assert_eq!(chain.view::<u128>(a, "balance_of", pool), 0);
    assert_eq!(chain.view::<u128>(a, "allowance", (ALICE, pool)), 500);
    assert_eq!(chain.view::<(u128, u128)>(pool, "reserves", ()), (0, 0));
}
