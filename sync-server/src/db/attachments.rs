//! Attachments: manifests, chunks, the unit each is charged to, and the references documents
//! make to them (replaced in the transaction that persists a document's changes).
//!
//! Every chunk is checked against the manifest before it is stored; when the last one is in,
//! the whole file's SHA-256 is checked against its address and a mismatch drops it all.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tidemark_sync_protocol::attachment::{chunk_range, sha256_hex, Manifest, CHUNK_SIZE};

use super::{now, Access, Db, Device};
use crate::error::AppError;

/// An attachment as the relay holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    /// What the uploader declared.
    pub manifest: Manifest,
    /// Whether every chunk is in and the whole file checked.
    pub complete: bool,
}

/// The answer to starting (or resuming) an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadState {
    /// Whether the relay has the whole file.
    pub complete: bool,
    /// The chunk size ([`CHUNK_SIZE`]).
    pub chunk_size: u64,
    /// Indexes of the chunks the relay holds.
    pub have: Vec<u64>,
}

/// The answer to one stored chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkState {
    /// Whether the relay now has the whole file.
    pub complete: bool,
    /// How many chunks the relay holds.
    pub received: u64,
}

impl Db {
    /// The most `unit` may do with any document referencing `hash` (`None` when none does).
    pub fn attachment_access(&self, unit: &str, hash: &str) -> Result<Access, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id FROM attachment_refs WHERE hash = ?1")?;
        let docs = stmt
            .query_map([hash], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut best = Access::None;
        for id in docs {
            if let Some(meta) = self.doc_meta(&id)? {
                best = best.max(self.access(unit, &meta)?);
            }
            if best == Access::Write {
                break;
            }
        }
        Ok(best)
    }

    /// The attachment stored under `hash`, if an upload of it was started.
    pub fn attachment(&self, hash: &str) -> Result<Option<StoredAttachment>, AppError> {
        stored(&self.conn, hash)
    }

    /// The content addresses a document refers to, as last persisted.
    pub fn attachment_refs(&self, doc_id: &str) -> Result<BTreeSet<String>, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM attachment_refs WHERE doc_id = ?1")?;
        let rows = stmt.query_map([doc_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The documents stored before attachments existed whose references were never read.
    pub fn docs_without_refs(&self) -> Result<Vec<String>, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id FROM attachment_refs_pending ORDER BY doc_id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets the references of a document (read outside a sync or import) in one transaction.
    pub fn set_attachment_refs(
        &self,
        doc_id: &str,
        refs: &BTreeSet<String>,
    ) -> Result<(), AppError> {
        let tx = self.write()?;
        replace_refs(&tx, doc_id, refs)?;
        tx.commit()?;
        Ok(())
    }

    /// Bytes of attachments charged to `unit`, complete or not.
    pub fn attachment_bytes(&self, unit: &str) -> Result<u64, AppError> {
        charged(&self.conn, unit, "")
    }

    /// Starts or resumes the upload of `hash` for `device` (its unit is charged). A complete
    /// attachment is never replaced and costs nothing; an incomplete one with the same manifest
    /// is resumed; one with another manifest starts over. `quota_exceeded` when the unit's
    /// attachments would pass `quota` bytes.
    pub fn begin_attachment(
        &self,
        device: &Device,
        hash: &str,
        manifest: &Manifest,
        quota: u64,
    ) -> Result<UploadState, AppError> {
        let tx = self.write()?;
        let state = match stored(&tx, hash)? {
            Some(s) if s.complete => upload_state(&s.manifest, true, every_chunk(&s.manifest)),
            Some(s) if s.manifest == *manifest => upload_state(manifest, false, have(&tx, hash)?),
            previous => {
                let used = charged(&tx, &device.unit, hash)?;
                if used.saturating_add(manifest.size) > quota {
                    return Err(AppError::QuotaExceeded(format!(
                        "this unit's attachments would pass its quota ({used} of {quota} bytes \
                         used); ask the administrator to raise attachment_quota_bytes"
                    )));
                }
                if previous.is_some() {
                    drop_attachment(&tx, hash)?;
                }
                insert(&tx, device, hash, manifest)?
            }
        };
        tx.commit()?;
        Ok(state)
    }

    /// Stores chunk `index` of `hash`, whose SHA-256 (hex) the caller computed as `digest`.
    /// Refused (`chunk_mismatch`, nothing stored) unless its length and hash are the
    /// manifest's; storing it again is harmless. With the last chunk in, the whole file is
    /// checked: on a mismatch every chunk and the upload are dropped (`file_mismatch`).
    pub fn put_attachment_chunk(
        &self,
        hash: &str,
        index: u64,
        bytes: &[u8],
        digest: &str,
    ) -> Result<ChunkState, AppError> {
        let tx = self.write()?;
        let s = stored(&tx, hash)?.ok_or(AppError::NotFound {
            what: "attachment upload",
        })?;
        check_chunk(&s.manifest, index, bytes.len() as u64, digest)?;
        let total = s.manifest.chunks.len() as u64;
        if s.complete {
            return Ok(ChunkState {
                complete: true,
                received: total,
            });
        }
        tx.prepare_cached(
            "INSERT OR IGNORE INTO attachment_chunks (hash, idx, data) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![hash, index as i64, bytes])?;
        let received = received(&tx, hash)?;
        let complete = received == total;
        if complete {
            if whole_sha256(&tx, hash)? != hash {
                drop_attachment(&tx, hash)?;
                tx.commit()?;
                return Err(file_mismatch());
            }
            tx.prepare_cached("UPDATE attachments SET complete = 1 WHERE hash = ?1")?
                .execute([hash])?;
        }
        tx.commit()?;
        Ok(ChunkState { complete, received })
    }

    /// Bytes `[start, end)` of the complete attachment `hash` of `size` bytes, read from the
    /// chunks that cover them only.
    pub fn attachment_bytes_range(
        &self,
        hash: &str,
        size: u64,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, AppError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, data FROM attachment_chunks
             WHERE hash = ?1 AND idx BETWEEN ?2 AND ?3 ORDER BY idx",
        )?;
        let (first, last) = (start / CHUNK_SIZE, (end - 1) / CHUNK_SIZE);
        let mut rows = stmt.query(params![hash, first as i64, last as i64])?;
        let mut out = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
        while let Some(row) = rows.next()? {
            let index: i64 = row.get(0)?;
            let data: Vec<u8> = row.get(1)?;
            let (a, b) = chunk_range(size, u64::try_from(index).unwrap_or(0));
            let (from, to) = (start.max(a), end.min(b));
            if from < to && data.len() as u64 == b - a {
                out.extend_from_slice(&data[(from - a) as usize..(to - a) as usize]);
            }
        }
        if out.len() as u64 != end - start {
            return Err(AppError::Internal(
                "a complete attachment is missing chunks".into(),
            ));
        }
        Ok(out)
    }
}

/// Replaces the references of `doc_id` with `refs`, inside the caller's transaction.
pub(super) fn replace_refs(
    conn: &Connection,
    doc_id: &str,
    refs: &BTreeSet<String>,
) -> Result<(), AppError> {
    conn.prepare_cached("DELETE FROM attachment_refs WHERE doc_id = ?1")?
        .execute([doc_id])?;
    conn.prepare_cached("DELETE FROM attachment_refs_pending WHERE doc_id = ?1")?
        .execute([doc_id])?;
    let mut stmt =
        conn.prepare_cached("INSERT INTO attachment_refs (hash, doc_id) VALUES (?1, ?2)")?;
    for hash in refs {
        stmt.execute([hash.as_str(), doc_id])?;
    }
    Ok(())
}

fn stored(conn: &Connection, hash: &str) -> Result<Option<StoredAttachment>, AppError> {
    let row = conn
        .prepare_cached("SELECT size, mime, chunks, complete FROM attachments WHERE hash = ?1")?
        .query_row([hash], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .optional()?;
    let Some((size, mime, chunks, complete)) = row else {
        return Ok(None);
    };
    let chunks = serde_json::from_str(&chunks)
        .map_err(|e| AppError::Internal(format!("stored chunk list does not parse: {e}")))?;
    let manifest = Manifest {
        size: u64::try_from(size).unwrap_or(0),
        mime,
        chunk_size: CHUNK_SIZE,
        chunks,
    };
    Ok(Some(StoredAttachment { manifest, complete }))
}

/// Bytes charged to `unit`, leaving out the attachment `except` (the one being replaced).
fn charged(conn: &Connection, unit: &str, except: &str) -> Result<u64, AppError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE unit = ?1 AND hash <> ?2",
        )?
        .query_row([unit, except], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Records a new upload; an empty file is complete at once (once its address checks out).
fn insert(
    conn: &Connection,
    device: &Device,
    hash: &str,
    manifest: &Manifest,
) -> Result<UploadState, AppError> {
    let complete = manifest.chunks.is_empty();
    if complete && sha256_hex(b"") != hash {
        return Err(file_mismatch());
    }
    let chunks = serde_json::to_string(&manifest.chunks)
        .map_err(|e| AppError::Internal(format!("chunk list does not encode: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO attachments (hash, size, mime, chunks, unit, device_id, created_at, complete)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        hash,
        i64::try_from(manifest.size).unwrap_or(i64::MAX),
        manifest.mime,
        chunks,
        device.unit,
        device.id,
        now(),
        complete
    ])?;
    Ok(upload_state(manifest, complete, Vec::new()))
}

/// Drops an upload and every chunk of it.
fn drop_attachment(conn: &Connection, hash: &str) -> Result<(), AppError> {
    conn.prepare_cached("DELETE FROM attachment_chunks WHERE hash = ?1")?
        .execute([hash])?;
    conn.prepare_cached("DELETE FROM attachments WHERE hash = ?1")?
        .execute([hash])?;
    Ok(())
}

/// Indexes of the chunks stored for `hash`, in order.
fn have(conn: &Connection, hash: &str) -> Result<Vec<u64>, AppError> {
    let mut stmt =
        conn.prepare_cached("SELECT idx FROM attachment_chunks WHERE hash = ?1 ORDER BY idx")?;
    let rows = stmt.query_map([hash], |r| r.get::<_, i64>(0))?;
    rows.map(|r| Ok(u64::try_from(r?).unwrap_or(0))).collect()
}

/// How many chunks are stored for `hash`.
fn received(conn: &Connection, hash: &str) -> Result<u64, AppError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM attachment_chunks WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every chunk index of a manifest.
fn every_chunk(manifest: &Manifest) -> Vec<u64> {
    (0..manifest.chunks.len() as u64).collect()
}

fn upload_state(manifest: &Manifest, complete: bool, have: Vec<u64>) -> UploadState {
    UploadState {
        complete,
        chunk_size: manifest.chunk_size,
        have,
    }
}

/// Refuses chunk `index` unless it exists and its length and SHA-256 are the manifest's.
fn check_chunk(manifest: &Manifest, index: u64, len: u64, digest: &str) -> Result<(), AppError> {
    let expected = usize::try_from(index)
        .ok()
        .and_then(|i| manifest.chunks.get(i))
        .ok_or(AppError::NotFound { what: "chunk" })?;
    let want = manifest.chunk_len(index);
    let message = if len != want {
        format!("chunk {index} is {len} bytes, the manifest says {want}; send it again")
    } else if digest != expected {
        format!(
            "chunk {index}'s SHA-256 differs from the manifest; read the file and send it again"
        )
    } else {
        return Ok(());
    };
    Err(AppError::Unprocessable {
        code: "chunk_mismatch",
        message,
    })
}

/// The SHA-256 (hex) of the stored chunks of `hash`, in order.
fn whole_sha256(conn: &Connection, hash: &str) -> Result<String, AppError> {
    let mut stmt =
        conn.prepare_cached("SELECT data FROM attachment_chunks WHERE hash = ?1 ORDER BY idx")?;
    let mut rows = stmt.query([hash])?;
    let mut hasher = Sha256::new();
    while let Some(row) = rows.next()? {
        hasher.update(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn file_mismatch() -> AppError {
    AppError::Unprocessable {
        code: "file_mismatch",
        message: "the file's SHA-256 differs from its address; every chunk was dropped: check \
                  the file and upload it again"
            .into(),
    }
}
