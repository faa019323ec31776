#![no_main]
//! libFuzzer entry for keel_fuzz::state_model.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_fuzz::libfuzzer_entry(keel_fuzz::state_model::run, data));
