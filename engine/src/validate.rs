//! Upload validation: one pass over the module that collects every problem, then wasmi's
//! own compile. Used by `Deploy` and, without deploying, by `keel check` ([`check_code`]).

use std::collections::BTreeMap;
use std::fmt;

use wasmparser::{
    DataKind, ExternalKind, FuncValidatorAllocations, Operator, Parser, Payload, TypeRef, ValType,
    Validator,
};

use crate::config::{EngineConfig, keel_features};
use crate::host::{ABI, AbiType};
use crate::types::Hash;

/// One thing wrong with a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The bytes are not a wasm module (or are truncated, or fail structural validation).
    Malformed(String),
    /// The module is larger than `Limits::max_code_len`.
    CodeTooLarge {
        /// The module's size.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// An import from a module other than `keel`.
    ForeignImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
    },
    /// A `keel` import whose name is not in the host ABI.
    UnknownImport {
        /// The name.
        name: String,
    },
    /// A `keel` import with the wrong signature, or that is not a function.
    ImportSignature {
        /// The name.
        name: String,
    },
    /// A float type or instruction (floats are rejected).
    Float {
        /// The validator's message, with its byte offset.
        detail: String,
    },
    /// A wasm feature Keel does not enable (SIMD, threads, tail calls, ...).
    ForbiddenFeature {
        /// The validator's message.
        detail: String,
    },
    /// Failed wasm validation for another reason (the validator's message says where).
    Invalid {
        /// The validator's message.
        detail: String,
    },
    /// The module has a start function.
    StartFunction,
    /// The module does not export its memory as `memory`.
    MissingMemoryExport,
    /// An exported function that is not `() -> ()`.
    MethodSignature {
        /// The export's name.
        name: String,
    },
    /// The initial memory is above `Limits::max_memory_pages`.
    MemoryTooLarge {
        /// Initial pages declared.
        pages: u64,
        /// The limit.
        max: u32,
    },
    /// More functions than `Limits::max_functions`.
    TooManyFunctions {
        /// Count.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// More globals than `Limits::max_globals`.
    TooManyGlobals {
        /// Count.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// More table entries than `Limits::max_table_entries`.
    TooManyTableEntries {
        /// Count.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// More data segments than `Limits::max_data_segments`.
    TooManyDataSegments {
        /// Count.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// More data-segment bytes than `Limits::max_data_bytes`.
    DataTooLarge {
        /// Total bytes.
        bytes: u64,
        /// The limit.
        max: u32,
    },
    /// An active data segment at a constant offset that does not fit the initial memory.
    DataOutOfBounds {
        /// The segment's end offset.
        end: u64,
        /// The initial memory size in bytes.
        memory_bytes: u64,
    },
    /// wasmi refused to compile the module (its enforced limits or a translation error).
    Compile(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed(m) => write!(f, "malformed module: {m}"),
            Problem::CodeTooLarge { len, max } => {
                write!(f, "code is {len} bytes, the limit is {max}")
            }
            Problem::ForeignImport { module, name } => {
                write!(
                    f,
                    "import {module}.{name}: only the `keel` module can be imported"
                )
            }
            Problem::UnknownImport { name } => {
                write!(f, "import keel.{name}: not a Keel host function")
            }
            Problem::ImportSignature { name } => {
                write!(f, "import keel.{name}: wrong signature")
            }
            Problem::Float { detail } => write!(f, "floats are not allowed: {detail}"),
            Problem::ForbiddenFeature { detail } => write!(f, "forbidden wasm feature: {detail}"),
            Problem::Invalid { detail } => write!(f, "invalid module: {detail}"),
            Problem::StartFunction => write!(f, "start functions are not allowed"),
            Problem::MissingMemoryExport => write!(f, "the memory must be exported as `memory`"),
            Problem::MethodSignature { name } => {
                write!(f, "export {name}: exported functions must be () -> ()")
            }
            Problem::MemoryTooLarge { pages, max } => {
                write!(f, "initial memory is {pages} pages, the limit is {max}")
            }
            Problem::TooManyFunctions { count, max } => {
                write!(f, "{count} functions, the limit is {max}")
            }
            Problem::TooManyGlobals { count, max } => {
                write!(f, "{count} globals, the limit is {max}")
            }
            Problem::TooManyTableEntries { count, max } => {
                write!(f, "{count} table entries, the limit is {max}")
            }
            Problem::TooManyDataSegments { count, max } => {
                write!(f, "{count} data segments, the limit is {max}")
            }
            Problem::DataTooLarge { bytes, max } => {
                write!(f, "{bytes} bytes of data segments, the limit is {max}")
            }
            Problem::DataOutOfBounds { end, memory_bytes } => write!(
                f,
                "a data segment ends at byte {end}, beyond the initial memory of {memory_bytes} bytes"
            ),
            Problem::Compile(m) => write!(f, "wasmi rejected the module: {m}"),
        }
    }
}

/// A rejected module: every problem found, in the order found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid contract code: {}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationError {
    /// Every problem, never empty.
    pub problems: Vec<Problem>,
}

/// What validation learned about an accepted module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// `blake3` of the code.
    pub code_hash: Hash,
    /// Initial memory pages (charged at every instantiation).
    pub initial_pages: u32,
    /// The exported methods, sorted.
    pub methods: Vec<String>,
    /// The module exports `keel_reentrant`.
    pub reentrant: bool,
    /// The module exports `init`.
    pub has_init: bool,
}

/// The code hash of `code`: `blake3(code)`.
pub fn code_hash(code: &[u8]) -> Hash {
    *blake3::hash(code).as_bytes()
}

/// Checks `code` against Keel's rules without deploying it (this is what `Deploy` runs,
/// followed by a wasmi compile, which [`check_code`] also does).
///
/// ```
/// let config = keel_engine::EngineConfig::default();
/// let err = keel_engine::check_code(b"not wasm", &config).unwrap_err();
/// assert!(matches!(err.problems[0], keel_engine::Problem::Malformed(_)));
/// ```
pub fn check_code(code: &[u8], config: &EngineConfig) -> Result<CodeInfo, ValidationError> {
    let engine = wasmi::Engine::new(&crate::config::wasmi_config(config));
    check_and_compile(&engine, code, config).map(|(info, _)| info)
}

/// Structural checks, then a wasmi compile. Returns the compiled module too.
pub(crate) fn check_and_compile(
    engine: &wasmi::Engine,
    code: &[u8],
    config: &EngineConfig,
) -> Result<(CodeInfo, wasmi::Module), ValidationError> {
    let (info, mut problems) = scan(code, config);
    if problems.is_empty() {
        // wasmi 2.0.0's translator can panic on valid code (found by keel-fuzz: an `i32.store`
        // whose pointer and value are the same local, with a large offset, reaches an
        // `unreachable!()` in `choose_store_op_vt`; tests/wasmi_translator_panic.rs). A deploy must never take the node down,
        // so a panic while compiling rejects the module. The panic is a pure function of the
        // bytes, so every node rejects the same modules. Unwinding drops wasmi's lock guards,
        // so the engine stays usable (at worst a few unused function slots leak).
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wasmi::Module::new(engine, code)
        }));
        match compiled {
            Ok(Ok(module)) => return Ok((info, module)),
            Ok(Err(e)) => problems.push(Problem::Compile(e.to_string())),
            Err(_) => problems.push(Problem::Compile("the wasmi compiler panicked".into())),
        }
    }
    Err(ValidationError { problems })
}

/// Sorts a wasmparser message (pinned 0.228) into a problem kind. The message is kept whole, so
/// a misclassification loses nothing but the kind.
fn classify(message: String) -> Problem {
    if message.contains("floating-point") {
        Problem::Float { detail: message }
    } else if [
        "not enabled",
        "must be enabled",
        "is disabled",
        "are disabled",
        "are disallowed",
        "requires `gc`",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        Problem::ForbiddenFeature { detail: message }
    } else {
        Problem::Invalid { detail: message }
    }
}

fn abi_matches(ty: &wasmparser::FuncType, params: &[AbiType], results: &[AbiType]) -> bool {
    fn same(a: &[ValType], b: &[AbiType]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                matches!(
                    (x, y),
                    (ValType::I32, AbiType::I32) | (ValType::I64, AbiType::I64)
                )
            })
    }
    same(ty.params(), params) && same(ty.results(), results)
}

/// The single pass: collects problems instead of stopping at the first.
fn scan(code: &[u8], config: &EngineConfig) -> (CodeInfo, Vec<Problem>) {
    let limits = &config.limits;
    let mut problems = Vec::new();
    let mut info = CodeInfo {
        code_hash: code_hash(code),
        initial_pages: 0,
        methods: Vec::new(),
        reentrant: false,
        has_init: false,
    };
    if code.len() > limits.max_code_len as usize {
        problems.push(Problem::CodeTooLarge {
            len: code.len(),
            max: limits.max_code_len,
        });
    }
    let mut validator = Some(Validator::new_with_features(keel_features()));
    let mut allocs = FuncValidatorAllocations::default();
    // Function types, when the type section holds only function types.
    let mut types: Vec<Option<wasmparser::FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut memory_pages: Option<u64> = None;
    let mut exports: BTreeMap<String, (ExternalKind, u32)> = BTreeMap::new();
    let mut globals = 0u64;
    let mut table_entries = 0u64;
    let mut data_segments = 0u64;
    let mut data_bytes = 0u64;
    let mut data_ends: Vec<u64> = Vec::new();

    for payload in Parser::new(0).parse_all(code) {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                problems.push(Problem::Malformed(e.to_string()));
                break;
            }
        };
        // The validator sees every payload until its first module-level error.
        if let Some(v) = validator.as_mut() {
            match v.payload(&payload) {
                Ok(wasmparser::ValidPayload::Func(func, body)) => {
                    let mut fv = func.into_validator(std::mem::take(&mut allocs));
                    if let Err(e) = fv.validate(&body) {
                        problems.push(classify(e.to_string()));
                    }
                    allocs = fv.into_allocations();
                }
                Ok(_) => {}
                Err(e) => {
                    problems.push(classify(e.to_string()));
                    validator = None;
                }
            }
        }
        match payload {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.ok());
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_iter().flatten() {
                    let module = import.module.to_string();
                    let name = import.name.to_string();
                    if let TypeRef::Func(idx) = import.ty {
                        func_types.push(idx);
                    }
                    if module != "keel" {
                        problems.push(Problem::ForeignImport { module, name });
                        continue;
                    }
                    let Some((_, params, results)) = ABI.iter().find(|(n, _, _)| *n == name) else {
                        problems.push(Problem::UnknownImport { name });
                        continue;
                    };
                    let ok = match import.ty {
                        TypeRef::Func(idx) => types
                            .get(idx as usize)
                            .and_then(Option::as_ref)
                            .is_some_and(|t| abi_matches(t, params, results)),
                        _ => false,
                    };
                    if !ok {
                        problems.push(Problem::ImportSignature { name });
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for idx in reader.into_iter().flatten() {
                    func_types.push(idx);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter().flatten() {
                    table_entries = table_entries.saturating_add(table.ty.initial);
                }
            }
            Payload::MemorySection(reader) => {
                for mem in reader.into_iter().flatten() {
                    memory_pages = Some(memory_pages.unwrap_or(0).max(mem.initial));
                }
            }
            Payload::GlobalSection(reader) => globals += u64::from(reader.count()),
            Payload::ExportSection(reader) => {
                for export in reader.into_iter().flatten() {
                    exports.insert(export.name.to_string(), (export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => problems.push(Problem::StartFunction),
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    data_segments += 1;
                    let len = data.data.len() as u64;
                    data_bytes = data_bytes.saturating_add(len);
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        let mut ops = offset_expr.get_operators_reader();
                        if let Ok(Operator::I32Const { value }) = ops.read() {
                            data_ends.push(u64::from(value as u32).saturating_add(len));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    let functions = func_types.len() as u64;
    if functions > u64::from(limits.max_functions) {
        problems.push(Problem::TooManyFunctions {
            count: functions,
            max: limits.max_functions,
        });
    }
    if globals > u64::from(limits.max_globals) {
        problems.push(Problem::TooManyGlobals {
            count: globals,
            max: limits.max_globals,
        });
    }
    if table_entries > u64::from(limits.max_table_entries) {
        problems.push(Problem::TooManyTableEntries {
            count: table_entries,
            max: limits.max_table_entries,
        });
    }
    if data_segments > u64::from(limits.max_data_segments) {
        problems.push(Problem::TooManyDataSegments {
            count: data_segments,
            max: limits.max_data_segments,
        });
    }
    if data_bytes > u64::from(limits.max_data_bytes) {
        problems.push(Problem::DataTooLarge {
            bytes: data_bytes,
            max: limits.max_data_bytes,
        });
    }
    let pages = memory_pages.unwrap_or(0);
    if pages > u64::from(limits.max_memory_pages) {
        problems.push(Problem::MemoryTooLarge {
            pages,
            max: limits.max_memory_pages,
        });
    }
    let memory_bytes = pages.saturating_mul(65_536);
    if let Some(end) = data_ends.into_iter().filter(|e| *e > memory_bytes).max() {
        problems.push(Problem::DataOutOfBounds { end, memory_bytes });
    }
    info.initial_pages = u32::try_from(pages).unwrap_or(u32::MAX);

    match exports.get("memory") {
        Some((ExternalKind::Memory, _)) if memory_pages.is_some() => {}
        _ => problems.push(Problem::MissingMemoryExport),
    }
    for (name, (kind, index)) in &exports {
        if *kind != ExternalKind::Func {
            continue;
        }
        let ok = func_types
            .get(*index as usize)
            .and_then(|t| types.get(*t as usize))
            .and_then(Option::as_ref)
            .is_some_and(|t| t.params().is_empty() && t.results().is_empty());
        if !ok {
            problems.push(Problem::MethodSignature { name: name.clone() });
            continue;
        }
        match name.as_str() {
            "keel_reentrant" => info.reentrant = true,
            "init" => info.has_init = true,
            _ => info.methods.push(name.clone()),
        }
    }
    (info, problems)
}
