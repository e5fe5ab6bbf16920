//! The envelope: `MAGIC`, version, then the items, each a document id, a message and (since
//! version 2) the signatures of the changes in that message.

use crate::signature::{ChangeSignature, HASH_LEN, SIGNATURE_LEN};
use crate::varint;

/// First bytes of every envelope: "TMS" (Tidemark sync).
pub const MAGIC: &[u8; 3] = b"TMS";

/// The protocol version this crate writes. Version 1 (no signatures) is still read.
pub const VERSION: u8 = 2;

/// The oldest version this crate reads.
pub const OLDEST_VERSION: u8 = 1;

/// Bytes of one signature on the wire: hash then signature.
const SIGNATURE_WIRE: usize = HASH_LEN + SIGNATURE_LEN;

/// One document's sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMessage {
    /// The document (record) id.
    pub doc_id: String,
    /// An encoded `automerge::sync::Message` (opaque here).
    pub message: Vec<u8>,
    /// Signatures of the changes the message carries (the sender sends what it has).
    pub signatures: Vec<ChangeSignature>,
}

impl DocMessage {
    /// A message with no signatures.
    pub fn new(doc_id: impl Into<String>, message: Vec<u8>) -> DocMessage {
        DocMessage {
            doc_id: doc_id.into(),
            message,
            signatures: Vec::new(),
        }
    }
}

/// A batch of sync messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The messages, at most one per document.
    pub items: Vec<DocMessage>,
}

/// Size caps applied while decoding, before anything is allocated for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most items in one envelope.
    pub max_items: usize,
    /// Largest single message, in bytes.
    pub max_message: usize,
    /// Longest document id, in bytes.
    pub max_doc_id: usize,
    /// Most signatures with one message.
    pub max_signatures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_items: 10_000,
            max_message: 16 * 1024 * 1024,
            max_doc_id: 256,
            max_signatures: 1_000_000,
        }
    }
}

/// Why bytes are not a valid envelope. Each variant has a stable code for error responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not a Tidemark envelope at all.
    #[error("not a Tidemark sync envelope")]
    BadMagic,
    /// A version this build does not speak.
    #[error("unsupported protocol version {0} (this build speaks {VERSION})")]
    UnsupportedVersion(u8),
    /// The bytes end early or a length is malformed.
    #[error("envelope truncated or malformed at byte {0}")]
    Malformed(usize),
    /// A cap of [`Limits`] was exceeded.
    #[error("envelope exceeds a limit: {0}")]
    TooLarge(&'static str),
    /// A document id is not UTF-8 or is empty.
    #[error("item {0} has an invalid document id")]
    BadDocId(usize),
    /// The same document appears twice.
    #[error("document `{0}` appears twice in one envelope")]
    DuplicateDoc(String),
    /// Bytes follow the last item.
    #[error("unexpected bytes after the last item")]
    TrailingBytes,
}

impl EnvelopeError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::BadMagic => "bad_magic",
            EnvelopeError::UnsupportedVersion(_) => "unsupported_version",
            EnvelopeError::Malformed(_) => "malformed",
            EnvelopeError::TooLarge(_) => "too_large",
            EnvelopeError::BadDocId(_) => "bad_doc_id",
            EnvelopeError::DuplicateDoc(_) => "duplicate_doc",
            EnvelopeError::TrailingBytes => "trailing_bytes",
        }
    }
}

/// Encodes an envelope.
pub fn encode(env: &Envelope) -> Vec<u8> {
    let size: usize = env
        .items
        .iter()
        .map(|i| i.doc_id.len() + i.message.len() + 12 + i.signatures.len() * SIGNATURE_WIRE)
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    varint::put(&mut out, env.items.len() as u64);
    for item in &env.items {
        varint::put(&mut out, item.doc_id.len() as u64);
        out.extend_from_slice(item.doc_id.as_bytes());
        varint::put(&mut out, item.message.len() as u64);
        out.extend_from_slice(&item.message);
        varint::put(&mut out, item.signatures.len() as u64);
        for sig in &item.signatures {
            out.extend_from_slice(&sig.hash);
            out.extend_from_slice(&sig.sig);
        }
    }
    out
}

/// The bytes `item` takes in an encoded envelope. The items are encoded one after another, as
/// the envelope's last bytes and in its order, each the same whatever comes before or after
/// it: an answer can find an item's bytes by counting back from its end.
pub fn encoded_len(item: &DocMessage) -> usize {
    varint::len(item.doc_id.len() as u64)
        + item.doc_id.len()
        + varint::len(item.message.len() as u64)
        + item.message.len()
        + varint::len(item.signatures.len() as u64)
        + item.signatures.len() * SIGNATURE_WIRE
}

/// Decodes an envelope, enforcing `limits`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Envelope, EnvelopeError> {
    if bytes.len() < 4 || &bytes[..3] != MAGIC {
        return Err(EnvelopeError::BadMagic);
    }
    let version = bytes[3];
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    let mut pos = 4;
    let count = read_len(bytes, &mut pos)?;
    if count > limits.max_items {
        return Err(EnvelopeError::TooLarge("too many documents in one request"));
    }
    // Every item takes at least two bytes, so a count beyond that is a lie: refuse it before
    // reserving memory for it.
    if count > (bytes.len() - pos) / 2 {
        return Err(EnvelopeError::Malformed(pos));
    }
    let mut items = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::with_capacity(count);
    for index in 0..count {
        let id_len = read_len(bytes, &mut pos)?;
        if id_len == 0 || id_len > limits.max_doc_id {
            return Err(EnvelopeError::BadDocId(index));
        }
        let id = take(bytes, &mut pos, id_len)?;
        let doc_id = std::str::from_utf8(id)
            .map_err(|_| EnvelopeError::BadDocId(index))?
            .to_string();
        let msg_len = read_len(bytes, &mut pos)?;
        if msg_len > limits.max_message {
            return Err(EnvelopeError::TooLarge(
                "a sync message is larger than allowed",
            ));
        }
        let message = take(bytes, &mut pos, msg_len)?.to_vec();
        let signatures = if version >= 2 {
            read_signatures(bytes, &mut pos, limits)?
        } else {
            Vec::new()
        };
        if !seen.insert(doc_id.clone()) {
            return Err(EnvelopeError::DuplicateDoc(doc_id));
        }
        items.push(DocMessage {
            doc_id,
            message,
            signatures,
        });
    }
    if pos != bytes.len() {
        return Err(EnvelopeError::TrailingBytes);
    }
    Ok(Envelope { items })
}

fn read_signatures(
    bytes: &[u8],
    pos: &mut usize,
    limits: &Limits,
) -> Result<Vec<ChangeSignature>, EnvelopeError> {
    let at = *pos;
    let count = read_len(bytes, pos)?;
    if count > limits.max_signatures {
        return Err(EnvelopeError::TooLarge(
            "too many signatures with one message",
        ));
    }
    if count > (bytes.len() - *pos) / SIGNATURE_WIRE {
        return Err(EnvelopeError::Malformed(at));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let raw = take(bytes, pos, SIGNATURE_WIRE)?;
        let mut sig = ChangeSignature {
            hash: [0; HASH_LEN],
            sig: [0; SIGNATURE_LEN],
        };
        sig.hash.copy_from_slice(&raw[..HASH_LEN]);
        sig.sig.copy_from_slice(&raw[HASH_LEN..]);
        out.push(sig);
    }
    Ok(out)
}

fn read_len(bytes: &[u8], pos: &mut usize) -> Result<usize, EnvelopeError> {
    let at = *pos;
    varint::get(bytes, pos)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or(EnvelopeError::Malformed(at))
}

fn take<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8], EnvelopeError> {
    let end = pos
        .checked_add(len)
        .filter(|e| *e <= bytes.len())
        .ok_or(EnvelopeError::Malformed(*pos))?;
    let slice = &bytes[*pos..end];
    *pos = end;
    Ok(slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Envelope {
        Envelope {
            items: vec![
                DocMessage {
                    doc_id: "patrol:TT:20250101:01".into(),
                    message: vec![0x42, 1, 2, 3],
                    signatures: vec![ChangeSignature {
                        hash: [3; HASH_LEN],
                        sig: [4; SIGNATURE_LEN],
                    }],
                },
                DocMessage::new("plan:item:Đồn-Kiểng-Phước", Vec::new()),
            ],
        }
    }

    #[test]
    fn envelope_round_trips_with_vietnamese_ids() {
        let env = sample();
        assert_eq!(decode(&encode(&env), &Limits::default()), Ok(env));
    }

    #[test]
    fn wire_layout_is_stable() {
        let env = Envelope {
            items: vec![DocMessage::new("a", vec![9, 8])],
        };
        assert_eq!(
            encode(&env),
            vec![b'T', b'M', b'S', 2, 1, 1, b'a', 2, 9, 8, 0]
        );
        // Version 1 (no signature count) is still read.
        assert_eq!(
            decode(
                &[b'T', b'M', b'S', 1, 1, 1, b'a', 2, 9, 8],
                &Limits::default()
            ),
            Ok(env)
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut], &Limits::default()).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn wrong_version_and_magic_are_named() {
        let mut bytes = encode(&sample());
        bytes[3] = 3;
        assert_eq!(
            decode(&bytes, &Limits::default()),
            Err(EnvelopeError::UnsupportedVersion(3))
        );
        assert_eq!(
            decode(b"GET / HTTP/1.1", &Limits::default()),
            Err(EnvelopeError::BadMagic)
        );
    }

    #[test]
    fn limits_are_enforced_before_allocation() {
        let bytes = encode(&sample());
        let tight = Limits {
            max_items: 1,
            ..Limits::default()
        };
        assert_eq!(
            decode(&bytes, &tight).map_err(|e| e.code()),
            Err("too_large")
        );
        let small = Limits {
            max_message: 3,
            ..Limits::default()
        };
        assert_eq!(
            decode(&bytes, &small).map_err(|e| e.code()),
            Err("too_large")
        );
        // A count of 2^40 items in a 10-byte body.
        let mut lie = b"TMS\x02".to_vec();
        varint::put(&mut lie, 1 << 40);
        let huge = Limits {
            max_items: usize::MAX,
            ..Limits::default()
        };
        assert!(decode(&lie, &huge).is_err());
    }

    #[test]
    fn duplicates_and_trailing_bytes_are_refused() {
        let mut env = sample();
        env.items.push(env.items[0].clone());
        assert_eq!(
            decode(&encode(&env), &Limits::default()).map_err(|e| e.code()),
            Err("duplicate_doc")
        );
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(
            decode(&bytes, &Limits::default()),
            Err(EnvelopeError::TrailingBytes)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, &Limits::default());
            let mut with_header = b"TMS\x02".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = decode(&with_header, &Limits::default());
        }

        #[test]
        fn any_envelope_round_trips(items in proptest::collection::btree_map("[a-zđĐ:0-9-]{1,40}", proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let env = Envelope { items: items.into_iter().map(|(doc_id, message)| {
                let signatures = message.iter().map(|b| ChangeSignature { hash: [*b; HASH_LEN], sig: [b.wrapping_add(1); SIGNATURE_LEN] }).collect();
                DocMessage { doc_id, message, signatures }
            }).collect() };
            prop_assert_eq!(decode(&encode(&env), &Limits::default()), Ok(env));
        }

        /// Counting back from the end by `encoded_len` finds each item's bytes: the same bytes
        /// as that item alone in an envelope. Messages up to 300 bytes, so that lengths take
        /// one varint byte or two.
        #[test]
        fn items_are_found_counting_back_from_the_end(items in proptest::collection::btree_map("[a-zđĐ:0-9-]{1,40}", proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let env = Envelope { items: items.into_iter().map(|(doc_id, message)| {
                let signatures = message.iter().take(3).map(|b| ChangeSignature { hash: [*b; HASH_LEN], sig: [*b; SIGNATURE_LEN] }).collect();
                DocMessage { doc_id, message, signatures }
            }).collect() };
            let bytes = encode(&env);
            let mut end = bytes.len();
            for item in env.items.iter().rev() {
                let start = end - encoded_len(item);
                let alone = encode(&Envelope { items: vec![item.clone()] });
                // An envelope of one item: magic, version, the count (1: one byte), the item.
                prop_assert_eq!(&bytes[start..end], &alone[5..]);
                end = start;
            }
            prop_assert_eq!(end, 4 + crate::varint::len(env.items.len() as u64));
        }
    }
}
