//! keel-sdk: write Keel contracts in Rust (under construction).
#![no_std]
