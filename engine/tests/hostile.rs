//! Hostile WAT fixtures (contracts/fixtures) through `execute_block` and `check_code`: each
//! asserts the exact status or validation problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, EngineConfig, InvalidReason, Problem, Status, TrapKind, check_code};

fn problems(name: &str) -> Vec<Problem> {
    check_code(&fixture(name), &EngineConfig::default())
        .unwrap_err()
        .problems
}

#[test]
fn infinite_loop_runs_out_of_gas() {
    let mut c = Chain::new();
    let a = c.deploy("infinite_loop", vec![]);
    let r = c.call_gas(ALICE, a, "run", vec![], 1_000_000);
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, 1_000_000);
}

#[test]
fn deep_recursion_traps_with_stack_overflow() {
    let mut c = Chain::new();
    let a = c.deploy("deep_recursion", vec![]);
    let r = c.call_gas(ALICE, a, "run", vec![], 100_000_000);
    assert_eq!(r.status, Status::Trapped(TrapKind::StackOverflow));
    assert!(r.gas_used < 100_000_000);
}

#[test]
fn memory_grow_bomb_is_capped_and_paid_for() {
    let mut c = Chain::new();
    let a = c.deploy("memory_grow_bomb", vec![]);
    let r = c.call(ALICE, a, "run", vec![]);
    assert_eq!(r.status, Status::Success);
    let pages = u32::from_le_bytes(r.return_data.try_into().unwrap());
    assert_eq!(pages, EngineConfig::default().limits.max_memory_pages);
    // 15 pages grown at 1024 gas each are part of the bill.
    assert!(r.gas_used > 15 * 1024);
    // Not enough gas for the growth: out of gas, not a host failure.
    let r = c.call_gas(ALICE, a, "run", vec![], 12_000);
    assert_eq!(r.status, Status::OutOfGas);
}

#[test]
fn huge_data_segment_is_rejected() {
    assert_eq!(
        problems("huge_data_segment"),
        vec![Problem::DataOutOfBounds {
            end: 0x7fff_fff0 + 16,
            memory_bytes: 65_536
        }]
    );
}

#[test]
fn oversized_data_is_rejected() {
    let data = "x".repeat(300 * 1024);
    let wat = format!(
        r#"(module (memory (export "memory") 16) (data (i32.const 0) "{data}") (func (export "run")))"#
    );
    let p = check_code(&wat::parse_str(&wat).unwrap(), &EngineConfig::default())
        .unwrap_err()
        .problems;
    assert_eq!(
        p,
        vec![Problem::DataTooLarge {
            bytes: 300 * 1024,
            max: 256 * 1024
        }]
    );
}

#[test]
fn float_instruction_is_rejected() {
    let p = problems("float");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(matches!(&p[0], Problem::Float { .. }), "{p:?}");
}

#[test]
fn start_function_is_rejected() {
    assert_eq!(problems("start_function"), vec![Problem::StartFunction]);
}

#[test]
fn forbidden_imports_are_all_reported() {
    assert_eq!(
        problems("forbidden_import"),
        vec![
            Problem::UnknownImport {
                name: "exit".into()
            },
            Problem::ImportSignature {
                name: "input".into()
            },
        ]
    );
}

#[test]
fn foreign_import_namespace_is_rejected() {
    assert_eq!(
        problems("foreign_import"),
        vec![Problem::ForeignImport {
            module: "env".into(),
            name: "abort".into()
        }]
    );
}

#[test]
fn many_problems_are_listed_together() {
    let wat = r#"(module
        (import "env" "f" (func))
        (import "keel" "nope" (func))
        (memory 17)
        (func $s)
        (start $s)
        (func (export "bad") (param i32))
        (func (export "run") (drop (f64.const 1))))"#;
    let p = check_code(&wat::parse_str(wat).unwrap(), &EngineConfig::default())
        .unwrap_err()
        .problems;
    assert!(p.contains(&Problem::ForeignImport {
        module: "env".into(),
        name: "f".into()
    }));
    assert!(p.contains(&Problem::UnknownImport {
        name: "nope".into()
    }));
    assert!(p.contains(&Problem::StartFunction));
    assert!(p.contains(&Problem::MemoryTooLarge { pages: 17, max: 16 }));
    assert!(p.contains(&Problem::MissingMemoryExport));
    assert!(p.contains(&Problem::MethodSignature { name: "bad".into() }));
    assert!(
        p.iter().any(|x| matches!(x, Problem::Float { .. })),
        "{p:?}"
    );
}

#[test]
fn malformed_and_oversized_code() {
    let p = check_code(b"\0asm\x01\0\0\0\x05", &EngineConfig::default())
        .unwrap_err()
        .problems;
    assert!(matches!(p[0], Problem::Malformed(_)), "{p:?}");
    let mut config = EngineConfig::default();
    config.limits.max_code_len = 10;
    let p = check_code(&fixture("burn"), &config).unwrap_err().problems;
    assert!(
        matches!(p[0], Problem::CodeTooLarge { max: 10, .. }),
        "{p:?}"
    );
}

#[test]
fn deploying_invalid_code_reverts_with_every_problem_and_charges_gas() {
    let mut c = Chain::new();
    let r = c.run(
        ALICE,
        GAS,
        Action::Deploy {
            code: fixture("forbidden_import"),
        },
    );
    let Status::Reverted(msg) = &r.status else {
        panic!("{r:?}")
    };
    let msg = String::from_utf8(msg.clone()).unwrap();
    assert_eq!(msg.lines().count(), 2, "{msg}");
    assert!(r.gas_used > 0);
}

#[test]
fn out_of_bounds_host_pointers_trap() {
    let mut c = Chain::new();
    let a = c.deploy("host_oob", vec![]);
    for method in [
        "return_past_end",
        "negative_len",
        "input_at_minus_one",
        "get_value_past_end",
        "hash_out_past_end",
        "caller_past_end",
        "event_data_huge_ptr",
        "call_addr_past_end",
    ] {
        let r = c.call(ALICE, a, method, vec![]);
        let expected = if method == "negative_len" {
            // A length of -1 is 4 GiB: over the key-size limit before it is even bounds-checked.
            TrapKind::LimitExceeded
        } else {
            TrapKind::MemoryOutOfBounds
        };
        assert_eq!(r.status, Status::Trapped(expected), "{method}");
    }
}

#[test]
fn missing_method_is_invalid() {
    let mut c = Chain::new();
    let a = c.deploy("burn", vec![]);
    let before = c.store.clone();
    let r = c.call(ALICE, a, "nope", vec![]);
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownMethod));
    assert_eq!(r.gas_used, 0);
    // `memory` is an export but not a method.
    let r = c.call(ALICE, a, "memory", vec![]);
    assert_eq!(r.status, Status::Invalid(InvalidReason::UnknownMethod));
    use keel_state::StateStore;
    assert_eq!(c.store.root(), {
        // An invalid transaction still commits an (empty) block: same root.
        before.root()
    });
}

#[test]
fn exact_gas_succeeds_and_one_less_runs_out() {
    let mut c = Chain::new();
    let a = c.deploy("burn", vec![]);
    let r = c.call(ALICE, a, "run", vec![]);
    assert_eq!(r.status, Status::Success);
    let need = r.gas_used;
    let r = c.call_gas(ALICE, a, "run", vec![], need);
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.gas_used, need);
    let r = c.call_gas(ALICE, a, "run", vec![], need - 1);
    assert_eq!(r.status, Status::OutOfGas);
    assert_eq!(r.gas_used, need - 1);
}
