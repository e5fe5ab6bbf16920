//! How sync bodies are compressed, for requests and responses alike: zstd at a level chosen by
//! size, and a session answer optionally compressed with its own request as the dictionary.

/// The zstd level for a body of `len` bytes. A weak link pays for every byte (at 9.6 kbit/s,
/// 100 bytes are 83 ms) while a small body costs little to squeeze hard: a station's day of
/// changes (11 KB) is 7 % smaller at level 19 than at 3, in about 3 ms. Large bodies (a new
/// device's first pull) keep the fast level.
pub fn zstd_level(len: usize) -> i32 {
    match len {
        0..=16_384 => 19,
        16_385..=131_072 => 12,
        _ => 3,
    }
}

/// Header by which a session request offers its own body (as sent, before compression) as the
/// zstd dictionary of the answer, and by which the relay says it used it: what the answer
/// repeats of the request (document ids, the heads just sent) then costs next to nothing.
pub const DICTIONARY_HEADER: &str = "tidemark-dictionary";

/// The header's one value: the request's own body.
pub const DICTIONARY_REQUEST: &str = "request";

/// Whether a [`DICTIONARY_HEADER`] value names the request's body.
pub fn names_request(value: &[u8]) -> bool {
    value.eq_ignore_ascii_case(DICTIONARY_REQUEST.as_bytes())
}
