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

fn problems_of(wat: &str, config: &EngineConfig) -> Vec<Problem> {
    check_code(&wat::parse_str(wat).unwrap(), config)
        .unwrap_err()
        .problems
}

#[test]
fn forbidden_features_are_rejected() {
    let config = EngineConfig::default();
    let cases = [
        // tail calls
        r#"(module (memory (export "memory") 1) (func $f) (func (export "run") (return_call $f)))"#,
        // memory64
        r#"(module (memory (export "memory") i64 1) (func (export "run")))"#,
        // threads: shared memory
        r#"(module (memory (export "memory") 1 1 shared) (func (export "run")))"#,
    ];
    for wat in cases {
        let p = problems_of(wat, &config);
        assert!(
            p.iter()
                .any(|x| matches!(x, Problem::ForbiddenFeature { .. })),
            "{wat}: {p:?}"
        );
    }
    // Extended const is off: `i32.add` in a constant expression is simply invalid.
    let p = problems_of(
        r#"(module (memory (export "memory") 1) (global i32 (i32.add (i32.const 1) (i32.const 2))) (func (export "run")))"#,
        &config,
    );
    assert!(
        matches!(&p[..], [Problem::Invalid { detail }] if detail.contains("constant expression")),
        "{p:?}"
    );
}

#[test]
fn count_limits_are_enforced() {
    let mut config = EngineConfig::default();
    config.limits.max_functions = 2;
    config.limits.max_globals = 1;
    config.limits.max_table_entries = 3;
    config.limits.max_data_segments = 1;
    let wat = r#"(module
        (memory (export "memory") 1)
        (table 4 funcref)
        (global i32 (i32.const 0)) (global i32 (i32.const 0))
        (data (i32.const 0) "a") (data (i32.const 8) "b")
        (func) (func)
        (func (export "run")))"#;
    assert_eq!(
        problems_of(wat, &config),
        vec![
            Problem::TooManyFunctions { count: 3, max: 2 },
            Problem::TooManyGlobals { count: 2, max: 1 },
            Problem::TooManyTableEntries { count: 4, max: 3 },
            Problem::TooManyDataSegments { count: 2, max: 1 },
        ]
    );
}

#[test]
fn event_count_is_limited() {
    let mut c = Chain::new();
    let wat = r#"(module
        (import "keel" "emit_event" (func $emit (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (func (export "spam") (local $i i32)
          (loop $l
            (call $emit (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 4))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))))"#;
    let hash = c.upload(wat::parse_str(wat).unwrap());
    let a = c.instantiate(hash, b"", vec![]);
    let r = c.call(ALICE, a, "spam", vec![]);
    assert_eq!(r.status, Status::Trapped(TrapKind::LimitExceeded));
    assert!(r.events.is_empty());
}

#[test]
fn gas_schedule_is_versioned_and_scale_round_trips() {
    use parity_scale_codec::{Decode, Encode};
    let g = keel_engine::GasSchedule::default();
    assert_eq!(g.version, 2);
    assert_eq!(
        keel_engine::GasSchedule::decode(&mut &g.encode()[..]).unwrap(),
        g
    );
    assert_eq!(g.memory_pages(1), 2048);
}
