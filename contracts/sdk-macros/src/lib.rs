//! keel-sdk-macros: the `#[contract]` macro (under construction).
