//! File bundles: documents carried on a USB stick between a device and a relay (or another
//! device) when there is no network, and the receipt the importer writes back.
//!
//! ```text
//! bundle := "TMB" version:u8(=1) header_len:varint header:utf8-json count:varint doc{count} sha256:[32]
//! doc    := meta_len:varint meta:utf8-json data_len:varint data:bytes[data_len]
//! ```
//!
//! The trailing SHA-256 covers every byte before it. The decoder checks the magic, the version
//! and then the checksum over the whole file before it parses anything, so a damaged copy is
//! refused as a whole (`checksum_mismatch`, or `truncated` when it was cut short) and never
//! half-imported. Every length is checked against the bytes that remain before memory is
//! reserved for it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::varint;

/// First bytes of every bundle file: "TMB" (Tidemark bundle).
pub const BUNDLE_MAGIC: &[u8; 3] = b"TMB";

/// The bundle format version this crate writes and reads.
pub const BUNDLE_VERSION: u8 = 1;

/// `format` of a [`BundleHeader`].
pub const BUNDLE_FORMAT: &str = "tidemark-bundle";

/// `format` of a [`Receipt`].
pub const RECEIPT_FORMAT: &str = "tidemark-receipt";

/// Length of the trailing checksum.
const CHECKSUM_LEN: usize = 32;

/// Longest header or document meta JSON accepted, in bytes.
const MAX_JSON: usize = 1024 * 1024;

/// Who wrote a bundle, when, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Always 1 for this layout.
    pub version: u32,
    /// A unique id for this bundle; receipts refer to it.
    pub bundle_id: String,
    /// Unix seconds when it was written.
    pub created_at: i64,
    /// The unit of the device that wrote it.
    pub from_unit: String,
    /// The device that wrote it.
    pub from_device: String,
    /// The unit it is meant for, if it was written for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_unit: Option<String>,
    /// The `bundle_id` of the receipt this bundle continues from (only changes after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// What a bundle says about one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleDocMeta {
    /// The document (record) id.
    pub id: String,
    /// Its record kind (`patrol`, `info_exchange`…).
    pub kind: String,
    /// The unit that owns it.
    pub owner_unit: String,
    /// Exchange recipients or plan parties (they get the kind's default grants).
    #[serde(default)]
    pub parties: Vec<String>,
    /// Hex change hashes of the document once `data` is applied.
    pub heads: Vec<String>,
    /// Signatures of the changes in `data` that the writer has: hex change hash → hex
    /// Ed25519 signature (see [`crate::signature`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub signatures: std::collections::BTreeMap<String, String>,
}

/// One document in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleDoc {
    /// What the document is.
    pub meta: BundleDocMeta,
    /// Bytes for Automerge `load_incremental`: a full save or `save_after` chunks.
    pub data: Vec<u8>,
}

/// A decoded bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Who wrote it.
    pub header: BundleHeader,
    /// The documents, each id at most once.
    pub docs: Vec<BundleDoc>,
}

/// Size caps applied while decoding, before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Largest bundle file, in bytes.
    pub max_bytes: usize,
    /// Most documents in one bundle.
    pub max_docs: usize,
    /// Largest `data` of one document, in bytes.
    pub max_doc_bytes: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits {
            max_bytes: 1024 * 1024 * 1024,
            max_docs: 1_000_000,
            max_doc_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a file is not a usable bundle or receipt. [`BundleError::code`] is stable; the
/// `Display` text is a sentence meant for the person importing the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The file does not start with the bundle magic.
    #[error("this file is not a Tidemark bundle")]
    NotABundle,
    /// A format version this build does not read.
    #[error(
        "this bundle was written in format version {0}, which this version of Tidemark cannot \
         read; update Tidemark to import it"
    )]
    UnsupportedVersion(u32),
    /// The file is shorter than its own lengths say, or has no checksum.
    #[error(
        "the bundle is incomplete (it was cut short, perhaps while it was being copied); copy \
         it again or ask the sender for a new copy"
    )]
    Truncated,
    /// The checksum does not match the content.
    #[error(
        "the bundle is damaged or was changed after it was written (checksum mismatch); ask \
         the sender for a new copy"
    )]
    ChecksumMismatch,
    /// The checksum matches but the content is not laid out as a bundle.
    #[error("the bundle is not laid out as expected ({0}); ask the sender for a new copy")]
    Malformed(String),
    /// A cap of [`BundleLimits`] was exceeded.
    #[error("the bundle is too large to import ({0}); ask the sender to split it")]
    TooLarge(&'static str),
    /// The receipt is not valid receipt JSON.
    #[error("the receipt is damaged or incomplete ({0}); ask for a new copy")]
    MalformedReceipt(String),
    /// The JSON is not a Tidemark receipt.
    #[error("this file is not a Tidemark receipt")]
    NotAReceipt,
}

impl BundleError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::NotABundle => "not_a_bundle",
            BundleError::UnsupportedVersion(_) => "unsupported_version",
            BundleError::Truncated => "truncated",
            BundleError::ChecksumMismatch => "checksum_mismatch",
            BundleError::Malformed(_) | BundleError::MalformedReceipt(_) => "malformed",
            BundleError::TooLarge(_) => "too_large",
            BundleError::NotAReceipt => "not_a_receipt",
        }
    }
}

/// Writes a bundle file, checksum included.
pub fn encode_bundle(b: &Bundle) -> Vec<u8> {
    // Serializing these plain structs (strings, numbers, lists) cannot fail.
    let header = serde_json::to_vec(&b.header).unwrap_or_default();
    let metas: Vec<Vec<u8>> = b
        .docs
        .iter()
        .map(|d| serde_json::to_vec(&d.meta).unwrap_or_default())
        .collect();
    let size = b
        .docs
        .iter()
        .zip(&metas)
        .map(|(d, m)| d.data.len() + m.len() + 20)
        .sum::<usize>()
        + header.len()
        + 64;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(BUNDLE_MAGIC);
    out.push(BUNDLE_VERSION);
    varint::put(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    varint::put(&mut out, b.docs.len() as u64);
    for (doc, meta) in b.docs.iter().zip(&metas) {
        varint::put(&mut out, meta.len() as u64);
        out.extend_from_slice(meta);
        varint::put(&mut out, doc.data.len() as u64);
        out.extend_from_slice(&doc.data);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Hex SHA-256 of a whole bundle file: how receipts identify the exact file imported.
pub fn bundle_sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a bundle file, enforcing `limits`: magic, version, size, the checksum over the whole
/// file, and only then the content.
pub fn decode_bundle(bytes: &[u8], limits: &BundleLimits) -> Result<Bundle, BundleError> {
    check_magic(bytes)?;
    if bytes.len() > limits.max_bytes {
        return Err(BundleError::TooLarge("the file is larger than allowed"));
    }
    let Some(body_len) = bytes.len().checked_sub(CHECKSUM_LEN).filter(|n| *n >= 4) else {
        return Err(BundleError::Truncated);
    };
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        // A copy cut short fails the checksum too; say which it is when the lengths tell.
        return Err(if claims_more_than(bytes) {
            BundleError::Truncated
        } else {
            BundleError::ChecksumMismatch
        });
    }
    parse(body, limits)
}

fn check_magic(bytes: &[u8]) -> Result<(), BundleError> {
    let n = bytes.len().min(BUNDLE_MAGIC.len());
    if bytes[..n] != BUNDLE_MAGIC[..n] {
        return Err(BundleError::NotABundle);
    }
    let Some(&version) = bytes.get(3) else {
        // Empty, or a prefix of the magic: nothing to tell a bundle from.
        return Err(if bytes.is_empty() {
            BundleError::NotABundle
        } else {
            BundleError::Truncated
        });
    };
    if version != BUNDLE_VERSION {
        return Err(BundleError::UnsupportedVersion(u32::from(version)));
    }
    Ok(())
}

/// Whether the lengths written in `bytes` need more bytes than there are (checksum included).
fn claims_more_than(bytes: &[u8]) -> bool {
    let skip = |pos: &mut usize| -> Option<()> {
        let len = usize::try_from(varint::get(bytes, pos)?).ok()?;
        *pos = pos.checked_add(len)?;
        Some(())
    };
    let walked = (|| {
        let mut pos = 4;
        skip(&mut pos)?;
        let count = varint::get(bytes, &mut pos)?;
        // Each document takes at least two bytes, so this loop ends after at most len / 2
        // rounds: past the end, `varint::get` gives `None`.
        for _ in 0..count {
            skip(&mut pos)?;
            skip(&mut pos)?;
            if pos > bytes.len() {
                return None;
            }
        }
        pos.checked_add(CHECKSUM_LEN)
    })();
    walked.is_none_or(|end| end > bytes.len())
}

fn parse(body: &[u8], limits: &BundleLimits) -> Result<Bundle, BundleError> {
    let mut r = Reader {
        bytes: body,
        pos: 4,
    };
    let header: BundleHeader = r.json("header")?;
    if header.format != BUNDLE_FORMAT {
        return Err(BundleError::Malformed(
            "the header does not name the Tidemark bundle format".into(),
        ));
    }
    if header.version != u32::from(BUNDLE_VERSION) {
        return Err(BundleError::UnsupportedVersion(header.version));
    }
    let count = r.len("document count")?;
    if count > limits.max_docs {
        return Err(BundleError::TooLarge(
            "it holds more documents than allowed",
        ));
    }
    // Each document takes at least two bytes: a larger count is a lie, refused before
    // memory is reserved for it.
    if count > r.remaining() / 2 {
        return Err(BundleError::Malformed(
            "the document count exceeds the file".into(),
        ));
    }
    let mut docs = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    for _ in 0..count {
        let meta: BundleDocMeta = r.json("document meta")?;
        if meta.id.is_empty() {
            return Err(BundleError::Malformed("a document has an empty id".into()));
        }
        let len = r.len("document data length")?;
        if len > limits.max_doc_bytes {
            return Err(BundleError::TooLarge("a document is larger than allowed"));
        }
        let data = r.take(len, "document data")?.to_vec();
        if !seen.insert(meta.id.clone()) {
            return Err(BundleError::Malformed(
                "a document appears twice in the bundle".into(),
            ));
        }
        docs.push(BundleDoc { meta, data });
    }
    if r.remaining() != 0 {
        return Err(BundleError::Malformed(
            "unexpected bytes after the last document".into(),
        ));
    }
    Ok(Bundle { header, docs })
}

/// A cursor over the checksummed body.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn len(&mut self, what: &str) -> Result<usize, BundleError> {
        varint::get(self.bytes, &mut self.pos)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| BundleError::Malformed(format!("bad {what}")))
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], BundleError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| BundleError::Malformed(format!("the {what} runs past the end")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T, BundleError> {
        let len = self.len(what)?;
        if len > MAX_JSON {
            return Err(BundleError::TooLarge("a header is larger than allowed"));
        }
        let raw = self.take(len, what)?;
        serde_json::from_slice(raw).map_err(|e| BundleError::Malformed(format!("{what}: {e}")))
    }
}

/// What the importer of a bundle writes back to its sender: per document, whether it was
/// taken and the importer's heads afterwards, so the sender knows what arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The `bundle_id` of the bundle imported.
    pub bundle_id: String,
    /// [`bundle_sha256_hex`] of the exact file imported.
    pub bundle_sha256: String,
    /// Unix seconds when it was imported.
    pub imported_at: i64,
    /// The importer's unit.
    pub by_unit: String,
    /// The importing device (or `admin` on a relay).
    pub by_device: String,
    /// One entry per document of the bundle, in bundle order.
    pub documents: Vec<ReceiptDoc>,
}

/// The import result of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptDoc {
    /// The document id.
    pub id: String,
    /// `ok` or an item code (`forbidden`, `forged_author`, `bad_message`, `not_found`…).
    pub status: String,
    /// Changes newly accepted from the bundle.
    pub accepted: usize,
    /// The importer's heads (hex) for the document after the import.
    pub heads: Vec<String>,
    /// Detail for a status other than `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Receipt {
    /// Reads a receipt: `malformed` when it is not receipt JSON, `not_a_receipt` when it is
    /// JSON of another kind.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt, BundleError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::MalformedReceipt(e.to_string()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(RECEIPT_FORMAT) {
            return Err(BundleError::NotAReceipt);
        }
        let receipt: Receipt = serde_json::from_value(value)
            .map_err(|e| BundleError::MalformedReceipt(e.to_string()))?;
        if receipt.version != 1 {
            return Err(BundleError::MalformedReceipt(format!(
                "receipt version {} is not one this version of Tidemark reads",
                receipt.version
            )));
        }
        Ok(receipt)
    }

    /// The receipt as pretty-printed JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing this plain struct (strings, numbers, lists) cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
