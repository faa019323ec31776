//! Engine configuration: the gas schedule, the limits, and the exact wasmi configuration.

use parity_scale_codec::{Decode, Encode};
use wasmi::{CompilationMode, Config, EnforcedLimits};
use wasmparser::WasmFeatures;

use crate::gas::GasSchedule;

/// Consensus limits. Like the gas schedule, changing one is a hard fork.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Limits {
    /// Largest accepted wasm module, bytes.
    pub max_code_len: u32,
    /// Most 64 KiB pages a contract memory may have (initially and after growth).
    pub max_memory_pages: u32,
    /// Most functions (imported + defined).
    pub max_functions: u32,
    /// Most entries in the type section.
    pub max_types: u32,
    /// Most parameters, and most results, of one function type (wasmi's strict limit).
    pub max_params: u32,
    /// Most declared locals (parameters excluded) in one function. wasmi registers every
    /// local when it compiles and zeroes them on every call.
    pub max_function_locals: u32,
    /// Most declared locals in all functions together.
    pub max_locals: u32,
    /// Most exports (methods, `memory`, `keel_reentrant`, and anything else exported).
    pub max_exports: u32,
    /// Most bytes in all export names together (the method table is stored with the code).
    pub max_export_name_bytes: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most table entries (sum of initial sizes; maximums are capped at instantiation).
    pub max_table_entries: u32,
    /// Most element segments.
    pub max_element_segments: u32,
    /// Most items in all element segments together.
    pub max_element_items: u32,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most bytes in all data segments together.
    pub max_data_bytes: u32,
    /// Deepest nesting of contract calls (the top-level frame is depth 1).
    pub max_call_depth: u32,
    /// Deepest wasm recursion inside one frame (wasmi's recursion limit).
    pub max_recursion_depth: u32,
    /// Largest wasm value stack inside one frame, bytes (at least 1,024 is used).
    pub max_stack_bytes: u32,
    /// Most events per transaction.
    pub max_events: u32,
    /// Most topics per event.
    pub max_topics: u32,
    /// Largest event data, bytes.
    pub max_event_data: u32,
    /// Largest storage key (the contract's own key, before namespacing), bytes.
    pub max_key_len: u32,
    /// Largest storage value, bytes.
    pub max_value_len: u32,
    /// Largest return data, revert message or call input, bytes.
    pub max_return_len: u32,
    /// Largest `debug_log` message, bytes (longer ones are truncated in the record).
    pub max_log_len: u32,
    /// Most validation problems listed in a rejected `Deploy`'s receipt; the rest are counted.
    pub max_problems: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_code_len: 512 * 1024,
            max_memory_pages: 16,
            max_functions: 10_000,
            max_types: 1_024,
            max_params: 32,
            max_function_locals: 1_024,
            max_locals: 131_072,
            max_exports: 512,
            max_export_name_bytes: 8 * 1024,
            max_globals: 256,
            max_table_entries: 4_096,
            max_element_segments: 256,
            max_element_items: 4_096,
            max_data_segments: 256,
            max_data_bytes: 256 * 1024,
            max_call_depth: 16,
            max_recursion_depth: 1_024,
            max_stack_bytes: 1024 * 1024,
            max_events: 128,
            max_topics: 4,
            max_event_data: 8 * 1024,
            max_key_len: 1024,
            max_value_len: 128 * 1024,
            max_return_len: 128 * 1024,
            max_log_len: 4 * 1024,
            max_problems: 64,
        }
    }
}

/// Everything that configures an [`crate::Engine`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The prices (consensus).
    pub gas: GasSchedule,
    /// The limits (consensus).
    pub limits: Limits,
    /// Record `debug_log` messages in `Receipt::logs` (for test harnesses). Never changes gas
    /// or any other receipt field.
    pub record_logs: bool,
    /// How many compiled modules the in-memory cache keeps. The default, `usize::MAX`, keeps
    /// every module this engine has loaded compiled for the engine's lifetime, so that a
    /// transaction can never make a node recompile code (work that gas could not pay for,
    /// since gas never depends on the cache). A smaller capacity evicts the least recently
    /// used module and 0 disables the cache: both are for tools and benchmarks that measure
    /// the cold path, not for nodes. Never changes gas or any receipt.
    pub module_cache_capacity: usize,
    /// Keep used instances of a module whose instances can be reset exactly and reuse them,
    /// reset to the state of a fresh instantiation, instead of instantiating anew (faster;
    /// see ARCHITECTURE.md, "Instance pool"). Off: every frame instantiates. Never changes gas
    /// or any receipt.
    pub instance_pool: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            gas: GasSchedule::default(),
            limits: Limits::default(),
            record_logs: false,
            module_cache_capacity: usize::MAX,
            instance_pool: true,
        }
    }
}

/// The wasm features Keel accepts, decided one by one (every other feature is off):
///
/// - on: mutable globals, sign extension, multi-value, bulk memory, reference types
///   (with the GC *types* wasmparser needs for them). Stable rustc emits all of these for
///   `wasm32-unknown-unknown` by default; rejecting bulk memory broke CosmWasm's users.
/// - off: saturating float-to-int, although rustc's default target features name it: every
///   such instruction takes a float, but in unreachable code the operand stack is polymorphic,
///   so with the feature on it validated with floats off (found by the spec suite,
///   `tests/spec_findings.rs`). Code without floats never contains one.
/// - off: floats (`f32`/`f64` types and instructions). No NaN-bit nondeterminism to argue
///   about; a future float mode must also turn on wasmi's `deterministic` feature.
/// - off: SIMD and relaxed SIMD (not compiled into our wasmi, and float-heavy), threads and
///   shared memory, memory64, multi-memory, custom page sizes, wide arithmetic, exceptions, GC.
/// - off: tail calls (not emitted by default rustc; `return_call` would let a frame
///   escape the call-depth accounting we reason about) and extended const (not emitted by
///   default rustc; nothing needs it).
pub fn keel_features() -> WasmFeatures {
    let mut f = WasmFeatures::empty();
    f.set(WasmFeatures::MUTABLE_GLOBAL, true);
    f.set(WasmFeatures::SIGN_EXTENSION, true);
    f.set(WasmFeatures::MULTI_VALUE, true);
    f.set(WasmFeatures::BULK_MEMORY, true);
    f.set(WasmFeatures::REFERENCE_TYPES, true);
    f.set(WasmFeatures::GC_TYPES, true);
    f.set(WasmFeatures::SATURATING_FLOAT_TO_INT, false);
    f.set(WasmFeatures::FLOATS, false);
    f
}

/// The exact wasmi configuration the engine runs with for `config`: eager compilation, fuel
/// metered per operator from the gas schedule, no start functions, strict enforced limits,
/// recursion and stack limits, and every wasm feature set explicitly so that a wasmi upgrade
/// cannot switch one on silently. Public for embedders and for benchmarks that compare with
/// plain wasmi.
pub fn wasmi_config(config: &EngineConfig) -> Config {
    let mut c = Config::default();
    c.consume_fuel(true)
        .compilation_mode(CompilationMode::Eager)
        .allow_start_fn(false)
        .enforced_limits(EnforcedLimits::strict())
        .ignore_custom_sections(true)
        .operator_cost(config.gas.operator_cost())
        .fuel_cost(config.gas.fuel_costs())
        .set_max_recursion_depth(config.limits.max_recursion_depth as usize)
        // wasmi panics below its 1,000-byte minimum stack height: clamp, never panic.
        .set_max_stack_height((config.limits.max_stack_bytes as usize).max(1024))
        .set_max_cached_stacks(4)
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(false)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .floats(false);
    // memory64 and SIMD are not compiled into our wasmi (default features off), so they are
    // off without a setter.
    c
}
