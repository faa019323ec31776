//! The SDK's example contracts (crate keel-contracts) validate under Keel's rules, and a gas
//! golden file records the gas of a fixed scenario over them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_engine::{EngineConfig, check_code};

#[test]
fn every_example_contract_validates() {
    let config = EngineConfig::default();
    let mut failures = Vec::new();
    for (name, code) in keel_contracts::ALL {
        if let Err(e) = check_code(code, &config) {
            failures.push(format!("{name} ({} bytes): {e}", code.len()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
