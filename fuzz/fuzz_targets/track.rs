#![no_main]
//! Fuzz target `track`: see `tidemark_fuzzing::track`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::track(data));
