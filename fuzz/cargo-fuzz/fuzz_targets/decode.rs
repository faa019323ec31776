#![no_main]
//! libFuzzer entry for keel_fuzz::decode, with the allocation-measuring allocator installed.

#[global_allocator]
static ALLOC: keel_fuzz::alloc_guard::TrackingAlloc = keel_fuzz::alloc_guard::TrackingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_fuzz::libfuzzer_entry(keel_fuzz::decode::run, data));
