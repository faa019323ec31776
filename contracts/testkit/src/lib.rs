//! keel-testkit: run contracts locally (under construction).
