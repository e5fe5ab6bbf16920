//! Documents, grants and access, chunks, per-(document, device) sync states, the change feed.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{audit, now, Db, Device};
use crate::error::AppError;

/// What a unit may do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Nothing: the document is invisible.
    None,
    /// Sync it down, see it in the feed.
    Read,
    /// Also send changes.
    Write,
}

impl Access {
    fn parse(s: &str) -> Access {
        match s {
            "write" => Access::Write,
            "read" => Access::Read,
            _ => Access::None,
        }
    }
}

/// A grant of access to a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The unit.
    pub unit: String,
    /// `read` or `write`.
    pub access: Access,
}

/// A document's owner and grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    /// Owner unit.
    pub owner: String,
    /// Grants to other units.
    pub grants: Vec<Grant>,
}

/// Everything one accepted sync item persists, in one transaction.
#[derive(Debug, Clone)]
pub struct SyncWrite {
    /// The document.
    pub doc_id: String,
    /// The device that sent the message.
    pub device_id: String,
    /// New changes as one chunk, when there are any.
    pub chunk: Option<Vec<u8>>,
    /// When set, `chunk` is a full save that replaces every stored chunk (compaction).
    pub replaces_all: bool,
    /// Heads after the changes (hex), written to the feed with the chunk.
    pub heads: Vec<String>,
    /// The encoded sync state for (document, device).
    pub state: Vec<u8>,
}

/// One row of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedEntry {
    /// Feed position.
    pub seq: i64,
    /// The document.
    pub doc_id: String,
    /// Its heads (hex) after that change.
    pub heads: Vec<String>,
}

impl Db {
    /// Creates a document owned by `owner` (the device's unit or one of its descendants).
    pub fn create_document(
        &self,
        device: &Device,
        id: &str,
        owner: &str,
        grants: &[Grant],
    ) -> Result<(), AppError> {
        if !self.unit_chain(owner)?.contains(&device.unit) {
            return Err(AppError::Forbidden(
                "a device creates documents only for its unit or units below it".into(),
            ));
        }
        let tx = self.conn.unchecked_transaction()?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO documents (id, owner_unit, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, owner, device.id, now()],
        )?;
        if n == 0 {
            return Err(AppError::Conflict {
                code: "exists",
                message: "document exists already".into(),
            });
        }
        for g in grants {
            self.unit_parent(&g.unit)?;
            let access = match g.access {
                Access::Write => "write",
                Access::Read => "read",
                Access::None => continue,
            };
            tx.execute(
                "INSERT OR REPLACE INTO grants (doc_id, unit, access) VALUES (?1, ?2, ?3)",
                params![id, g.unit, access],
            )?;
        }
        tx.execute(
            "INSERT INTO feed (doc_id, heads) VALUES (?1, '')",
            params![id],
        )?;
        audit(&tx, &device.id, "document.create", id)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds or changes grants on a document. Only the owner unit and its ancestors share.
    /// A feed row is written so that the new grantees see the document.
    pub fn share(&self, device: &Device, id: &str, grants: &[Grant]) -> Result<(), AppError> {
        let meta = self
            .doc_meta(id)?
            .ok_or(AppError::NotFound { what: "document" })?;
        if !self.unit_chain(&meta.owner)?.contains(&device.unit) {
            return Err(AppError::Forbidden(
                "only the owner unit and the units above it share a document".into(),
            ));
        }
        let tx = self.conn.unchecked_transaction()?;
        for g in grants {
            self.unit_parent(&g.unit)?;
            match g.access {
                Access::None => tx.execute(
                    "DELETE FROM grants WHERE doc_id = ?1 AND unit = ?2",
                    params![id, g.unit],
                )?,
                a => tx.execute(
                    "INSERT OR REPLACE INTO grants (doc_id, unit, access) VALUES (?1, ?2, ?3)",
                    params![
                        id,
                        g.unit,
                        if a == Access::Write { "write" } else { "read" }
                    ],
                )?,
            };
        }
        let heads: Option<String> = tx
            .query_row(
                "SELECT heads FROM feed WHERE doc_id = ?1 ORDER BY seq DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO feed (doc_id, heads) VALUES (?1, ?2)",
            params![id, heads.unwrap_or_default()],
        )?;
        audit(&tx, &device.id, "document.share", id)?;
        tx.commit()?;
        Ok(())
    }

    /// Owner and grants of a document; `None` if unknown.
    pub fn doc_meta(&self, id: &str) -> Result<Option<DocMeta>, AppError> {
        let owner: Option<String> = self
            .conn
            .query_row(
                "SELECT owner_unit FROM documents WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(owner) = owner else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare("SELECT unit, access FROM grants WHERE doc_id = ?1 ORDER BY unit")?;
        let grants = stmt
            .query_map([id], |r| {
                Ok(Grant {
                    unit: r.get(0)?,
                    access: Access::parse(&r.get::<_, String>(1)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(DocMeta { owner, grants }))
    }

    /// What `unit` may do with a document: the owner writes, grants give what they say, and
    /// every ancestor of the owner reads (HQ reads its stations' records but writes them only
    /// with a grant, so authorship of a station's record stays with the station).
    pub fn access(&self, unit: &str, meta: &DocMeta) -> Result<Access, AppError> {
        if unit == meta.owner {
            return Ok(Access::Write);
        }
        let granted = meta
            .grants
            .iter()
            .find(|g| g.unit == unit)
            .map_or(Access::None, |g| g.access);
        let inherited = if self.unit_chain(&meta.owner)?.iter().any(|u| u == unit) {
            Access::Read
        } else {
            Access::None
        };
        Ok(granted.max(inherited))
    }

    /// All stored chunks of a document, concatenated in order (loadable as one document).
    pub fn load_chunks(&self, id: &str) -> Result<Vec<u8>, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
        let mut out = Vec::new();
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// How many chunks a document is stored in.
    pub fn chunk_count(&self, id: &str) -> Result<usize, AppError> {
        let n: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM chunks WHERE doc_id = ?1", [id], |r| {
                    r.get(0)
                })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The persisted sync state of (document, device), if any.
    pub fn sync_state(&self, doc_id: &str, device_id: &str) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self
            .conn
            .query_row(
                "SELECT state FROM sync_states WHERE doc_id = ?1 AND device_id = ?2",
                [doc_id, device_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Persists one accepted sync item: chunk, feed row and sync state in one transaction.
    pub fn commit_sync(&self, w: &SyncWrite) -> Result<(), AppError> {
        let tx = self.conn.unchecked_transaction()?;
        if let Some(chunk) = &w.chunk {
            if w.replaces_all {
                tx.execute("DELETE FROM chunks WHERE doc_id = ?1", params![w.doc_id])?;
            }
            tx.execute(
                "INSERT INTO chunks (doc_id, bytes) VALUES (?1, ?2)",
                params![w.doc_id, chunk],
            )?;
            tx.execute(
                "INSERT INTO feed (doc_id, heads) VALUES (?1, ?2)",
                params![w.doc_id, w.heads.join(",")],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO sync_states (doc_id, device_id, state) VALUES (?1, ?2, ?3)",
            params![w.doc_id, w.device_id, w.state],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Feed rows after `since`, oldest first, at most `limit`.
    pub fn feed_after(&self, since: i64, limit: usize) -> Result<Vec<FeedEntry>, AppError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, doc_id, heads FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since, limit as i64], |r| {
            let heads: String = r.get(2)?;
            Ok(FeedEntry {
                seq: r.get(0)?,
                doc_id: r.get(1)?,
                heads: heads
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
