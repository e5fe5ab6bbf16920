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
pub mod compression;
mod envelope;
pub mod presume;
mod response;
pub mod resume;
pub mod signature;
mod varint;

pub use bundle::{
    bundle_sha256_hex, decode_bundle, encode_bundle, Bundle, BundleDoc, BundleDocMeta, BundleError,
    BundleHeader, BundleLimits, Receipt, ReceiptDoc, BUNDLE_FORMAT, BUNDLE_MAGIC, BUNDLE_VERSION,
    RECEIPT_FORMAT,
};
pub use envelope::{
    decode, encode, encoded_len, DocMessage, Envelope, EnvelopeError, Limits, MAGIC,
    OLDEST_VERSION, VERSION,
};
pub use response::{
    decode_response, decode_session, encode_response, encode_session, MAX_STATUS, RESPONSE_MAGIC,
    SESSION_MAGIC,
};
pub use signature::{ChangeSignature, SigningKey, Verdict};
