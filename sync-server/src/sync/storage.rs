//! A document as the relay stores it: loaded from its chunks, taken from the cache at a
//! version, and the chunk a sync adds (or the compacted save that replaces them).

use automerge::{AutoCommit, LoadOptions, TextEncoding};

use super::{ItemError, COMPACT_AFTER_CHUNKS};
use crate::cache::DocCache;
use crate::db::Db;

/// The bytes to store for a fork's new changes, and the document's stored size after.
pub(crate) struct Chunk {
    /// `None` when there is nothing new.
    pub(crate) bytes: Option<Vec<u8>>,
    /// Whether `bytes` is a full save replacing every stored chunk.
    pub(crate) compact: bool,
    /// Stored size after writing it.
    pub(crate) stored: usize,
}

/// Every accepted change set adds a chunk; past a threshold the document is rewritten as one
/// compacted save in the same transaction, so loading stays one short read.
pub(crate) fn chunk_for(
    db: &Db,
    doc_id: &str,
    fork: &mut AutoCommit,
    before: &[automerge::ChangeHash],
    accepted: usize,
    stored: usize,
) -> Result<Chunk, ItemError> {
    let compact = accepted > 0 && db.chunk_count(doc_id)? + 1 >= COMPACT_AFTER_CHUNKS;
    let bytes = match (accepted > 0, compact) {
        (false, _) => None,
        (true, false) => Some(fork.save_after(before)),
        (true, true) => Some(fork.save()),
    };
    let stored = match (&bytes, compact) {
        (Some(c), true) => c.len(),
        (Some(c), false) => stored + c.len(),
        (None, _) => stored,
    };
    Ok(Chunk {
        bytes,
        compact,
        stored,
    })
}

/// A document's heads as hex.
pub(crate) fn hex_heads(doc: &mut AutoCommit) -> Vec<String> {
    doc.get_heads().iter().map(|h| h.to_string()).collect()
}

/// A document taken for one item.
pub(crate) struct Taken {
    /// The document (empty when the relay has no changes for it yet).
    pub(crate) doc: AutoCommit,
    /// Its stored size.
    pub(crate) stored: usize,
    /// Its stored version ([`Db::doc_version`]).
    pub(crate) version: i64,
    /// Whether it was loaded from storage rather than found in the cache.
    pub(crate) loaded: bool,
}

/// Takes a document out of the cache if it is still at its stored version, else loads it.
pub(crate) fn take_doc(db: &Db, cache: &mut DocCache, doc_id: &str) -> Result<Taken, ItemError> {
    take_doc_at(db, cache, doc_id, db.doc_version(doc_id)?)
}

/// [`take_doc`] for a caller that has just read the stored `version`.
pub(super) fn take_doc_at(
    db: &Db,
    cache: &mut DocCache,
    doc_id: &str,
    version: i64,
) -> Result<Taken, ItemError> {
    if let Some((doc, stored)) = cache.take(doc_id, version) {
        return Ok(Taken {
            doc,
            stored,
            version,
            loaded: false,
        });
    }
    let (doc, stored) = load(db, doc_id)?;
    Ok(Taken {
        doc,
        stored,
        version,
        loaded: true,
    })
}

/// Loads a document from its chunks (empty when it has none yet), strictly, with its stored
/// size.
pub(super) fn load(db: &Db, doc_id: &str) -> Result<(AutoCommit, usize), ItemError> {
    let bytes = db.load_chunks(doc_id)?;
    if bytes.is_empty() {
        return Ok((AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit), 0));
    }
    let options = LoadOptions::new()
        .text_encoding(TextEncoding::Utf8CodeUnit)
        .on_partial_load(automerge::OnPartialLoad::Error);
    let doc = AutoCommit::load_with_options(&bytes, options).map_err(|e| {
        tracing::error!(doc = doc_id, error = %e, "stored document does not load");
        ItemError("corrupt_document", "the relay's copy does not load".into())
    })?;
    Ok((doc, bytes.len()))
}
