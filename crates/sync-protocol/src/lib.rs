//! The sync wire format, sans IO: a versioned envelope that carries one `automerge::sync`
//! message for each of many documents, so one request serves a whole batch (architecture
//! decision 6), and the file bundle that carries documents on a USB stick, with the receipt its
//! importer writes back. Bytes in, bytes out; malformed bytes give an [`EnvelopeError`] or a
//! [`BundleError`], never a panic.
//!
//! The relay builds the session logic and HTTP endpoints on top of this; see
//! `docs/protocol.md` for the layouts.

pub mod attachment;
mod bundle;
mod envelope;
pub mod presume;
mod response;
pub mod signature;
mod varint;

pub use bundle::{
    bundle_sha256_hex, decode_bundle, encode_bundle, Bundle, BundleDoc, BundleDocMeta, BundleError,
    BundleHeader, BundleLimits, Receipt, ReceiptDoc, BUNDLE_FORMAT, BUNDLE_MAGIC, BUNDLE_VERSION,
    RECEIPT_FORMAT,
};
pub use envelope::{
    decode, encode, DocMessage, Envelope, EnvelopeError, Limits, MAGIC, OLDEST_VERSION, VERSION,
};
pub use response::{
    decode_response, decode_session, encode_response, encode_session, MAX_STATUS, RESPONSE_MAGIC,
    SESSION_MAGIC,
};
pub use signature::{ChangeSignature, SigningKey, Verdict};

/// The zstd level for a body of `len` bytes, for requests and responses alike. A weak link
/// pays for every byte (at 9.6 kbit/s, 100 bytes are 83 ms) while a small body costs little
/// to squeeze hard: a station's day of changes (11 KB) is 7 % smaller at level 19 than at 3,
/// in about 3 ms. Large bodies (a new device's first pull) keep the fast level.
pub fn zstd_level(len: usize) -> i32 {
    match len {
        0..=16_384 => 19,
        16_385..=131_072 => 12,
        _ => 3,
    }
}
