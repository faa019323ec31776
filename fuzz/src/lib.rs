//! keel-fuzz: fuzz target logic (under construction).
