#![no_main]
//! libFuzzer entry for keel_fuzz::tx_sequence.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_fuzz::libfuzzer_entry(keel_fuzz::tx_sequence::run, data));
