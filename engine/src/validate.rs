//! Upload validation: one pass over the module that collects every problem, then wasmi's
//! own compile. Used by `Deploy` and, without deploying, by `keel check` ([`check_code`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use parity_scale_codec::{Decode, Encode};
use wasmparser::{
    Chunk, DataKind, ExternalKind, FuncValidatorAllocations, Operator, Parser, Payload, TypeRef,
    ValType, Validator,
};

use crate::config::{EngineConfig, keel_features};
use crate::gas::GasSchedule;
use crate::host::{AbiType, HOST_ABI};
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
    /// A `keel` import listed more than once.
    DuplicateImport {
        /// The name.
        name: String,
    },
    /// A shape dimension above its limit (see [`crate::Limits`]).
    TooMany {
        /// What was counted (`"types"`, `"locals in function 12"`, ...).
        what: String,
        /// Count.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// An active element or data segment whose offset is not an `i32.const`.
    NonConstantOffset {
        /// `"element"` or `"data"`.
        segment: &'static str,
    },
    /// An active element segment that does not fit its table's initial size.
    ElementOutOfBounds {
        /// The segment's end index.
        end: u64,
        /// The table's initial size.
        table_size: u64,
    },
    /// wasmi refused to compile the module (its enforced limits or a translation error).
    Compile(String),
    /// More problems than `Limits::max_problems`: this many more were found and not listed.
    Omitted {
        /// How many.
        count: u64,
    },
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
            Problem::DuplicateImport { name } => {
                write!(f, "import keel.{name}: imported more than once")
            }
            Problem::TooMany { what, count, max } => {
                write!(f, "{count} {what}, the limit is {max}")
            }
            Problem::NonConstantOffset { segment } => {
                write!(
                    f,
                    "an active {segment} segment's offset must be an i32.const"
                )
            }
            Problem::ElementOutOfBounds { end, table_size } => write!(
                f,
                "an element segment ends at index {end}, beyond the table's {table_size} entries"
            ),
            Problem::Compile(m) => write!(f, "wasmi rejected the module: {m}"),
            Problem::Omitted { count } => write!(f, "... and {count} more problems"),
        }
    }
}

/// A rejected module: the problems found, in the order found (at most `Limits::max_problems`,
/// the last then an [`Problem::Omitted`] count of the rest).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid contract code: {}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationError {
    /// Every problem, never empty.
    pub problems: Vec<Problem>,
}

/// The dimensions of a module that compilation and instantiation work grows with. Recorded
/// at `Deploy` with the code (see [`CodeInfo`]) and priced by [`crate::GasSchedule`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Shape {
    /// Code bytes.
    pub code_len: u32,
    /// Type-section entries.
    pub types: u32,
    /// Functions, imported and defined.
    pub functions: u32,
    /// Imports (all `keel` functions).
    pub imports: u32,
    /// Exports.
    pub exports: u32,
    /// Globals.
    pub globals: u32,
    /// Table entries (initial sizes).
    pub table_entries: u32,
    /// Element-segment items.
    pub element_items: u32,
    /// Data segments.
    pub data_segments: u32,
    /// Data-segment bytes.
    pub data_bytes: u32,
    /// Declared locals (parameters excluded), all functions.
    pub locals: u32,
    /// Initial memory pages.
    pub initial_pages: u32,
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
    /// The shape that deployment and every instantiation are priced by.
    pub shape: Shape,
}

/// The code hash of `code`: `blake3(code)`.
pub fn code_hash(code: &[u8]) -> Hash {
    *blake3::hash(code).as_bytes()
}

/// Checks `code` against Keel's rules without deploying it: the structural scan, then a
/// wasmi compile of the metered module, exactly as `Deploy` does.
///
/// ```
/// let config = keel_engine::EngineConfig::default();
/// let err = keel_engine::check_code(b"not wasm", &config).unwrap_err();
/// assert!(matches!(err.problems[0], keel_engine::Problem::Malformed(_)));
/// ```
pub fn check_code(code: &[u8], config: &EngineConfig) -> Result<CodeInfo, ValidationError> {
    let engine = wasmi::Engine::new(&crate::config::wasmi_config(config));
    let info = scan_code(code, config)?;
    compile(&engine, code, &config.gas)
        .map(|_| info)
        .map_err(|p| ValidationError { problems: vec![p] })
}

/// The structural scan alone: every problem it finds (capped at `Limits::max_problems`), or
/// what it learned. Its work is linear in the code's bytes; it compiles nothing.
pub(crate) fn scan_code(code: &[u8], config: &EngineConfig) -> Result<CodeInfo, ValidationError> {
    let (info, mut problems) = scan(code, config);
    if problems.is_empty() {
        return Ok(info);
    }
    let max = (config.limits.max_problems as usize).max(1);
    if problems.len() > max {
        let omitted = (problems.len() - (max - 1)) as u64;
        problems.truncate(max - 1);
        problems.push(Problem::Omitted { count: omitted });
    }
    Err(ValidationError { problems })
}

thread_local! {
    /// Set while this thread compiles under `catch_unwind`: the panic hook stays quiet.
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs, once per process, a panic hook that is silent while [`QUIET_PANICS`] is set on
/// the panicking thread and otherwise defers to the hook that was installed before. A caught
/// compiler panic then costs no message and no backtrace capture (`RUST_BACKTRACE=1` made
/// each one cost about 1.5 ms).
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Compiles `code` into `engine` in its metered form ([`meter_locals`]). The module must have
/// passed the scan. wasmi 2.0.0's translator can panic on valid code (found by keel-fuzz: an
/// `i32.store` whose pointer and value are the same local, with a large offset, reaches an
/// `unreachable!()` in `choose_store_op_vt`; tests/wasmi_translator_panic.rs). A deploy must
/// never take the node down, so a panic while compiling rejects the module, quietly. The
/// panic is a pure function of the bytes, so every node rejects the same modules. Unwinding
/// drops wasmi's lock guards, so the engine stays usable.
pub(crate) fn compile(
    engine: &wasmi::Engine,
    code: &[u8],
    gas: &GasSchedule,
) -> Result<wasmi::Module, Problem> {
    let metered = meter_locals(code, gas.locals_per_gas).map_err(Problem::Compile)?;
    compile_metered(engine, &metered)
}

/// Like [`compile`], for a module that is kept live and may be instantiated many times: if
/// its instances can be reset exactly ([`reset_form`]), the module compiled is the metered form
/// with its mutable globals exported under reserved names, and the names come back with it.
/// Exports change no instruction and no fuel; the method table a call is checked against
/// comes from the code's metadata, never from the compiled module.
pub(crate) fn compile_live_form(
    engine: &wasmi::Engine,
    code: &[u8],
    gas: &GasSchedule,
) -> Result<(wasmi::Module, Option<Vec<String>>), Problem> {
    let metered = meter_locals(code, gas.locals_per_gas).map_err(Problem::Compile)?;
    if let Some((bytes, globals)) = reset_form(&metered)
        && let Ok(module) = compile_metered(engine, &bytes)
    {
        return Ok((module, Some(globals)));
    }
    compile_metered(engine, &metered).map(|m| (m, None))
}

/// The prefix of the export names [`reset_form`] adds (a NUL byte: no SDK name has one).
const RESET_EXPORT_PREFIX: &str = "\u{0}keel.reset.global.";

/// Whether an instance of `code` (a metered module that passed the scan) can be returned to the
/// state of a fresh instantiation through wasmi's public API, and if so the module with every
/// mutable global exported (as [`RESET_EXPORT_PREFIX`] and its index) and those export names.
///
/// An instance's mutable state is its memory, its mutable globals, its tables and which of its
/// passive segments were dropped. The memory is exported (the ABI needs it) and the globals are
/// exported here; tables and segments have no reset through wasmi's API, so a module containing
/// any instruction that changes them (`table.set`, `table.grow`, `table.fill`, `table.copy`,
/// `table.init`, `elem.drop`, `data.drop`) is never reset: `None`. Also `None` for anything
/// unusual (no export section, a name clash, bytes that do not parse).
pub(crate) fn reset_form(code: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    let mut mutable: Vec<u32> = Vec::new();
    // (section start, section end, count, entries' bytes range, names)
    let mut exports: Option<(usize, usize, u32, std::ops::Range<usize>)> = None;
    let mut names: BTreeSet<String> = BTreeSet::new();
    loop {
        let rest = code.get(offset..)?;
        let (payload, consumed) = match parser.parse(rest, true).ok()? {
            Chunk::Parsed { payload, consumed } => (payload, consumed),
            Chunk::NeedMoreData(_) => return None,
        };
        match payload {
            Payload::GlobalSection(reader) => {
                for (i, g) in reader.into_iter().enumerate() {
                    if g.ok()?.ty.mutable {
                        mutable.push(u32::try_from(i).ok()?);
                    }
                }
            }
            Payload::ExportSection(reader) => {
                let count = reader.count();
                let content = reader.range();
                let mut entries_start = None;
                for e in reader.into_iter_with_offsets() {
                    let (pos, e) = e.ok()?;
                    entries_start.get_or_insert(pos);
                    names.insert(e.name.to_string());
                }
                let start = entries_start.unwrap_or(content.end);
                exports = Some((offset, offset + consumed, count, start..content.end));
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().ok()?;
                while !ops.eof() {
                    match ops.read().ok()? {
                        Operator::TableSet { .. }
                        | Operator::TableGrow { .. }
                        | Operator::TableFill { .. }
                        | Operator::TableCopy { .. }
                        | Operator::TableInit { .. }
                        | Operator::ElemDrop { .. }
                        | Operator::DataDrop { .. } => return None,
                        _ => {}
                    }
                }
            }
            Payload::End(_) => break,
            _ => {}
        }
        offset += consumed;
    }
    let (start, end, count, entries) = exports?;
    let added: Vec<String> = mutable
        .iter()
        .map(|i| format!("{RESET_EXPORT_PREFIX}{i}"))
        .collect();
    if added.iter().any(|n| names.contains(n)) {
        return None;
    }
    let mut contents = Vec::new();
    leb(&mut contents, u64::from(count) + added.len() as u64);
    contents.extend_from_slice(code.get(entries)?);
    for (name, index) in added.iter().zip(&mutable) {
        leb(&mut contents, name.len() as u64);
        contents.extend_from_slice(name.as_bytes());
        contents.push(0x03); // a global
        leb(&mut contents, u64::from(*index));
    }
    let mut out = Vec::with_capacity(code.len() + contents.len());
    out.extend_from_slice(code.get(..start)?);
    out.push(7); // the export section's id
    leb(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    out.extend_from_slice(code.get(end..)?);
    Some((out, added))
}

/// Compiles already-metered bytes under `catch_unwind` (see [`compile`]).
fn compile_metered(engine: &wasmi::Engine, metered: &[u8]) -> Result<wasmi::Module, Problem> {
    install_quiet_hook();
    QUIET_PANICS.with(|q| q.set(true));
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wasmi::Module::new(engine, metered)
    }));
    QUIET_PANICS.with(|q| q.set(false));
    match compiled {
        Ok(Ok(module)) => Ok(module),
        Ok(Err(e)) => Err(Problem::Compile(e.to_string())),
        Err(_) => Err(Problem::Compile("the wasmi compiler panicked".into())),
    }
}

/// The module wasmi runs for `code`: the same module with `locals / locals_per_gas` `nop`s
/// in front of each function body whose declared locals (parameters excluded) reach
/// `locals_per_gas`. wasmi charges operators at the entry of the region they are in, so every
/// call of such a function pays `op_nop` per `nop` for the locals wasmi zeroes when it enters
/// the function. Nothing else changes; `nop`s execute as nothing. `locals_per_gas == 0`, or a
/// module where no function has that many locals, returns the code unchanged.
pub(crate) fn meter_locals(code: &[u8], locals_per_gas: u32) -> Result<Cow<'_, [u8]>, String> {
    if locals_per_gas == 0 {
        return Ok(Cow::Borrowed(code));
    }
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    // (section header start, section end)
    let mut section: Option<(usize, usize)> = None;
    // (declared-locals bytes, operator bytes, nops) per body
    let mut bodies: Vec<(std::ops::Range<usize>, std::ops::Range<usize>, u32)> = Vec::new();
    let mut any = false;
    loop {
        let rest = code.get(offset..).unwrap_or(&[]);
        let (payload, consumed) = match parser.parse(rest, true).map_err(|e| e.to_string())? {
            Chunk::Parsed { payload, consumed } => (payload, consumed),
            Chunk::NeedMoreData(_) => return Err("truncated module".into()),
        };
        match payload {
            Payload::CodeSectionStart { range, .. } => section = Some((offset, range.end)),
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                let mut locals = 0u64;
                for decl in body.get_locals_reader().map_err(|e| e.to_string())? {
                    locals += u64::from(decl.map_err(|e| e.to_string())?.0);
                }
                let ops = body
                    .get_operators_reader()
                    .map_err(|e| e.to_string())?
                    .original_position();
                let nops = u32::try_from(locals / u64::from(locals_per_gas)).unwrap_or(u32::MAX);
                any |= nops > 0;
                bodies.push((range.start..ops, ops..range.end, nops));
            }
            Payload::End(_) => break,
            _ => {}
        }
        offset += consumed;
    }
    let Some((header, end)) = section.filter(|_| any) else {
        return Ok(Cow::Borrowed(code));
    };
    let mut contents = Vec::with_capacity(end - header + bodies.len() * 4);
    leb(&mut contents, bodies.len() as u64);
    for (locals, ops, nops) in &bodies {
        let body_len = locals.len() + *nops as usize + ops.len();
        leb(&mut contents, body_len as u64);
        contents.extend_from_slice(code.get(locals.clone()).unwrap_or(&[]));
        contents.resize(contents.len() + *nops as usize, 0x01); // `nop`
        contents.extend_from_slice(code.get(ops.clone()).unwrap_or(&[]));
    }
    let mut out = Vec::with_capacity(code.len() + contents.len() - (end - header));
    out.extend_from_slice(code.get(..header).unwrap_or(&[]));
    out.push(10); // the code section's id
    leb(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    out.extend_from_slice(code.get(end..).unwrap_or(&[]));
    Ok(Cow::Owned(out))
}

/// Appends `value` as an unsigned LEB128.
fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Sorts a wasmparser message (pinned 0.228) into a problem kind. The message is kept whole, so
/// a misclassification loses nothing but the kind.
fn classify(message: String) -> Problem {
    if message.contains("floating-point") || message.contains("saturating float to int") {
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

/// A name as shown in a problem: at most 64 bytes of it, so that a receipt stays small.
fn short(name: &str) -> String {
    const MAX: usize = 64;
    if name.len() <= MAX {
        return name.to_string();
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

/// The first instruction of `body` that takes a float operand but produces an integer, by
/// name. wasmparser with floats off rejects float types and float instructions, but not these
/// conversions when they sit in unreachable code (the operand stack is polymorphic there):
/// found by the spec suite (`tests/spec_findings.rs`, finding 1).
fn float_conversion(body: &wasmparser::FunctionBody<'_>) -> Option<&'static str> {
    let mut ops = body.get_operators_reader().ok()?;
    while !ops.eof() {
        let name = match ops.read().ok()? {
            Operator::I32TruncF32S => "i32.trunc_f32_s",
            Operator::I32TruncF32U => "i32.trunc_f32_u",
            Operator::I32TruncF64S => "i32.trunc_f64_s",
            Operator::I32TruncF64U => "i32.trunc_f64_u",
            Operator::I64TruncF32S => "i64.trunc_f32_s",
            Operator::I64TruncF32U => "i64.trunc_f32_u",
            Operator::I64TruncF64S => "i64.trunc_f64_s",
            Operator::I64TruncF64U => "i64.trunc_f64_u",
            Operator::I32ReinterpretF32 => "i32.reinterpret_f32",
            Operator::I64ReinterpretF64 => "i64.reinterpret_f64",
            Operator::I32TruncSatF32S
            | Operator::I32TruncSatF32U
            | Operator::I32TruncSatF64S
            | Operator::I32TruncSatF64U
            | Operator::I64TruncSatF32S
            | Operator::I64TruncSatF32U
            | Operator::I64TruncSatF64S
            | Operator::I64TruncSatF64U => "a saturating float-to-int conversion",
            _ => continue,
        };
        return Some(name);
    }
    None
}

/// The value of a constant offset expression, if it is a single `i32.const`.
fn const_offset(expr: &wasmparser::ConstExpr<'_>) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    let Ok(Operator::I32Const { value }) = ops.read() else {
        return None;
    };
    matches!(ops.read(), Ok(Operator::End)).then_some(u64::from(value as u32))
}

fn too_many(problems: &mut Vec<Problem>, what: &str, count: u64, max: u32) {
    if count > u64::from(max) {
        problems.push(Problem::TooMany {
            what: what.to_string(),
            count,
            max: u64::from(max),
        });
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
        shape: Shape::default(),
    };
    if code.len() > limits.max_code_len as usize {
        problems.push(Problem::CodeTooLarge {
            len: code.len(),
            max: limits.max_code_len,
        });
        // Nothing more is read of a module over the size limit: the scan's work stays bounded
        // by the limit, not by what a transaction carries.
        return (info, problems);
    }
    let mut validator = Some(Validator::new_with_features(keel_features()));
    let mut allocs = FuncValidatorAllocations::default();
    // Function types, when the type section holds only function types.
    let mut types: Vec<Option<wasmparser::FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut memory_pages: Option<u64> = None;
    let mut exports: BTreeMap<String, (ExternalKind, u32)> = BTreeMap::new();
    let mut export_count = 0u64;
    let mut export_name_bytes = 0u64;
    let mut imported: BTreeSet<String> = BTreeSet::new();
    let mut imports = 0u64;
    let mut globals = 0u64;
    let mut tables: Vec<u64> = Vec::new();
    let mut element_segments = 0u64;
    let mut element_items = 0u64;
    let mut element_ends: Vec<(u32, u64)> = Vec::new();
    let mut data_segments = 0u64;
    let mut data_bytes = 0u64;
    let mut data_ends: Vec<u64> = Vec::new();
    let mut locals_total = 0u64;
    // (size, count) of the code section, as wasmi's average-size limit reads them.
    let mut code_section = (0u64, 0u64);
    let mut defined = 0u64;
    let mut imported_funcs = 0u64;

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
                too_many(
                    &mut problems,
                    "types",
                    u64::from(reader.count()),
                    limits.max_types,
                );
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.ok();
                    if let Some(t) = &ty {
                        let widest = t.params().len().max(t.results().len()) as u64;
                        too_many(
                            &mut problems,
                            "parameters or results in a function type",
                            widest,
                            limits.max_params,
                        );
                    }
                    types.push(ty);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_iter().flatten() {
                    imports += 1;
                    let module = short(import.module);
                    let name = short(import.name);
                    if let TypeRef::Func(idx) = import.ty {
                        func_types.push(idx);
                        imported_funcs += 1;
                    }
                    if import.module != "keel" {
                        problems.push(Problem::ForeignImport { module, name });
                        continue;
                    }
                    let Some((_, params, results)) =
                        HOST_ABI.iter().find(|(n, _, _)| *n == import.name)
                    else {
                        problems.push(Problem::UnknownImport { name });
                        continue;
                    };
                    if !imported.insert(import.name.to_string()) {
                        problems.push(Problem::DuplicateImport { name });
                        continue;
                    }
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
                    tables.push(table.ty.initial);
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
                    export_count += 1;
                    export_name_bytes += export.name.len() as u64;
                    exports.insert(export.name.to_string(), (export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => problems.push(Problem::StartFunction),
            Payload::ElementSection(reader) => {
                for element in reader.into_iter().flatten() {
                    element_segments += 1;
                    let items = u64::from(match &element.items {
                        wasmparser::ElementItems::Functions(r) => r.count(),
                        wasmparser::ElementItems::Expressions(_, r) => r.count(),
                    });
                    element_items = element_items.saturating_add(items);
                    if let wasmparser::ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = &element.kind
                    {
                        match const_offset(offset_expr) {
                            Some(at) => element_ends
                                .push((table_index.unwrap_or(0), at.saturating_add(items))),
                            None => {
                                problems.push(Problem::NonConstantOffset { segment: "element" })
                            }
                        }
                    }
                }
            }
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    data_segments += 1;
                    let len = data.data.len() as u64;
                    data_bytes = data_bytes.saturating_add(len);
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        match const_offset(&offset_expr) {
                            Some(at) => data_ends.push(at.saturating_add(len)),
                            None => problems.push(Problem::NonConstantOffset { segment: "data" }),
                        }
                    }
                }
            }
            Payload::CodeSectionStart { count, size, .. } => {
                code_section = (u64::from(size), u64::from(count));
            }
            Payload::CodeSectionEntry(body) => {
                defined += 1;
                let mut locals = 0u64;
                if let Ok(reader) = body.get_locals_reader() {
                    for (count, _) in reader.into_iter().flatten() {
                        locals += u64::from(count);
                    }
                }
                locals_total = locals_total.saturating_add(locals);
                if let Some(op) = float_conversion(&body) {
                    problems.push(Problem::Float {
                        detail: format!("{op} (in function {})", imported_funcs + defined - 1),
                    });
                }
                if locals > u64::from(limits.max_function_locals) {
                    let index = imported_funcs + defined - 1;
                    too_many(
                        &mut problems,
                        &format!("locals in function {index}"),
                        locals,
                        limits.max_function_locals,
                    );
                }
            }
            _ => {}
        }
    }

    let functions = func_types.len() as u64;
    too_many(
        &mut problems,
        "locals in all functions",
        locals_total,
        limits.max_locals,
    );
    too_many(&mut problems, "exports", export_count, limits.max_exports);
    too_many(
        &mut problems,
        "bytes of export names",
        export_name_bytes,
        limits.max_export_name_bytes,
    );
    too_many(
        &mut problems,
        "element segments",
        element_segments,
        limits.max_element_segments,
    );
    too_many(
        &mut problems,
        "element items",
        element_items,
        limits.max_element_items,
    );
    // wasmi's strict limit (code section size / function count >= 40 once the section
    // holds 1,000 bytes), checked here so that the scan rejects what wasmi would.
    let (size, count) = code_section;
    if size >= 1_000 && count > 0 && size / count < 40 {
        problems.push(Problem::TooMany {
            what: "functions for their code (fewer than 40 bytes each on average)".into(),
            count,
            max: size / 40,
        });
    }
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
    let table_entries = tables.iter().fold(0u64, |a, t| a.saturating_add(*t));
    if table_entries > u64::from(limits.max_table_entries) {
        problems.push(Problem::TooManyTableEntries {
            count: table_entries,
            max: limits.max_table_entries,
        });
    }
    for (table, end) in element_ends {
        let size = tables.get(table as usize).copied().unwrap_or(0);
        if end > size {
            problems.push(Problem::ElementOutOfBounds {
                end,
                table_size: size,
            });
        }
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
    info.initial_pages = clamp(pages);

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
            problems.push(Problem::MethodSignature { name: short(name) });
            continue;
        }
        match name.as_str() {
            "keel_reentrant" => info.reentrant = true,
            "init" => info.has_init = true,
            _ => info.methods.push(name.clone()),
        }
    }
    info.shape = Shape {
        code_len: clamp(code.len() as u64),
        types: clamp(types.len() as u64),
        functions: clamp(functions),
        imports: clamp(imports),
        exports: clamp(export_count),
        globals: clamp(globals),
        table_entries: clamp(table_entries),
        element_items: clamp(element_items),
        data_segments: clamp(data_segments),
        data_bytes: clamp(data_bytes),
        locals: clamp(locals_total),
        initial_pages: info.initial_pages,
    };
    (info, problems)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// (declared locals, operator bytes) of every function body of `code`.
    fn bodies(code: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for payload in Parser::new(0).parse_all(code) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let locals = body
                    .get_locals_reader()
                    .unwrap()
                    .into_iter()
                    .map(|l| u64::from(l.unwrap().0))
                    .sum();
                let start = body.get_operators_reader().unwrap().original_position();
                out.push((locals, code[start..body.range().end].to_vec()));
            }
        }
        out
    }

    #[test]
    fn metering_prefixes_nops_for_locals_and_changes_nothing_else() {
        let locals = [0usize, 3, 4, 9, 1_000];
        let funcs: String = locals
            .iter()
            .map(|n| {
                format!(
                    "(func (export \"f{n}\") (local {}) (drop (i32.add (i32.const {n}) (i32.const 1))))",
                    "i32 ".repeat(*n)
                )
            })
            .collect();
        let code = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1) {funcs} (data (i32.const 0) "after the code"))"#
        ))
        .unwrap();
        let metered = meter_locals(&code, 4).unwrap();
        Validator::new_with_features(keel_features())
            .validate_all(&metered)
            .unwrap();
        let (before, after) = (bodies(&code), bodies(&metered));
        assert_eq!(before.len(), after.len());
        for ((n, ops), (m, metered_ops)) in before.iter().zip(&after) {
            assert_eq!(n, m, "declared locals unchanged");
            let nops = (*n / 4) as usize;
            assert!(metered_ops[..nops].iter().all(|b| *b == 0x01), "{n} locals");
            assert_eq!(
                &metered_ops[nops..],
                &ops[..],
                "operators unchanged after the nops"
            );
        }
        // Sections after the code section (here: data) are carried over byte for byte.
        assert!(metered.ends_with(&code[code.len() - 20..]));
        // Nothing to meter: the code itself, not a copy.
        assert!(matches!(meter_locals(&code, 0).unwrap(), Cow::Borrowed(_)));
        let small = wat::parse_str(r#"(module (func (local i32 i32 i32)))"#).unwrap();
        assert!(matches!(meter_locals(&small, 4).unwrap(), Cow::Borrowed(_)));
    }
}
