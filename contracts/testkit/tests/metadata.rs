//! The contract metadata (`keel:meta`, written by `#[contract]`) is in every example module, and
//! it changes no execution gas: the same module with and without the section runs every call
//! for the same gas; only the deploy, priced per byte, differs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use keel_testkit::{TestChain, account, contract_metadata, strip_metadata};

#[test]
fn every_example_carries_its_metadata() {
    for (name, wasm) in keel_contracts::ALL {
        let doc = contract_metadata(wasm).unwrap().unwrap_or_default();
        assert!(
            doc.starts_with("{\"keel_meta\":1,\"contract\":"),
            "{name}: {doc}"
        );
        assert!(doc.ends_with("]}"), "{name}: {doc}");
    }
    let token = contract_metadata(keel_contracts::TOKEN).unwrap().unwrap();
    assert!(
        token.contains(
            r#"{"name":"transfer","args":[{"name":"to","type":"address"},{"name":"amount","type":"u128"}],"returns":"()","error":"TokenError"}"#
        ),
        "{token}"
    );
    assert!(
        token.contains(r#"{"name":"Transfer","topics":["from","to"],"type":"Transfer"}"#),
        "{token}"
    );
    assert!(
        token.contains(r#""enum TokenError{AlreadyInitialized,NotAdmin,InsufficientBalance,InsufficientAllowance,Overflow,CallbackFailed}""#),
        "{token}"
    );
}

#[test]
fn metadata_changes_deploy_gas_per_byte_and_no_execution_gas() {
    let (alice, bob) = (account("alice"), account("bob"));
    let with = keel_contracts::TOKEN;
    let without = strip_metadata(with).unwrap();
    assert!(without.len() < with.len());
    assert_eq!(contract_metadata(&without).unwrap(), None);

    let mut gas = Vec::new();
    for code in [with, &without[..]] {
        let mut chain = TestChain::new().unwrap();
        let upload = chain
            .execute(
                alice,
                keel_testkit::engine::Action::Deploy {
                    code: code.to_vec(),
                },
            )
            .unwrap();
        upload.assert_success();
        let t = chain.deploy(alice, code, ()).unwrap();
        let calls = [
            chain.call(alice, t, "mint", (alice, 1_000u128)).unwrap(),
            chain.call(alice, t, "transfer", (bob, 10u128)).unwrap(),
            chain.call(bob, t, "transfer", (alice, 99_999u128)).unwrap(),
            chain.call(alice, t, "balance_of", (bob,)).unwrap(),
        ];
        gas.push((
            upload.gas_used(),
            calls.iter().map(|c| c.gas_used()).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(
        gas[0].1, gas[1].1,
        "execution gas must not depend on the metadata"
    );
    assert!(
        gas[0].0 > gas[1].0,
        "the metadata bytes are priced: {gas:?}"
    );
}
