//! Static checks on the compiled example contracts: the wasm feature set, the imports and
//! exports the host ABI allows, the memory size, and that contracts which must not allocate
//! carry no allocator.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failure should panic

use keel_contracts::ALL;
use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef, Validator, WasmFeatures};

const HOST_FUNCTIONS: &[&str] = &[
    "input",
    "set_return",
    "revert",
    "storage_get",
    "storage_set",
    "storage_remove",
    "storage_has",
    "storage_next",
    "sha256",
    "blake3",
    "caller",
    "self_address",
    "block_height",
    "block_timestamp",
    "gas_left",
    "emit_event",
    "call",
    "call_result",
    "debug_log",
];

struct Shape {
    imports: Vec<(String, String)>,
    exports: Vec<(String, ExternalKind)>,
    initial_pages: u64,
    has_start: bool,
}

fn shape(wasm: &[u8]) -> Shape {
    let mut s = Shape {
        imports: vec![],
        exports: vec![],
        initial_pages: 0,
        has_start: false,
    };
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("parses") {
            Payload::ImportSection(r) => {
                for imp in r {
                    let imp = imp.expect("import");
                    assert!(
                        matches!(imp.ty, TypeRef::Func(_)),
                        "{} imports a non-function",
                        imp.name
                    );
                    s.imports
                        .push((imp.module.to_string(), imp.name.to_string()));
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.expect("export");
                    s.exports.push((e.name.to_string(), e.kind));
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    s.initial_pages = m.expect("memory").initial;
                }
            }
            Payload::StartSection { .. } => s.has_start = true,
            _ => {}
        }
    }
    s
}

#[test]
fn every_contract_passes_the_engines_upload_validation() {
    let engine = keel_engine::Engine::default();
    for (name, wasm) in ALL {
        Validator::new_with_features(keel_engine::keel_features())
            .validate_all(wasm)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = engine
            .check(wasm)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            info.reentrant,
            *name == "adversary",
            "{name}: keel_reentrant export"
        );
    }
}

#[test]
fn contracts_use_no_floats_and_no_multi_value() {
    // The engine rejects floats; the build's `-Ctarget-cpu=mvp` keeps our own code free of
    // multi-value too (the precompiled core/alloc may still use reference-types encodings).
    let features =
        keel_engine::keel_features().difference(WasmFeatures::FLOATS | WasmFeatures::MULTI_VALUE);
    for (name, wasm) in ALL {
        Validator::new_with_features(features)
            .validate_all(wasm)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn imports_are_host_functions_and_exports_follow_the_abi() {
    for (name, wasm) in ALL {
        let s = shape(wasm);
        assert!(!s.has_start, "{name} has a start function");
        for (module, field) in &s.imports {
            assert_eq!(module, "keel", "{name} imports from {module}");
            assert!(
                HOST_FUNCTIONS.contains(&field.as_str()),
                "{name} imports unknown {field}"
            );
        }
        assert!(
            s.exports
                .iter()
                .any(|(n, k)| n == "memory" && *k == ExternalKind::Memory),
            "{name} exports no memory"
        );
        let funcs = s
            .exports
            .iter()
            .filter(|(_, k)| *k == ExternalKind::Func)
            .count();
        assert!(funcs >= 1, "{name} exports no method");
    }
}

#[test]
fn instances_start_small() {
    // A 32 KiB stack plus static data fits in one or two 64 KiB pages; Rust's default 1 MiB
    // stack would need 17.
    for (name, wasm) in ALL {
        let pages = shape(wasm).initial_pages;
        assert!(pages <= 2, "{name} starts with {pages} pages");
    }
}

/// Contracts that must not need an allocator.
const NO_ALLOC: &[&str] = &["counter", "token", "compute", "swap"];

#[test]
fn contracts_without_alloc_carry_no_allocator_and_no_host_paths() {
    for (name, wasm) in ALL {
        if NO_ALLOC.contains(name) {
            // The SDK's refusing allocator is the only code with this message, and its bump
            // allocator is the only code that grows memory: with neither present, nothing in
            // the contract allocates.
            assert!(
                !contains(wasm, b"keel-sdk: this contract allocates"),
                "{name} allocates"
            );
            assert!(!grows_memory(wasm), "{name} grows memory");
            // ... and no panic path: no formatting machinery, only explicit reverts.
            assert!(!contains(wasm, b"panicked at"), "{name} can panic");
        }
        assert!(!contains(wasm, b"/root/"), "{name} embeds a home path");
        assert!(!contains(wasm, b"/home/"), "{name} embeds a home path");
        assert!(
            !contains(wasm, b"/work/"),
            "{name} embeds an absolute checkout path"
        );
    }
}

fn grows_memory(wasm: &[u8]) -> bool {
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload.expect("parses") {
            let mut ops = body.get_operators_reader().expect("body");
            while !ops.eof() {
                if matches!(ops.read().expect("op"), Operator::MemoryGrow { .. }) {
                    return true;
                }
            }
        }
    }
    false
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Prints the table of the "Contracts" section of BENCHMARKS.md:
/// `cargo test -p keel-contracts --test modules -- --nocapture sizes`.
#[test]
fn sizes() {
    println!("| contract | wasm bytes | initial pages |");
    println!("|---|---:|---:|");
    for (name, wasm) in ALL {
        println!(
            "| {name} | {} | {} |",
            wasm.len(),
            shape(wasm).initial_pages
        );
    }
}
