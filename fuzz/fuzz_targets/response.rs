#![no_main]
//! Fuzz target `response`: see `tidemark_fuzzing::response`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::response(data));
