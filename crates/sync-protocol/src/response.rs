//! A JSON document beside an envelope, in one body: the reply to a batched sync request (a
//! per-item status and the reply messages) and the session request (what the device asks for
//! besides its sync messages). The JSON is opaque here.
//!
//! ```text
//! response := "TMR" version:u8(=2; 1 is read) status_len:varint status:utf8-json[status_len] envelope
//! session  := "TMQ" version:u8(=2)             header_len:varint header:utf8-json[header_len] envelope
//! ```

use crate::envelope::{decode, encode, Envelope, EnvelopeError, Limits, OLDEST_VERSION, VERSION};
use crate::varint;

/// First bytes of every sync response: "TMR" (Tidemark reply).
pub const RESPONSE_MAGIC: &[u8; 3] = b"TMR";

/// First bytes of every session request: "TMQ" (Tidemark query).
pub const SESSION_MAGIC: &[u8; 3] = b"TMQ";

/// Largest status document accepted by [`decode_response`], in bytes.
pub const MAX_STATUS: usize = 16 * 1024 * 1024;

/// Encodes a sync response from its status JSON bytes and reply envelope.
pub fn encode_response(status: &[u8], replies: &Envelope) -> Vec<u8> {
    encode_framed(RESPONSE_MAGIC, status, replies)
}

/// Decodes a sync response into (status JSON bytes, reply envelope).
pub fn decode_response(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Vec<u8>, Envelope), EnvelopeError> {
    decode_framed(RESPONSE_MAGIC, bytes, limits)
}

/// Encodes a session request from its header JSON bytes and the device's sync messages.
pub fn encode_session(header: &[u8], messages: &Envelope) -> Vec<u8> {
    encode_framed(SESSION_MAGIC, header, messages)
}

/// Decodes a session request into (header JSON bytes, the device's sync messages).
pub fn decode_session(bytes: &[u8], limits: &Limits) -> Result<(Vec<u8>, Envelope), EnvelopeError> {
    decode_framed(SESSION_MAGIC, bytes, limits)
}

fn encode_framed(magic: &[u8; 3], status: &[u8], replies: &Envelope) -> Vec<u8> {
    let body = encode(replies);
    let mut out = Vec::with_capacity(16 + status.len() + body.len());
    out.extend_from_slice(magic);
    out.push(VERSION);
    varint::put(&mut out, status.len() as u64);
    out.extend_from_slice(status);
    out.extend_from_slice(&body);
    out
}

fn decode_framed(
    magic: &[u8; 3],
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Vec<u8>, Envelope), EnvelopeError> {
    if bytes.len() < 4 || &bytes[..3] != magic {
        return Err(EnvelopeError::BadMagic);
    }
    if !(OLDEST_VERSION..=VERSION).contains(&bytes[3]) {
        return Err(EnvelopeError::UnsupportedVersion(bytes[3]));
    }
    let mut pos = 4;
    let len = varint::get(bytes, &mut pos)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or(EnvelopeError::Malformed(4))?;
    if len > MAX_STATUS {
        return Err(EnvelopeError::TooLarge("status document too large"));
    }
    let end = pos
        .checked_add(len)
        .filter(|e| *e <= bytes.len())
        .ok_or(EnvelopeError::Malformed(pos))?;
    let status = bytes[pos..end].to_vec();
    let env = decode(&bytes[end..], limits)?;
    Ok((status, env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocMessage;

    #[test]
    fn response_round_trips_and_truncations_fail() {
        let env = Envelope {
            items: vec![DocMessage::new("patrol:TT:1", vec![1, 2, 3])],
        };
        let status = br#"{"items":[]}"#;
        let bytes = encode_response(status, &env);
        assert_eq!(
            decode_response(&bytes, &Limits::default()),
            Ok((status.to_vec(), env))
        );
        for cut in 0..bytes.len() {
            assert!(decode_response(&bytes[..cut], &Limits::default()).is_err());
        }
    }

    #[test]
    fn a_session_request_is_not_a_response_and_round_trips() {
        let env = Envelope {
            items: vec![DocMessage::new("patrol:TT:1", vec![4, 5])],
        };
        let header =
            r#"{"feed":{"since":0,"keys":0},"create":[],"receipts":[],"note":"Đồn Biên phòng"}"#;
        let bytes = encode_session(header.as_bytes(), &env);
        assert_eq!(
            decode_session(&bytes, &Limits::default()),
            Ok((header.as_bytes().to_vec(), env))
        );
        assert_eq!(
            decode_response(&bytes, &Limits::default()),
            Err(EnvelopeError::BadMagic)
        );
        for cut in 0..bytes.len() {
            assert!(decode_session(&bytes[..cut], &Limits::default()).is_err());
        }
    }
}
