//! Documents as a snapshot plus incremental chunks.
//!
//! Automerge loads a snapshot followed by change chunks as one byte string, so loading is one
//! concatenation. Compaction replaces the snapshot with a fresh full save and drops the chunks
//! it covers, in one transaction.

use rusqlite::{params, Connection, OptionalExtension};

use crate::{Store, StoreError, Tx};

/// Snapshot and chunks of `id`, concatenated; `None` if the store has no such document.
fn load(conn: &Connection, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let snapshot: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let mut bytes = snapshot.unwrap_or_default();
    let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([id])?;
    while let Some(row) = rows.next()? {
        let chunk: Vec<u8> = row.get(0)?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

fn stats(conn: &Connection, id: &str) -> Result<Option<DocStats>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT chunk_count, chunk_bytes FROM documents WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(DocStats {
                chunk_count: r.get(0)?,
                chunk_bytes: r.get(1)?,
            })
        })
        .optional()?)
}

/// Size facts about one stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocStats {
    /// Chunks not yet compacted into the snapshot.
    pub chunk_count: i64,
    /// Their total size in bytes.
    pub chunk_bytes: i64,
}

impl Store {
    /// The saved bytes of a document.
    pub fn load_doc(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        load(&self.conn, id)
    }

    /// Chunk count and size of a document not yet compacted, if the document exists.
    pub fn doc_stats(&self, id: &str) -> Result<Option<DocStats>, StoreError> {
        stats(&self.conn, id)
    }

    /// Ids of every stored document.
    pub fn doc_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM documents ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }
}

impl Tx<'_> {
    /// The saved bytes of a document, as seen inside this write.
    pub fn load_doc(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        load(&self.tx, id)
    }

    /// Appends a chunk of changes to a document, creating its row if needed.
    pub fn append_chunk(
        &self,
        id: &str,
        kind: &str,
        data: &[u8],
        now: i64,
    ) -> Result<DocStats, StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO documents(id, kind, snapshot, updated_at) VALUES (?1, ?2, NULL, ?3)
             ON CONFLICT(id) DO NOTHING",
            )?
            .execute(params![id, kind, now])?;
        let seq: i64 = self
            .tx
            .prepare_cached(
                "UPDATE documents SET next_seq = next_seq + 1, chunk_count = chunk_count + 1,
                 chunk_bytes = chunk_bytes + ?2, updated_at = ?3
             WHERE id = ?1 RETURNING next_seq - 1",
            )?
            .query_row(params![id, data.len() as i64, now], |r| r.get(0))?;
        self.tx
            .prepare_cached("INSERT INTO chunks(doc_id, seq, data) VALUES (?1, ?2, ?3)")?
            .execute(params![id, seq, data])?;
        self.stats(id)
    }

    /// Replaces a document's snapshot with `snapshot` (a full save) and drops its chunks.
    pub fn compact(&self, id: &str, snapshot: &[u8], now: i64) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0, updated_at = ?3 WHERE id = ?1")?.execute(
            params![id, snapshot, now],
        )?;
        self.tx
            .prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
            .execute([id])?;
        Ok(())
    }

    fn stats(&self, id: &str) -> Result<DocStats, StoreError> {
        stats(&self.tx, id)?
            .ok_or_else(|| StoreError::Corrupt(format!("document {id} vanished mid-write")))
    }
}
