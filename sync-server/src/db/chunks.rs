//! Stored changes and what points at them: chunks, per-(document, device) sync states, the
//! change feed, and the writes of a sync item or a bundle import (each one transaction).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::attachments::replace_refs;
use super::docs::{insert_document, Access, NewDocument};
use super::{audit, now, Db};
use crate::error::AppError;

/// Adds a feed row (`?1` the document, `?2` its heads), with its document's owner.
pub(super) const INSERT_FEED: &str = "INSERT INTO feed (doc_id, heads, owner_unit)
     VALUES (?1, ?2, (SELECT owner_unit FROM documents WHERE id = ?1))";

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
    /// The attachment references of the document after the changes; when set, they replace
    /// the stored ones.
    pub attachments: Option<BTreeSet<String>>,
    /// Change signatures to keep: (hex change hash, signature).
    pub signatures: Vec<(String, Vec<u8>)>,
}

/// Everything one imported bundle document persists, in one transaction.
#[derive(Debug, Clone)]
pub struct ImportWrite {
    /// Who imports: a device id, or `admin`.
    pub actor: String,
    /// The document to create first, when the relay lacks it.
    pub create: Option<NewDocument>,
    /// The document.
    pub doc_id: String,
    /// New changes as one chunk, when there are any.
    pub chunk: Option<Vec<u8>>,
    /// When set, `chunk` is a full save that replaces every stored chunk (compaction).
    pub replaces_all: bool,
    /// Heads after the changes (hex), written to the feed with the chunk.
    pub heads: Vec<String>,
    /// The attachment references of the document after the changes; when set, they replace
    /// the stored ones.
    pub attachments: Option<BTreeSet<String>>,
    /// Change signatures to keep: (hex change hash, signature).
    pub signatures: Vec<(String, Vec<u8>)>,
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
    /// Its owner unit.
    pub owner: String,
    /// What the unit the feed was read for is granted on it ([`Access::None`]: no grant).
    pub granted: Access,
    /// Whether that unit is the owner or above it, and so reads the document.
    pub inherited: bool,
}

/// A device's persisted sync state for a document: what the relay knows it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAck {
    /// The device (its unit: [`Db::device_unit`]).
    pub device_id: String,
    /// The encoded `automerge::sync::State`.
    pub state: Vec<u8>,
    /// Unix seconds of the last write, when known (states written before schema 2 lack it).
    pub updated_at: Option<i64>,
}

/// Documents' sync states as [`Db::sync_acks`] last read them, at most [`ACKS_KEPT`] states in
/// all (when more would be kept, all are let go and kept again as they are read).
#[derive(Debug, Default)]
pub(crate) struct Acks {
    docs: HashMap<String, Arc<[SyncAck]>>,
    states: usize,
}

/// The most sync states [`Acks`] keeps (each a device id and a state of about a hundred bytes).
const ACKS_KEPT: usize = 100_000;

impl Acks {
    fn keep(&mut self, doc_id: &str, acks: Arc<[SyncAck]>) {
        if self.states + acks.len() > ACKS_KEPT {
            self.docs.clear();
            self.states = 0;
        }
        self.states += acks.len();
        if let Some(was) = self.docs.insert(doc_id.to_string(), acks) {
            self.states -= was.len();
        }
    }

    fn forget(&mut self, doc_id: &str) {
        if let Some(was) = self.docs.remove(doc_id) {
            self.states -= was.len();
        }
    }
}

impl Db {
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
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM chunks WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The stored version of a document: the sequence number of its newest chunk (0 for none).
    /// Any write of changes, from this process or another, moves it.
    pub fn doc_version(&self, id: &str) -> Result<i64, AppError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM chunks WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// The persisted sync state of (document, device), if any.
    pub fn sync_state(&self, doc_id: &str, device_id: &str) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self
            .conn
            .prepare_cached("SELECT state FROM sync_states WHERE doc_id = ?1 AND device_id = ?2")?
            .query_row([doc_id, device_id], |r| r.get(0))
            .optional()?)
    }

    /// Every device's persisted sync state for a document, by device. Without the devices'
    /// units: a reader of many documents looks each device up once ([`Db::device_unit`]) rather
    /// than joining every state to its device, whose row lookups were most of the cost of receipts
    /// (10 % of the relay's CPU in S5, where each station device asks about every record still
    /// awaiting headquarters' receipt).
    ///
    /// Kept between requests ([`Acks`]) until one of the document's sync states is written, as
    /// every device of a station asks about the same records session after session. Read inside
    /// a transaction, the states are read afresh and not kept: that write may yet be undone.
    pub fn sync_acks(&self, doc_id: &str) -> Result<Arc<[SyncAck]>, AppError> {
        let keep = self.conn.is_autocommit();
        if keep {
            if let Some(kept) = self.acks.borrow().docs.get(doc_id) {
                return Ok(Arc::clone(kept));
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT device_id, state, updated_at FROM sync_states
             WHERE doc_id = ?1 ORDER BY device_id",
        )?;
        let rows = stmt.query_map([doc_id], |r| {
            Ok(SyncAck {
                device_id: r.get(0)?,
                state: r.get(1)?,
                updated_at: r.get(2)?,
            })
        })?;
        let read: Arc<[SyncAck]> = rows.collect::<Result<Vec<_>, _>>()?.into();
        if keep {
            self.acks.borrow_mut().keep(doc_id, Arc::clone(&read));
        }
        Ok(read)
    }

    /// A device's unit, revoked devices included (what they acknowledged before still counts);
    /// `None` for an id the relay does not know.
    pub fn device_unit(&self, device_id: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .conn
            .prepare_cached("SELECT unit FROM devices WHERE id = ?1")?
            .query_row([device_id], |r| r.get(0))
            .optional()?)
    }

    /// Persists one accepted sync item: chunk, feed row, attachment references and sync state
    /// in one transaction.
    /// Returns the document's new version when a chunk was written.
    pub fn commit_sync(&self, w: &SyncWrite) -> Result<Option<i64>, AppError> {
        // The only writer of sync states: what was kept of this document's is stale from here,
        // whether this write is kept or undone.
        self.acks.borrow_mut().forget(&w.doc_id);
        let tx = self.write()?;
        let version = match &w.chunk {
            Some(chunk) => Some(write_chunk(
                &tx,
                &w.doc_id,
                chunk,
                w.replaces_all,
                &w.heads,
            )?),
            None => None,
        };
        if let Some(refs) = &w.attachments {
            replace_refs(&tx, &w.doc_id, refs)?;
        }
        super::signatures::put(&tx, &w.signatures)?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO sync_states (doc_id, device_id, state, updated_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![w.doc_id, w.device_id, w.state, now()])?;
        tx.commit()?;
        Ok(version)
    }

    /// Persists one imported bundle document: its creation if needed, the chunk, the feed row,
    /// its attachment references and an audit row in one transaction. Returns the new version
    /// when a chunk was written.
    pub fn commit_import(&self, w: &ImportWrite) -> Result<Option<i64>, AppError> {
        let tx = self.write()?;
        if let Some(doc) = &w.create {
            insert_document(&tx, &w.actor, doc)?;
        }
        let version = match &w.chunk {
            Some(chunk) => Some(write_chunk(
                &tx,
                &w.doc_id,
                chunk,
                w.replaces_all,
                &w.heads,
            )?),
            None => None,
        };
        if let Some(refs) = &w.attachments {
            replace_refs(&tx, &w.doc_id, refs)?;
        }
        super::signatures::put(&tx, &w.signatures)?;
        audit(&tx, &w.actor, "bundle.document", &w.doc_id)?;
        tx.commit()?;
        Ok(version)
    }

    /// The feed rows after `since` that `unit` may read, oldest first, at most `limit`, each
    /// with its document's owner and what `unit` is granted on it, and the feed position read
    /// up to: the last row's when the page is full, else the end of the feed (the rows between
    /// are not for this unit). One query for a page: rows of documents the unit neither owns,
    /// inherits nor is granted never leave SQLite (a station reads its own sixth of a
    /// province's feed; reading every row and sorting them out here was a tenth of the relay's
    /// CPU in the first wave of S5).
    pub fn feed_after(
        &self,
        since: i64,
        limit: usize,
        unit: &str,
    ) -> Result<(Vec<FeedEntry>, i64), AppError> {
        // `below`: the unit and every unit under it, whose documents it reads.
        let mut stmt = self.conn.prepare_cached(
            "WITH RECURSIVE below(name) AS (
                 SELECT ?3 UNION SELECT u.name FROM units u JOIN below b ON u.parent = b.name
             )
             SELECT f.seq, f.doc_id, f.heads, f.owner_unit, g.access,
                    f.owner_unit IN (SELECT name FROM below)
             FROM feed f
             LEFT JOIN grants g ON g.doc_id = f.doc_id AND g.unit = ?3
             WHERE f.seq > ?1
               AND (g.access IS NOT NULL OR f.owner_unit IN (SELECT name FROM below))
             ORDER BY f.seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since, limit as i64, unit], |r| {
            let heads: String = r.get(2)?;
            Ok(FeedEntry {
                seq: r.get(0)?,
                doc_id: r.get(1)?,
                heads: heads
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect(),
                owner: r.get(3)?,
                granted: r
                    .get::<_, Option<String>>(4)?
                    .map_or(Access::None, |a| Access::parse(&a)),
                inherited: r.get(5)?,
            })
        })?;
        let rows: Vec<FeedEntry> = rows.collect::<Result<_, _>>()?;
        let read_to = match rows.last() {
            Some(last) if rows.len() == limit => last.seq,
            _ => self
                .conn
                .prepare_cached("SELECT MAX(seq) FROM feed")?
                .query_row([], |r| r.get::<_, Option<i64>>(0))?
                .map_or(since, |end| end.max(since)),
        };
        Ok((rows, read_to))
    }
}

/// Stores a chunk (replacing all others when it is a compacted save) and its feed row; returns
/// the chunk's sequence number, the document's new version.
fn write_chunk(
    conn: &Connection,
    doc_id: &str,
    chunk: &[u8],
    replaces_all: bool,
    heads: &[String],
) -> Result<i64, AppError> {
    if replaces_all {
        conn.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
            .execute(params![doc_id])?;
    }
    conn.prepare_cached("INSERT INTO chunks (doc_id, bytes) VALUES (?1, ?2)")?
        .execute(params![doc_id, chunk])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached(INSERT_FEED)?
        .execute(params![doc_id, heads.join(",")])?;
    Ok(seq)
}
