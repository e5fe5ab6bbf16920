#![no_main]
//! Fuzz target `bundle`: see `tidemark_fuzzing::bundle`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::bundle(data));
