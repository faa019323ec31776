//! The gas schedule: one versioned table of every price the engine charges.
//!
//! Gas is wasmi fuel: one unit of gas is one unit of fuel. Wasm code pays per operator
//! (wasmi's per-operator metering, configured from this table); host functions charge
//! themselves from the same fuel counter, after validating their arguments and before doing
//! the work. The schedule is consensus: changing any field changes receipts, so every change
//! must bump [`GasSchedule::version`] and is a hard fork.

use parity_scale_codec::{Decode, Encode};
use wasmi::{CustomFuelCosts, OperatorCost};

/// Every price the engine charges, in gas (= wasmi fuel units).
///
/// Version 2 prices every dimension of work the calibration suite found
/// (`cargo run --release -p keel-benches --bin keel-calibrate`; BENCHMARKS.md, "Gas vs time"):
/// compilation by module shape, instantiation by module shape, declared locals on every call,
/// failed growth and the fixed part of bulk operations, `call_indirect`, value bytes behind
/// `storage_has`, entries skipped by `storage_next`, and the commit work a write causes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GasSchedule {
    /// Bumped on every change to any price.
    pub version: u32,

    // ---- wasm execution
    // An ordinary wasm operator (arithmetic, locals, constants, branches) costs 1: that is the
    // unit of gas. Structural operators (`block`, `loop`, `end`, `else`, `drop`, `return`,
    // `unreachable`) are free, as in wasmi's default table.
    /// Cost of a load.
    pub op_load: u8,
    /// Cost of a store.
    pub op_store: u8,
    /// Cost of `call` (on top of the callee's own operators).
    pub op_call: u8,
    /// Cost of `call_indirect` (a table lookup and a signature check on top of a call).
    pub op_call_indirect: u8,
    /// Cost of integer division and remainder.
    pub op_div: u8,
    /// Cost of `br_if` (and `if`).
    pub op_br_if: u8,
    /// Cost of `br_table`.
    pub op_br_table: u8,
    /// Cost of `select`.
    pub op_select: u8,
    /// Cost of `global.get` and `global.set`.
    pub op_global: u8,
    /// Cost of `memory.size` and `table.size`.
    pub op_size: u8,
    /// Fixed cost of `memory.grow`, paid whether or not the growth succeeds (the bytes of a
    /// successful growth are paid on top, at `memory_bytes_per_gas`).
    pub op_grow: u8,
    /// Fixed cost of `table.grow`, paid whether or not it succeeds: wasmi's per-entry charge
    /// for a successful growth is small for the work, and this covers the largest growth the
    /// table limit allows.
    pub op_table_grow: u8,
    /// Fixed cost of every bulk operator (`memory.copy/fill/init`, `table.copy/init/fill`,
    /// `data.drop`, `elem.drop`), however few bytes it moves.
    pub op_bulk: u8,
    /// Cost of `nop`. Also the unit of the per-call locals charge: the engine compiles every
    /// function with `locals / locals_per_gas` `nop`s in front of its body, so a call pays for
    /// the locals wasmi zeroes at function entry.
    pub op_nop: u8,
    /// Declared locals (parameters excluded) per unit of gas charged on each call of a
    /// function; 0 charges nothing for locals.
    pub locals_per_gas: u32,
    /// Bytes per unit of gas for `memory.grow/copy/fill/init` and `table.*` bulk work.
    /// Memory growth therefore costs `65536 / memory_bytes_per_gas` per page.
    pub memory_bytes_per_gas: u32,

    // ---- transactions
    /// Every transaction that executes (not `Invalid`): the nonce read, the receipt, and the
    /// nonce write with the commit work it causes (a storage write's worth).
    pub tx_base: u64,
    /// Per byte of the action's payload (code, args, method name, salt).
    pub tx_byte: u64,
    /// `Deploy`: validation, compilation and storage of the code, base (including the writes
    /// of the code and its metadata).
    pub deploy_base: u64,
    /// `Deploy`: per byte of code (validation, two compilations, storage).
    pub deploy_byte: u64,
    /// `Deploy`: per function (imported or defined), on top of its bytes.
    pub deploy_function: u64,
    /// `Deploy`: per declared local, on top of its bytes (wasmi registers each one).
    pub deploy_local: u64,
    /// `Deploy`: per type-section entry.
    pub deploy_type: u64,
    /// `Deploy`: per export (name checks and the export map, twice).
    pub deploy_export: u64,
    /// An `Instantiate` transaction also pays `storage_write_base` for the contract record it
    /// writes, whether or not it runs `init`.
    ///
    /// Every instantiation of a module (top-level frame and each nested call), regardless of
    /// whether the compiled module came from the cache. Initial memory pages are charged on
    /// top at the per-page growth price, and the module's shape at the prices below.
    pub instantiate_base: u64,
    /// Instantiation: per function (wasmi creates a function handle for each).
    pub instantiate_function: u64,
    /// Instantiation: per import (resolved to a host function).
    pub instantiate_import: u64,
    /// Instantiation: per export.
    pub instantiate_export: u64,
    /// Instantiation: per global.
    pub instantiate_global: u64,
    /// Instantiation: per table entry (tables are allocated at their initial size).
    pub instantiate_table_entry: u64,
    /// Instantiation: per element-segment item.
    pub instantiate_element: u64,
    /// Instantiation: per data segment.
    pub instantiate_data_segment: u64,
    /// Instantiation: data-segment bytes copied into memory per unit of gas (0: free).
    pub instantiate_data_bytes_per_gas: u32,

    // ---- host functions
    /// Charged by every host function call.
    pub host_base: u64,
    /// Per byte copied between contract memory and the host (`input`, `set_return`,
    /// `call_result`, `revert`, addresses).
    pub copy_byte: u64,
    /// Storage read (`storage_get`, `storage_has`, `storage_next`), base.
    pub storage_read_base: u64,
    /// Storage read, per byte of value (or entry) the store returns: also charged by
    /// `storage_has`, which reads the value to answer.
    pub storage_read_byte: u64,
    /// `storage_next`, on top of the read base: two ordered lookups (overlay and store) and
    /// the SCALE encoding of the entry.
    pub storage_next_base: u64,
    /// `storage_next`: per entry passed over. A deletion made earlier in the block (a
    /// tombstone) costs this; an entry of the committed state that such a deletion hides costs
    /// a whole storage read on top (`storage_read_base` + its bytes).
    pub storage_skip: u64,
    /// Storage write (`storage_set`, `storage_remove`), base. Includes the Merkle commit work
    /// the write causes at the end of the block, priced at a large state (see BENCHMARKS.md).
    pub storage_write_base: u64,
    /// Storage write, per byte of value written.
    pub storage_write_byte: u64,
    /// Per byte of a storage key or `storage_next` query, for every storage function.
    pub storage_key_byte: u64,
    /// `sha256`, base.
    pub sha256_base: u64,
    /// `sha256`, per input byte.
    pub sha256_byte: u64,
    /// `blake3`, base.
    pub blake3_base: u64,
    /// `blake3`, per input byte.
    pub blake3_byte: u64,
    /// `emit_event`, base.
    pub event_base: u64,
    /// `emit_event`, per topic.
    pub event_topic: u64,
    /// `emit_event`, per byte of data.
    pub event_byte: u64,
    /// `call`, base (on top of the callee's instantiation): reading the callee's record and
    /// method table, the checkpoint and the new store.
    pub call_base: u64,
    /// `debug_log`, base. Charged whether or not logs are recorded.
    pub debug_log_base: u64,
    /// `debug_log`, per byte.
    pub debug_log_byte: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        Self::V2
    }
}

impl GasSchedule {
    /// Version 1, kept for comparisons (benchmarks that show what version 2 closed): the
    /// version-2 dimensions are free, `nop` is free and `call_indirect` costs a `call`.
    pub const V1: GasSchedule = GasSchedule {
        version: 1,
        op_load: 2,
        op_store: 2,
        op_call: 4,
        op_call_indirect: 4,
        op_div: 4,
        op_br_if: 1,
        op_br_table: 1,
        op_select: 1,
        op_global: 1,
        op_size: 1,
        op_grow: 1,
        op_table_grow: 1,
        op_bulk: 1,
        op_nop: 0,
        locals_per_gas: 0,
        memory_bytes_per_gas: 64,
        tx_base: 2_000,
        tx_byte: 2,
        deploy_base: 50_000,
        deploy_byte: 30,
        deploy_function: 0,
        deploy_local: 0,
        deploy_type: 0,
        deploy_export: 0,
        instantiate_base: 2_000,
        instantiate_function: 0,
        instantiate_import: 0,
        instantiate_export: 0,
        instantiate_global: 0,
        instantiate_table_entry: 0,
        instantiate_element: 0,
        instantiate_data_segment: 0,
        instantiate_data_bytes_per_gas: 64,
        host_base: 20,
        copy_byte: 1,
        storage_read_base: 300,
        storage_read_byte: 1,
        storage_next_base: 0,
        storage_skip: 0,
        storage_write_base: 1_000,
        storage_write_byte: 5,
        storage_key_byte: 1,
        sha256_base: 200,
        sha256_byte: 4,
        blake3_base: 200,
        blake3_byte: 2,
        event_base: 300,
        event_topic: 100,
        event_byte: 2,
        call_base: 1_000,
        debug_log_base: 100,
        debug_log_byte: 1,
    };

    /// Version 2: every price justified by the calibration suite (BENCHMARKS.md, "Gas vs
    /// time"), targeting at most 3× the wall time per gas of plain arithmetic for every cost.
    pub const V2: GasSchedule = GasSchedule {
        version: 2,
        op_load: 7,
        op_store: 2,
        op_call: 10,
        op_call_indirect: 18,
        op_div: 4,
        op_br_if: 3,
        op_br_table: 9,
        op_select: 3,
        op_global: 5,
        op_size: 11,
        op_grow: 15,
        op_table_grow: 255,
        op_bulk: 15,
        op_nop: 1,
        locals_per_gas: 4,
        memory_bytes_per_gas: 32,
        tx_base: 22_000,
        tx_byte: 2,
        deploy_base: 90_000,
        deploy_byte: 60,
        deploy_function: 200,
        deploy_local: 10,
        deploy_type: 100,
        deploy_export: 1_500,
        instantiate_base: 2_000,
        instantiate_function: 8,
        instantiate_import: 120,
        instantiate_export: 200,
        instantiate_global: 16,
        instantiate_table_entry: 1,
        instantiate_element: 4,
        instantiate_data_segment: 50,
        instantiate_data_bytes_per_gas: 16,
        host_base: 50,
        copy_byte: 1,
        storage_read_base: 300,
        storage_read_byte: 1,
        storage_next_base: 400,
        storage_skip: 100,
        storage_write_base: 20_000,
        storage_write_byte: 5,
        storage_key_byte: 1,
        sha256_base: 200,
        sha256_byte: 4,
        blake3_base: 200,
        blake3_byte: 2,
        event_base: 300,
        event_topic: 100,
        event_byte: 2,
        call_base: 1_000,
        debug_log_base: 100,
        debug_log_byte: 1,
    };

    /// The gas a `Deploy` pays for its module's shape, on top of `deploy_base` and
    /// `deploy_byte` (which the intrinsic gas includes): charged after the structural scan and
    /// before any compilation.
    pub fn deploy_shape(&self, shape: &crate::Shape) -> u64 {
        sum(&[
            per(shape.functions, self.deploy_function),
            per(shape.locals, self.deploy_local),
            per(shape.types, self.deploy_type),
            per(shape.exports, self.deploy_export),
        ])
    }

    /// The gas one instantiation of a module of this shape costs: the base, the initial
    /// memory pages and every shape dimension wasmi does work for.
    pub fn instantiation(&self, shape: &crate::Shape) -> u64 {
        sum(&[
            self.instantiate_base,
            self.memory_pages(u64::from(shape.initial_pages)),
            per(shape.functions, self.instantiate_function),
            per(shape.imports, self.instantiate_import),
            per(shape.exports, self.instantiate_export),
            per(shape.globals, self.instantiate_global),
            per(shape.table_entries, self.instantiate_table_entry),
            per(shape.element_items, self.instantiate_element),
            per(shape.data_segments, self.instantiate_data_segment),
            u64::from(shape.data_bytes)
                .checked_div(u64::from(self.instantiate_data_bytes_per_gas))
                .unwrap_or(0),
        ])
    }

    /// Gas for moving `bytes` bytes in bulk (memory growth, data-segment copies).
    pub fn bulk_bytes(&self, bytes: u64) -> u64 {
        bytes
            .checked_div(u64::from(self.memory_bytes_per_gas))
            .unwrap_or(bytes)
    }

    /// Gas for growing memory by `pages` 64 KiB pages (also charged for initial pages).
    pub fn memory_pages(&self, pages: u64) -> u64 {
        let per_page = 65_536u64
            .checked_div(u64::from(self.memory_bytes_per_gas))
            .unwrap_or(u64::MAX);
        per_page.saturating_mul(pages)
    }

    /// The wasmi per-operator cost table for this schedule.
    pub fn operator_cost(&self) -> OperatorCost {
        let mut c = OperatorCost::default();
        let l = self.op_load;
        c.i32_load = l;
        c.i64_load = l;
        c.f32_load = l;
        c.f64_load = l;
        c.i32_load8_s = l;
        c.i32_load8_u = l;
        c.i32_load16_s = l;
        c.i32_load16_u = l;
        c.i64_load8_s = l;
        c.i64_load8_u = l;
        c.i64_load16_s = l;
        c.i64_load16_u = l;
        c.i64_load32_s = l;
        c.i64_load32_u = l;
        let m = self.op_store;
        c.i32_store = m;
        c.i64_store = m;
        c.f32_store = m;
        c.f64_store = m;
        c.i32_store8 = m;
        c.i32_store16 = m;
        c.i64_store8 = m;
        c.i64_store16 = m;
        c.i64_store32 = m;
        c.call = self.op_call;
        c.call_indirect = self.op_call_indirect;
        c.nop = self.op_nop;
        c.if_ = self.op_br_if;
        c.br_if = self.op_br_if;
        c.br_table = self.op_br_table;
        c.select = self.op_select;
        c.typed_select = self.op_select;
        c.global_get = self.op_global;
        c.global_set = self.op_global;
        c.memory_size = self.op_size;
        c.table_size = self.op_size;
        c.memory_grow = self.op_grow;
        c.table_grow = self.op_table_grow;
        let b = self.op_bulk;
        c.memory_copy = b;
        c.memory_fill = b;
        c.memory_init = b;
        c.data_drop = b;
        c.table_copy = b;
        c.table_init = b;
        c.table_fill = b;
        c.elem_drop = b;
        let d = self.op_div;
        c.i32_div_s = d;
        c.i32_div_u = d;
        c.i32_rem_s = d;
        c.i32_rem_u = d;
        c.i64_div_s = d;
        c.i64_div_u = d;
        c.i64_rem_s = d;
        c.i64_rem_u = d;
        c
    }

    /// The wasmi per-byte costs for this schedule. Translation and validation happen eagerly at
    /// `Deploy` (charged as `deploy_byte`), so wasmi's lazy-translation prices never apply.
    pub fn fuel_costs(&self) -> CustomFuelCosts {
        CustomFuelCosts {
            bytes_copied_per_fuel: self.memory_bytes_per_gas.max(1),
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        }
    }
}

fn per(count: u32, price: u64) -> u64 {
    u64::from(count).saturating_mul(price)
}

/// Adds prices without overflow (a schedule with huge prices must not panic or wrap).
fn sum(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |a, b| a.saturating_add(*b))
}
