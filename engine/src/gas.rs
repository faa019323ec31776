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
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GasSchedule {
    /// Bumped on every change to any price.
    pub version: u32,

    // ---- wasm execution
    // An ordinary wasm operator (arithmetic, locals, constants, branches) costs 1: that is the
    // unit of gas. Structural operators (`block`, `loop`, `end`, `else`, `nop`, `drop`,
    // `return`, `unreachable`) are free, as in wasmi's default table.
    /// Cost of a load or store.
    pub op_memory: u8,
    /// Cost of `call` and `call_indirect` (on top of the callee's own operators).
    pub op_call: u8,
    /// Cost of integer division and remainder.
    pub op_div: u8,
    /// Bytes per unit of gas for `memory.grow/copy/fill/init` and `table.*` bulk work.
    /// Memory growth therefore costs `65536 / memory_bytes_per_gas` per page.
    pub memory_bytes_per_gas: u32,

    // ---- transactions
    /// Every transaction that executes (not `Invalid`).
    pub tx_base: u64,
    /// Per byte of the action's payload (code, args, method name, salt).
    pub tx_byte: u64,
    /// `Deploy`: validation, compilation and storage of the code, base.
    pub deploy_base: u64,
    /// `Deploy`: per byte of code (validation + compilation + storage).
    pub deploy_byte: u64,
    /// Every instantiation of a module (top-level frame and each nested call), regardless of
    /// whether the compiled module came from the cache. Initial memory pages are charged on
    /// top at the per-page growth price.
    pub instantiate_base: u64,

    // ---- host functions
    /// Charged by every host function call.
    pub host_base: u64,
    /// Per byte copied between contract memory and the host (`input`, `set_return`,
    /// `call_result`, `revert`, addresses).
    pub copy_byte: u64,
    /// Storage read (`storage_get`, `storage_has`, `storage_next`), base.
    pub storage_read_base: u64,
    /// Storage read, per byte of value (or entry) returned.
    pub storage_read_byte: u64,
    /// Storage write (`storage_set`, `storage_remove`), base.
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
    /// `call`, base (on top of the callee's instantiation).
    pub call_base: u64,
    /// `debug_log`, base. Charged whether or not logs are recorded.
    pub debug_log_base: u64,
    /// `debug_log`, per byte.
    pub debug_log_byte: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        Self::V1
    }
}

impl GasSchedule {
    /// Version 1. Roughly calibrated so that 1 gas ≈ 1 ns of wasmi work on a 2-core Xeon:
    /// an ordinary operator is 1, a storage read of a hot key about 300, a write about 500
    /// plus the tree work it causes at commit.
    pub const V1: GasSchedule = GasSchedule {
        version: 1,
        op_memory: 2,
        op_call: 4,
        op_div: 4,
        memory_bytes_per_gas: 64,
        tx_base: 2_000,
        tx_byte: 2,
        deploy_base: 50_000,
        deploy_byte: 30,
        instantiate_base: 2_000,
        host_base: 20,
        copy_byte: 1,
        storage_read_base: 300,
        storage_read_byte: 1,
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
        let m = self.op_memory;
        c.i32_load = m;
        c.i64_load = m;
        c.f32_load = m;
        c.f64_load = m;
        c.i32_load8_s = m;
        c.i32_load8_u = m;
        c.i32_load16_s = m;
        c.i32_load16_u = m;
        c.i64_load8_s = m;
        c.i64_load8_u = m;
        c.i64_load16_s = m;
        c.i64_load16_u = m;
        c.i64_load32_s = m;
        c.i64_load32_u = m;
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
        c.call_indirect = self.op_call;
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
