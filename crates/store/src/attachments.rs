//! Attachments as the store knows them: which record refers to which file (rewritten with the
//! record's other index rows), which files are on this device, and which each relay has.
//!
//! The bytes are not in SQLite: the client keeps them as files named by their hash. A file is
//! recorded in `blobs` only after it is complete, verified and renamed into place.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use tidemark_domain::records::Record;

use crate::{Store, StoreError, Tx};

/// One file a record refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRow {
    /// The record.
    pub record_id: String,
    /// Where it hangs: `attachments`, `violations[0].attachments`…
    pub place: String,
    /// SHA-256 of the file.
    pub hash: String,
    /// SHA-256 of its thumbnail.
    pub thumb: Option<String>,
    /// The name given to it.
    pub name: String,
    /// Media type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the file is on this device.
    pub present: bool,
    /// Whether its thumbnail is on this device.
    pub thumb_present: bool,
}

/// A file that should move: a thumbnail or a full file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobWork {
    /// SHA-256 of the file.
    pub hash: String,
    /// Whether it is a thumbnail (those move first).
    pub thumb: bool,
    /// Media type as the record says (thumbnails are JPEG).
    pub mime: String,
    /// Size as the record says (unknown for thumbnails: 0).
    pub size: u64,
}

impl Tx<'_> {
    /// Writes the attachment rows of `record` (its old rows are already gone).
    pub(crate) fn index_attachments(&self, record: &Record) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO record_attachments(record_id, place, hash, thumb, name, mime, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (place, a) in record.attachments() {
            stmt.execute(params![
                record.id(),
                place.field(),
                a.hash,
                a.thumb,
                a.name,
                a.mime,
                a.size as i64
            ])?;
        }
        Ok(())
    }
}

const PRESENT: &str = "EXISTS (SELECT 1 FROM blobs b WHERE b.hash = ra.hash)";
const THUMB_PRESENT: &str = "EXISTS (SELECT 1 FROM blobs b WHERE b.hash = ra.thumb)";

impl Store {
    /// The files `record_id` refers to, in place order.
    pub fn record_attachments(&self, record_id: &str) -> Result<Vec<AttachmentRow>, StoreError> {
        let sql = format!(
            "SELECT record_id, place, hash, thumb, name, mime, size, {PRESENT}, {THUMB_PRESENT}
             FROM record_attachments ra WHERE record_id = ?1 ORDER BY place, rowid"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([record_id], |r| {
            Ok(AttachmentRow {
                record_id: r.get(0)?,
                place: r.get(1)?,
                hash: r.get(2)?,
                thumb: r.get(3)?,
                name: r.get(4)?,
                mime: r.get(5)?,
                size: r.get::<_, i64>(6)? as u64,
                present: r.get(7)?,
                thumb_present: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether the file with `hash` is on this device.
    pub fn blob_present(&self, hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM blobs WHERE hash = ?1", [hash], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Records that the file with `hash` is complete on this device.
    pub fn add_blob(&self, hash: &str, size: u64, at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO blobs(hash, size, stored_at) VALUES (?1, ?2, ?3)",
            params![hash, size as i64, at],
        )?;
        Ok(())
    }

    /// What a record refers to, or is a thumbnail of something referred to, by `hash`: the
    /// media type and size the record gives, if any record refers to it.
    pub fn referenced_blob(&self, hash: &str) -> Result<Option<BlobWork>, StoreError> {
        let file = self
            .conn
            .query_row(
                "SELECT mime, size FROM record_attachments WHERE hash = ?1 LIMIT 1",
                [hash],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        if let Some((mime, size)) = file {
            return Ok(Some(BlobWork {
                hash: hash.into(),
                thumb: false,
                mime,
                size: size as u64,
            }));
        }
        let thumb = self
            .conn
            .query_row(
                "SELECT 1 FROM record_attachments WHERE thumb = ?1 LIMIT 1",
                [hash],
                |_| Ok(()),
            )
            .optional()?;
        Ok(thumb.map(|_| BlobWork {
            hash: hash.into(),
            thumb: true,
            mime: "image/jpeg".into(),
            size: 0,
        }))
    }

    /// Referenced files on this device that `relay` has not confirmed: thumbnails first, then
    /// full files, smallest first.
    pub fn uploads_pending(&self, relay: &str) -> Result<Vec<BlobWork>, StoreError> {
        self.blob_work(
            "EXISTS (SELECT 1 FROM blobs b WHERE b.hash = w.hash)
             AND NOT EXISTS (SELECT 1 FROM blob_uploads u WHERE u.relay = ?1 AND u.hash = w.hash)",
            Some(relay),
        )
    }

    /// Referenced files missing on this device: thumbnails first, then full files, smallest
    /// first.
    pub fn downloads_pending(&self) -> Result<Vec<BlobWork>, StoreError> {
        self.blob_work(
            "NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = w.hash)",
            None,
        )
    }

    /// Every referenced file and thumbnail that meets `condition` (on `w.hash`), thumbnails
    /// first, then smallest first.
    fn blob_work(&self, condition: &str, relay: Option<&str>) -> Result<Vec<BlobWork>, StoreError> {
        let sql = format!(
            "SELECT hash, MAX(thumb), MIN(mime), MIN(size) FROM (
                 SELECT ra.thumb AS hash, 1 AS thumb, 'image/jpeg' AS mime, 0 AS size
                 FROM record_attachments ra WHERE ra.thumb IS NOT NULL
                 UNION
                 SELECT ra.hash, 0, ra.mime, ra.size FROM record_attachments ra
             ) w
             WHERE {condition}
             GROUP BY hash ORDER BY MAX(thumb) DESC, MIN(size), hash"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let map = |r: &rusqlite::Row<'_>| {
            Ok(BlobWork {
                hash: r.get(0)?,
                thumb: r.get::<_, i64>(1)? != 0,
                mime: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
            })
        };
        let rows = match relay {
            Some(relay) => stmt.query_map([relay], map)?.collect::<Result<_, _>>()?,
            None => stmt.query_map([], map)?.collect::<Result<_, _>>()?,
        };
        Ok(rows)
    }

    /// Records that `relay` holds the complete file `hash`.
    pub fn mark_uploaded(&self, relay: &str, hash: &str, at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO blob_uploads(relay, hash, done_at) VALUES (?1, ?2, ?3)",
            params![relay, hash, at],
        )?;
        Ok(())
    }
}
