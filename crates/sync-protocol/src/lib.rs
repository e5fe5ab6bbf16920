//! The sync wire format, sans IO: a versioned envelope that carries one `automerge::sync`
//! message for each of many documents, so one request serves a whole batch (architecture
//! decision 6). Bytes in, bytes out; malformed bytes give an [`EnvelopeError`], never a panic.
//!
//! The relay issue builds the session logic and HTTP endpoints on top of this; see
//! `docs/protocol.md` for the layout.

mod envelope;
mod response;
mod varint;

pub use envelope::{decode, encode, DocMessage, Envelope, EnvelopeError, Limits, MAGIC, VERSION};
pub use response::{decode_response, encode_response, MAX_STATUS, RESPONSE_MAGIC};
