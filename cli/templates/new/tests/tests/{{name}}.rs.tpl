//! Runs the real wasm of `contract/` (built from the current source) with the gas a node charges,
//! through the typed client `#[contract]` generates ({{Name}}Client).

use keel_testkit::{CallFailure, TestChain, account, build_wasm, contract_metadata};
use {{crate}}::{COUNTS, Error, Incremented, OWNER, {{Name}}Client};

fn wasm() -> Vec<u8> {
    build_wasm(concat!(env!("CARGO_MANIFEST_DIR"), "/../contract")).unwrap()
}

#[test]
fn increments_and_emits() -> Result<(), keel_testkit::Error> {
    let mut chain = TestChain::new()?;
    let (alice, bob) = (account("alice"), account("bob"));
    let contract = chain.deploy(alice, &wasm(), ())?;
    chain.set_label(contract, "{{name}}");

    let out = {{Name}}Client::new(&mut chain, contract)
        .with_sender(bob)
        .increment(5)?;
    assert_eq!(out.result, Ok(5));
    // The typed event, with the contract that emitted it.
    let event = out.receipt.event::<Incremented>().unwrap();
    assert_eq!(event.emitter, contract);
    assert_eq!(event.value, Incremented { who: bob, count: 5 });
    println!("increment: {} gas", out.receipt.gas_used());

    // Storage, read with the keys the contract's own Item and Map use.
    assert_eq!(chain.map_get(contract, &COUNTS, &bob)?, Some(5));
    assert_eq!(chain.item(contract, &OWNER)?, Some(alice));

    let count = {{Name}}Client::new(&mut chain, contract).count_of(bob)?.unwrap();
    assert_eq!(count, 5);
    chain.print_gas_report();
    Ok(())
}

#[test]
fn errors_arrive_as_the_contract_error_type() -> Result<(), keel_testkit::Error> {
    let mut chain = TestChain::new()?;
    let (alice, bob) = (account("alice"), account("bob"));
    let contract = chain.deploy(alice, &wasm(), ())?;

    let mut as_bob = {{Name}}Client::new(&mut chain, contract).with_sender(bob);
    assert_eq!(as_bob.increment(0)?.result, Err(CallFailure::Error(Error::Zero)));
    assert_eq!(as_bob.reset(bob)?.unwrap_err(), Error::NotOwner);
    let mut as_alice = {{Name}}Client::new(&mut chain, contract).with_sender(alice);
    as_alice.reset(bob)?.unwrap();
    // An unknown method is not executed at all.
    chain.call(alice, contract, "no_such_method", ())?.assert_invalid(Some("UnknownMethod"));
    Ok(())
}

#[test]
fn the_wasm_describes_itself() {
    let meta = contract_metadata(&wasm()).unwrap().unwrap();
    assert!(meta.contains(r#""contract":"{{Name}}""#), "{meta}");
    assert!(meta.contains(r#"{"name":"increment","args":[{"name":"by","type":"u64"}],"returns":"u64","error":"Error"}"#), "{meta}");
}
