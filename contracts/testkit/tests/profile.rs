//! Gas you can see: the per-function profile of one call (its total is exactly the production
//! gas, across nested calls) and the gas report's nested-call rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_testkit::{Address, GasOutcome, TestChain, account};

fn token(chain: &mut TestChain, admin: Address, supply: u128) -> Address {
    let t = chain.deploy_example(admin, "token", ()).unwrap();
    chain
        .call(admin, t, "mint", (admin, supply))
        .unwrap()
        .assert_success();
    t
}

#[test]
fn a_token_transfer_profile_adds_up_to_its_production_gas() {
    let (alice, bob) = (account("alice"), account("bob"));
    let mut chain = TestChain::in_memory();
    let t = token(&mut chain, alice, 1_000);
    let profile = chain.profile(alice, t, "transfer", (bob, 250u128)).unwrap();
    let plain = chain
        .simulate(alice, t, "transfer", (bob, 250u128))
        .unwrap();
    assert_eq!(profile.receipt, plain.receipt);
    assert_eq!(profile.total(), plain.gas_used());
    // The committed transfer charges the same.
    let done = chain.call(alice, t, "transfer", (bob, 250u128)).unwrap();
    done.assert_success();
    assert_eq!(done.gas_used(), profile.total());

    let folded = profile.folded();
    for part in [
        "(transaction) ",
        "token.transfer;(instantiate) ",
        "token.transfer;transfer;",
        ";keel::storage_set ",
        ";keel::emit_event ",
    ] {
        assert!(folded.contains(part), "{part:?} in\n{folded}");
    }
    // Every line is `stack gas`, and the lines add up.
    let sum: u64 = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, plain.gas_used());
    let svg = profile.svg("token.transfer");
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("keel::storage_set") && svg.contains("token.transfer"));
    // A failing call profiles too: a revert is still exactly its production gas.
    let carol = account("carol");
    let failing = chain.profile(carol, t, "transfer", (bob, 1u128)).unwrap();
    assert!(matches!(
        failing.receipt.status,
        keel_testkit::engine::Status::Reverted(_)
    ));
    assert_eq!(
        failing.total(),
        chain
            .simulate(carol, t, "transfer", (bob, 1u128))
            .unwrap()
            .gas_used()
    );
}

#[test]
fn a_cross_contract_profile_and_the_gas_report_break_nested_calls_out() {
    let (alice, bob) = (account("alice"), account("bob"));
    let mut chain = TestChain::in_memory();
    let a = token(&mut chain, alice, 1_000_000);
    let b = token(&mut chain, alice, 1_000_000);
    chain.set_label(b, "token_b");
    let pool = chain.deploy_example(alice, "swap", (a, b)).unwrap();
    for t in [a, b] {
        chain
            .call(alice, t, "approve", (pool, 100_000u128))
            .unwrap()
            .assert_success();
    }
    let args = (10_000u128, 10_000u128);
    let profile = chain.profile(alice, pool, "add_liquidity", args).unwrap();
    let plain = chain.simulate(alice, pool, "add_liquidity", args).unwrap();
    assert_eq!(profile.receipt, plain.receipt);
    assert_eq!(profile.total(), plain.gas_used());
    let folded = profile.folded();
    assert!(
        folded.contains(";keel::call;token.transfer_from;transfer_from;")
            && folded.contains(";keel::call;token_b.transfer_from;"),
        "{folded}"
    );

    chain.reset_gas_report();
    chain
        .call(alice, pool, "add_liquidity", args)
        .unwrap()
        .assert_success();
    let report = chain.gas_report();
    let top = report
        .get_outcome("swap", "add_liquidity", GasOutcome::Success)
        .unwrap();
    let ta = report
        .get_outcome(
            "swap",
            "add_liquidity -> token.transfer_from",
            GasOutcome::Success,
        )
        .unwrap();
    let tb = report
        .get_outcome(
            "swap",
            "add_liquidity -> token_b.transfer_from",
            GasOutcome::Success,
        )
        .unwrap();
    assert_eq!((top.calls, ta.calls, tb.calls), (1, 1, 1));
    assert!(ta.max + tb.max < top.max);
    let text = report.to_string();
    assert!(
        text.contains("add_liquidity -> token.transfer_from"),
        "{text}"
    );
    assert!(
        report
            .to_json()
            .contains("\"method\":\"add_liquidity -> token_b.transfer_from\"")
    );
    // The baseline diff sees a nested row change.
    let base = report.snapshot();
    chain
        .call(alice, pool, "add_liquidity", args)
        .unwrap()
        .assert_success();
    let diff = chain.gas_report().diff(&base);
    assert!(
        diff.iter()
            .any(|l| l
                .starts_with("~ swap add_liquidity -> token.transfer_from success calls 1 -> 2")),
        "{diff:?}"
    );
    let _ = bob;
}

#[test]
#[ignore = "writes docs/profile-token-transfer.svg"]
fn write_the_token_transfer_flamegraph() {
    let (alice, bob) = (account("alice"), account("bob"));
    let mut chain = TestChain::in_memory();
    let t = token(&mut chain, alice, 1_000);
    let profile = chain.profile(alice, t, "transfer", (bob, 250u128)).unwrap();
    println!("{}", profile.folded());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");
    std::fs::write(
        format!("{dir}/profile-token-transfer.svg"),
        profile.svg("token.transfer (alice -> bob, 250)"),
    )
    .unwrap();
}
