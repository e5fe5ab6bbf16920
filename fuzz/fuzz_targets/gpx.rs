#![no_main]
//! Fuzz target `gpx`: see `tidemark_fuzzing::gpx_text`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::gpx_text(data));
