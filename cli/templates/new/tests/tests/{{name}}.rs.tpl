//! Runs the real wasm of `contract/` (built from the current source) with the gas a node charges.

use keel_testkit::{Address, TestChain, account, build_wasm};
use {{crate}}::{Error, Incremented};

fn wasm() -> Vec<u8> {
    build_wasm(concat!(env!("CARGO_MANIFEST_DIR"), "/../contract")).unwrap()
}

#[test]
fn increments_and_emits() -> Result<(), keel_testkit::Error> {
    let mut chain = TestChain::new()?;
    let (alice, bob) = (account("alice"), account("bob"));
    let contract = chain.deploy(alice, &wasm(), ())?;
    chain.set_label(contract, "{{name}}");

    let out = chain.call(bob, contract, "increment", (5u64,))?;
    out.assert_success().assert_event(
        "Incremented",
        &Incremented { who: bob.into(), count: 5 },
    );
    assert_eq!(out.decode::<u64>()?, 5);

    let count: u64 = chain.query(alice, contract, "count_of", (Address::from(bob),))?;
    assert_eq!(count, 5);
    chain.print_gas_report();
    Ok(())
}

#[test]
fn errors_arrive_as_the_contract_error_type() -> Result<(), keel_testkit::Error> {
    let mut chain = TestChain::new()?;
    let (alice, bob) = (account("alice"), account("bob"));
    let contract = chain.deploy(alice, &wasm(), ())?;

    chain
        .call(bob, contract, "increment", (0u64,))?
        .assert_reverted_with_error(&Error::Zero);
    chain
        .call(bob, contract, "reset", (Address::from(bob),))?
        .assert_reverted_with_error(&Error::NotOwner);
    chain
        .call(alice, contract, "reset", (Address::from(bob),))?
        .assert_success();
    Ok(())
}
