#![no_main]
//! Fuzz target `interchange`: see `tidemark_fuzzing::interchange`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::interchange(data));
