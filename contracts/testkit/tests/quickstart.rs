//! The README's quick start, step 2, verbatim: test a contract with the testkit.
#![allow(missing_docs, clippy::expect_used)]

use keel_testkit::{TestChain, account};

#[test]
fn counter_increments() -> Result<(), keel_testkit::Error> {
    let mut chain = TestChain::new()?; // in memory; TestChain::rocksdb() (feature "rocksdb") is a node's store
    let alice = account("alice");

    // The wasm built in step 1 (for your own contract: `std::fs::read("….wasm")?`).
    let counter = chain.deploy(alice, keel_contracts::COUNTER, ())?;
    chain.set_label(counter, "counter");

    let out = chain.call(alice, counter, "increment", ())?;
    out.assert_success();
    assert_eq!(out.decode::<u64>()?, 1);
    println!(
        "increment: {} gas, exactly what a node charges",
        out.gas_used()
    );

    let n: u64 = chain.query(alice, counter, "get", ())?; // read-only
    assert_eq!(n, 1);

    // Storage, and a Merkle proof of it against the state root.
    assert_eq!(chain.storage_decoded::<u64>(counter, b"c")?, Some(1));
    assert!(chain.prove(counter, b"c")?.verify().is_ok());

    // Snapshots: try something, then go back.
    let snapshot = chain.snapshot()?;
    chain
        .call(alice, counter, "increment", ())?
        .assert_success();
    chain.restore(&snapshot)?;
    assert_eq!(chain.query::<_, u64>(alice, counter, "get", ())?, 1);

    chain.advance(10); // 10 blocks later (height and timestamp)
    println!("{}", chain.gas_report());
    Ok(())
}

/// The README shows this file's test verbatim: keep them identical.
#[test]
fn readme_shows_this_test() {
    let readme = include_str!("../../../README.md");
    let this = include_str!("quickstart.rs");
    let start = readme
        .find("```rust\nuse keel_testkit::{TestChain, account};")
        .expect("the quick-start block is in the README")
        + "```rust\n".len();
    let len = readme[start..].find("```").expect("the block ends");
    let shown = &readme[start..start + len];
    assert!(
        this.contains(shown),
        "README quick start differs from tests/quickstart.rs"
    );
}
