#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pond_adapters::fuzzing::run("openclaw", data));
