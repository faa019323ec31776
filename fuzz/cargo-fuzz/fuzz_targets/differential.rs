#![no_main]
//! libFuzzer entry for keel_fuzz::differential.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_fuzz::libfuzzer_entry(keel_fuzz::differential::run, data));
