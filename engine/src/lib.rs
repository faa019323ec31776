//! keel-engine: metered, deterministic contract execution (under construction).
