//! keel-contracts: the example contracts as wasm bytes (under construction).
