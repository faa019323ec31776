//! keel-benches: shared benchmark fixtures (under construction).
