//! Traces (`Engine::simulate_traced`, `execute_block_traced`): the call tree, the gas of every
//! frame and host call, and the function profile, which must use exactly the production gas.
//! (Every golden vector is also simulated traced at both details: `tests/golden.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, CallTrace, FrameStatus, Trace, TraceDetail, TraceItem, Transaction};

fn call_tx(c: &Chain, contract: [u8; 32], method: &str, args: Vec<u8>, gas: u64) -> Transaction {
    c.make_tx(
        ALICE,
        gas,
        Action::Call {
            contract,
            method: method.into(),
            args,
        },
    )
}

/// Simulates `tx` plain and traced at both details: the receipts must be equal.
fn traced(c: &Chain, tx: &Transaction) -> (u64, Trace) {
    let plain = c.engine.simulate(&c.store, &c.ctx, tx).unwrap();
    let (calls, _) = c
        .engine
        .simulate_traced(&c.store, &c.ctx, tx, TraceDetail::Calls)
        .unwrap();
    let (funcs, trace) = c
        .engine
        .simulate_traced(&c.store, &c.ctx, tx, TraceDetail::Functions)
        .unwrap();
    assert_eq!(calls, plain);
    assert_eq!(funcs, plain);
    assert_eq!(trace.gas_used, plain.gas_used);
    (plain.gas_used, trace)
}

/// A frame's gas is its instantiation, its host calls, its children and its wasm, which the
/// items' positions account for without gaps or overlaps.
fn check_frame(f: &CallTrace) {
    let mut cursor = f.instantiation;
    let mut depth = 0i64;
    for item in &f.items {
        match item {
            TraceItem::Host { at, gas, .. } => {
                assert!(*at >= cursor, "{item:?} at {cursor}");
                cursor = at + gas;
            }
            TraceItem::Call { at, frame } => {
                assert!(*at >= cursor);
                cursor = at + frame.gas_used;
                check_frame(frame);
            }
            TraceItem::Enter { at, .. } => {
                assert!(*at >= cursor);
                cursor = *at;
                depth += 1;
            }
            TraceItem::Exit { at, .. } => {
                assert!(*at >= cursor);
                cursor = *at;
                depth -= 1;
            }
        }
    }
    assert!(cursor <= f.gas_used, "{cursor} > {}", f.gas_used);
    if f.status == FrameStatus::Success {
        assert_eq!(depth, 0, "every entered function returned: {f:?}");
    }
}

#[test]
fn a_profiled_call_uses_exactly_the_production_gas_whatever_its_control_flow() {
    let mut c = Chain::new();
    for body in [
        "",
        "(call $f) (call $f)",
        "(drop (call $r))",
        "(drop (call $g (i32.const 1))) (drop (call $g (i32.const 0)))",
        "(drop (call $h (i32.const 0))) (drop (call $h (i32.const 1)))",
        "(drop (call $l))",
        "(return)",
        "(br 0)",
        "(if (i32.const 1) (then (call $f) (return)))",
        "(if (i32.const 0) (then (call $f) (return)))",
        "(loop (call $f))",
        "(drop (call_indirect (type $t) (i32.const 7) (i32.const 0)))",
        "(drop (call $multi)) (drop)",
        "(call $f) (unreachable)",
        "(call $trap)",
    ] {
        let wat = format!(
            r#"(module (memory (export "memory") 1)
            (type $t (func (param i32) (result i32)))
            (table 1 funcref) (elem (i32.const 0) $g)
            (func $f) (func $r (result i32) (i32.const 5))
            (func $g (param i32) (result i32) (if (local.get 0) (then (return (i32.const 3)))) (i32.const 4))
            (func $h (param i32) (result i32) (br_if 0 (i32.const 7) (local.get 0)) (drop) (i32.const 4))
            (func $l (result i32) (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (i32.const 4))
            (func $multi (result i32 i64) (br 0 (i32.const 1) (i64.const 2)))
            (func $trap (unreachable))
            (func (export "m") {body}))"#
        );
        let hash = c.upload(wat::parse_str(&wat).unwrap());
        let addr = c.instantiate(hash, body.as_bytes(), vec![]);
        let tx = call_tx(&c, addr, "m", vec![], GAS);
        let (_, trace) = traced(&c, &tx);
        let frame = trace.frame.unwrap();
        check_frame(&frame);
        assert!(
            matches!(frame.items.first(), Some(TraceItem::Enter { func: 7, .. })),
            "{body}: {:?}",
            frame.items
        );
    }
}

#[test]
fn nested_calls_are_frames_with_inclusive_and_exclusive_gas_and_host_calls_with_their_gas() {
    let mut c = Chain::new();
    let hash = c.upload(fixture("proxy"));
    let proxy = c.instantiate(hash, b"outer", vec![]);
    let inner = c.instantiate(hash, b"inner", vec![]);
    let sched = c.engine.config().gas.clone();
    for (method, status) in [
        ("write", FrameStatus::Success),
        ("write_then_revert", FrameStatus::Reverted),
        (
            "write_then_trap",
            FrameStatus::Trapped(keel_engine::TrapKind::Unreachable),
        ),
    ] {
        let mut args = inner.to_vec();
        args.extend_from_slice(method.as_bytes());
        let tx = call_tx(&c, proxy, "proxy", args, GAS);
        let (gas_used, trace) = traced(&c, &tx);
        let top = trace.frame.unwrap();
        check_frame(&top);
        assert_eq!((top.contract, top.method.as_str()), (proxy, "proxy"));
        assert_eq!(top.status, FrameStatus::Success);
        let calls: Vec<&CallTrace> = top.calls().collect();
        assert_eq!(calls.len(), 1);
        let child = calls[0];
        assert_eq!((child.contract, child.method.as_str()), (inner, method));
        assert_eq!(child.status, status);
        assert_eq!(top.exclusive_gas(), top.gas_used - child.gas_used);
        assert!(gas_used > top.gas_used);
        // The host calls in order, `call` without its callee's gas.
        let names: Vec<&str> = top
            .items
            .iter()
            .filter_map(|i| match i {
                TraceItem::Host { name, .. } => Some(*name),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["input", "call", "call_result", "set_return"]);
        let input_len = 32 + method.len() as u64;
        let call_gas = top
            .items
            .iter()
            .find_map(|i| match i {
                TraceItem::Host {
                    name: "call", gas, ..
                } => Some(*gas),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            call_gas,
            sched.host_base + sched.call_base + input_len * sched.copy_byte
        );
        assert!(
            matches!(top.items.get(1), Some(TraceItem::Host { name: "input", gas, .. })
                if *gas == gas_schedule_input(&sched, input_len)),
            "{:?}",
            top.items
        );
        // The child's storage write is charged in the child.
        let child_writes = child
            .items
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    TraceItem::Host {
                        name: "storage_set",
                        ..
                    }
                )
            })
            .count();
        assert_eq!(child_writes, 1);
    }
}

#[test]
fn execute_block_traced_returns_one_trace_per_receipt_and_the_same_root() {
    let mut c = Chain::new();
    let hash = c.upload(fixture("proxy"));
    let proxy = c.instantiate(hash, b"outer", vec![]);
    let inner = c.instantiate(hash, b"inner", vec![]);
    let mut twin = c.store.clone();
    let mut args = inner.to_vec();
    args.extend_from_slice(b"write");
    let txs = vec![
        call_tx(&c, proxy, "proxy", args, GAS),
        call_tx(&c, proxy, "nope", vec![], GAS),
    ];
    let plain = c.engine.execute_block(&mut c.store, &c.ctx, &txs).unwrap();
    let mut engine = keel_engine::Engine::default();
    let (out, traces) = engine
        .execute_block_traced(&mut twin, &c.ctx, &txs)
        .unwrap();
    assert_eq!(out, plain);
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].gas_used, plain.receipts[0].gas_used);
    assert!(traces[0].frame.as_ref().unwrap().calls().count() == 1);
    assert_eq!(traces[1].frame, None, "an Invalid transaction runs nothing");
}

fn gas_schedule_input(g: &keel_engine::GasSchedule, len: u64) -> u64 {
    g.host_base + len * g.copy_byte
}
