//! Structural checks of the calibration suite (no timing): every kernel is a valid contract,
//! every row's workload runs to the status it is meant to, and every priced row's gas
//! difference has the sign the row claims.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keel_benches::calib::{self, Harness};
use keel_engine::{EngineConfig, check_code};
use keel_state::MemStore;

#[test]
fn kernels_are_valid_contracts() {
    let config = EngineConfig::default();
    for (name, code) in [
        ("ops", calib::ops_module().0),
        ("host", calib::host_module()),
        ("callee", calib::callee_module()),
        ("writer", calib::writer_module()),
        ("minimal", calib::minimal_module()),
    ] {
        check_code(&code, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_row_runs_and_its_workload_costs_gas() {
    let mut h = Harness::new(EngineConfig::default(), MemStore::new());
    let c = calib::setup(&mut h, true);
    let mut specs = vec![calib::baseline_spec(&h, c.arith)];
    specs.extend(calib::operator_specs(&h, &c));
    specs.extend(calib::host_specs(&h, &c));
    specs.extend(calib::instantiation_specs(&h, &c));
    specs.extend(calib::locals_tombstone_specs(&h, &c));
    for s in &specs {
        let (terms, units) = (s.make)(2.min(s.n_max));
        assert!(units > 0.0, "{}: no units", s.name);
        let mut dg = 0.0;
        for (i, (tx, coeff)) in terms.iter().enumerate() {
            let r = h.time(tx);
            let expected = if s.name.starts_with("revert") {
                r.status.starts_with("reverted")
            } else {
                r.status == "ok"
            };
            assert!(expected, "{} term {i}: {}", s.name, r.status);
            dg += coeff * r.gas as f64;
        }
        // The workload never costs less gas than its reference.
        assert!(dg >= 0.0, "{}: gas difference {dg}", s.name);
    }
}
