#![no_main]
//! Fuzz target `nmea`: see `tidemark_fuzzing::nmea_text`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidemark_fuzzing::nmea_text(data));
