//! Gas you can see: the per-function profile of one call (its total is exactly the production
//! gas, across nested calls) and the gas report's nested-call rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_testkit::{
    Address, FunctionNames, GasOutcome, TestChain, account, build_wasm, build_wasm_names, example,
};

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
fn a_build_with_names_names_the_deployed_codes_functions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/buggy-token");
    let wasm = build_wasm(dir).unwrap();
    let named = build_wasm_names(dir).unwrap();
    // Two different builds: the names build carries a name section the deployed one lacks.
    assert_ne!(wasm, named);
    assert!(FunctionNames::from_name_section(&wasm).0.is_empty());
    let names = FunctionNames::matching(&named, &wasm).unwrap();
    // Internal functions are named (not only the exports a stripped build has).
    let exports = FunctionNames::from_exports(&wasm);
    assert!(names.0.len() > exports.0.len(), "{names:?}");
    // Another module's code is refused: its indices would name the wrong functions.
    let other = example("token").unwrap();
    assert!(FunctionNames::matching(&named, other).is_err());
    assert!(FunctionNames::matching(b"not wasm", &wasm).is_err());

    // A profile of the deployed (stripped) code, named from the names build.
    let (alice, bob) = (account("alice"), account("bob"));
    let mut chain = TestChain::in_memory();
    let t = chain.deploy(alice, &wasm, (true,)).unwrap();
    chain
        .call(alice, t, "mint", (alice, 100u128))
        .unwrap()
        .assert_success();
    let unnamed = chain.profile(alice, t, "transfer", (bob, 5u128)).unwrap();
    chain.set_function_names(t, names.clone());
    let profile = chain.profile(alice, t, "transfer", (bob, 5u128)).unwrap();
    assert_eq!(profile.total(), unnamed.total());
    let folded = profile.folded();
    let internal: Vec<&String> = names
        .0
        .iter()
        .filter(|(i, _)| !exports.0.contains_key(i))
        .map(|(_, n)| n)
        .collect();
    assert!(
        internal.iter().any(|n| folded.contains(n.as_str())),
        "no internal function name in\n{folded}"
    );
    assert!(!folded.contains("func["), "{folded}");
    assert!(unnamed.folded().contains("func["), "{}", unnamed.folded());
}

#[test]
#[ignore = "writes docs/profile-token-transfer.svg"]
fn write_the_token_transfer_flamegraph() {
    let (alice, bob) = (account("alice"), account("bob"));
    let mut chain = TestChain::in_memory();
    // The example token built as an author builds it, named from its names build.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/token");
    let (wasm, named) = (build_wasm(dir).unwrap(), build_wasm_names(dir).unwrap());
    let t = chain.deploy(alice, &wasm, ()).unwrap();
    chain.set_label(t, "token");
    chain.set_function_names(t, FunctionNames::matching(&named, &wasm).unwrap());
    chain
        .call(alice, t, "mint", (alice, 1_000u128))
        .unwrap()
        .assert_success();
    let profile = chain.profile(alice, t, "transfer", (bob, 250u128)).unwrap();
    println!("{}", profile.folded());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");
    std::fs::write(
        format!("{dir}/profile-token-transfer.svg"),
        profile.svg("token.transfer (alice -> bob, 250)"),
    )
    .unwrap();
}
