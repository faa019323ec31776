//! Regression tests for what the spec-conformance run (`tests/spec.rs`) found. A test whose
//! fix has not landed is `#[ignore]`d (the fix belongs in `src/validate.rs`/`src/config.rs`);
//! `cargo test -p keel-engine --test spec_findings -- --ignored` shows it failing.
//! `tests/spec.rs` lists the same places as known deviations and fails once they stop
//! happening, so fixing one means un-ignoring its test here and removing its entry there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, EngineConfig, Problem, Status, TrapKind, check_code};

/// Finding 1 (spec `binary-leb128.wast` line 969): the saturating float-to-int instructions
/// take a float operand, but in unreachable code the operand stack is polymorphic, so they
/// validate with floats off. `keel_features()` enables `saturating_float_to_int` on the
/// premise that such an instruction "can never validate"; it can. Harmless at run time (the
/// code is unreachable) but it breaks "floats are rejected at validation".
///
/// Fixed: `saturating_float_to_int` is off (its "not enabled" error is a `Float` problem), and
/// the scan rejects the MVP float-to-int conversions and reinterpretations, which wasmparser
/// also let through in unreachable code.
#[test]
fn float_instructions_in_unreachable_code_are_rejected() {
    for op in [
        "i32.trunc_sat_f32_s",
        "i64.trunc_sat_f64_u",
        "i32.trunc_f32_s",
        "i32.reinterpret_f32",
        "i64.reinterpret_f64",
        "i64.trunc_f64_u",
        "f32.add",
        "f64.neg",
    ] {
        let wasm = wat::parse_str(format!(
            r#"(module
                (memory (export "memory") 1)
                (func (export "m") unreachable {op} drop))"#
        ))
        .unwrap();
        let Err(err) = check_code(&wasm, &EngineConfig::default()) else {
            panic!("{op} in unreachable code passed validation");
        };
        assert!(
            err.problems
                .iter()
                .any(|p| matches!(p, Problem::Float { .. })),
            "{op}: {err}"
        );
    }
}

/// Finding 2 (spec `elem.wast` lines 239–332, `linking.wast` 243, 266, 409): an active
/// element segment that does not fit its table passes `Deploy` (and `Instantiate`, which runs
/// nothing without an `init` export); every call then fails in wasmi with an instantiation
/// error that has no trap code, and the receipt says `Trapped(AbiViolation)`. The spec says instantiation traps with "out of bounds table
/// access": `Trapped(TableOutOfBounds)` (or a rejection at upload, as for data segments).
///
/// Fixed by gas v2's upload rule `Problem::ElementOutOfBounds`: such a module is now rejected
/// at `Deploy`, as a data segment outside the initial memory already was.
#[test]
fn element_segment_out_of_bounds_is_a_table_trap_or_rejected() {
    let wasm = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (table 1 funcref)
            (elem (i32.const 5) $f)
            (func $f)
            (func (export "m")))"#,
    )
    .unwrap();
    let mut chain = Chain::new();
    let r = chain.run(ALICE, GAS * 10, Action::Deploy { code: wasm });
    if matches!(r.status, Status::Reverted(_)) {
        return; // rejected at upload: fine
    }
    let code_hash: [u8; 32] = r.return_data.try_into().unwrap();
    let r = chain.run(
        ALICE,
        GAS,
        Action::Instantiate {
            code_hash,
            salt: vec![],
            args: vec![],
        },
    );
    if r.status == Status::Success {
        // Without an `init` export, instantiation runs nothing: the first call instantiates.
        let contract: [u8; 32] = r.return_data.try_into().unwrap();
        let r = chain.call(ALICE, contract, "m", vec![]);
        assert_eq!(r.status, Status::Trapped(TrapKind::TableOutOfBounds));
    } else {
        assert_eq!(r.status, Status::Trapped(TrapKind::TableOutOfBounds));
    }
}
