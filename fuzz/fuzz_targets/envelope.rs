#![no_main]
//! Fuzz target `envelope`: see `tidemark_fuzzing::envelope`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::envelope(data));
