//! What sync needs to remember: each document's heads, a sync state per (relay, document), and
//! delivery receipts.
//!
//! Heads are kept as a canonical string (sorted hex hashes joined by `,`) so that "which
//! documents have changes the relay has not confirmed" is one indexed comparison, not a load of
//! every document.

use rusqlite::{params, OptionalExtension};

use crate::{Store, StoreError, Tx};

/// Canonical text form of a set of heads: sorted hex, joined by `,` (empty for no heads).
pub fn heads_key<S: AsRef<str>>(heads: &[S]) -> String {
    let mut v: Vec<&str> = heads.iter().map(AsRef::as_ref).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// Splits a canonical heads string back into hex hashes.
pub fn split_heads(key: &str) -> Vec<String> {
    key.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A persisted sync state of one document with one relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRow {
    /// The document.
    pub doc_id: String,
    /// `automerge::sync::State::encode` bytes.
    pub state: Vec<u8>,
    /// Heads both sides are known to hold (canonical form).
    pub shared_heads: String,
    /// Whether the relay knows the document (created there or learned from its feed).
    pub registered: bool,
    /// The last per-document error code from the relay, if any.
    pub error: Option<String>,
}

/// A delivery receipt: `unit` is known to hold `heads` of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    /// The unit that holds them.
    pub unit: String,
    /// `relay` (a device of the unit synced them) or `bundle` (a receipt file came back).
    pub via: String,
    /// Whether the unit is the top of the unit tree (provincial command, "HQ").
    pub root: bool,
    /// The heads (canonical form).
    pub heads: String,
    /// When this was learned, seconds since the epoch.
    pub at: i64,
}

const PENDING_SQL: &str =
    "FROM documents d LEFT JOIN sync_states s ON s.doc_id = d.id AND s.relay = ?1
     WHERE s.doc_id IS NULL OR d.heads IS NULL
        OR (s.shared_heads != d.heads AND (s.error IS NULL OR s.error_heads IS NOT d.heads))";

impl Store {
    /// The sync state of `doc_id` with `relay`.
    pub fn sync_row(&self, relay: &str, doc_id: &str) -> Result<Option<SyncRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT doc_id, state, shared_heads, registered, error FROM sync_states
                 WHERE relay = ?1 AND doc_id = ?2",
            )?
            .query_row(params![relay, doc_id], |r| {
                Ok(SyncRow {
                    doc_id: r.get(0)?,
                    state: r.get(1)?,
                    shared_heads: r.get(2)?,
                    registered: r.get::<_, i64>(3)? != 0,
                    error: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Documents with changes `relay` has not confirmed (or whose heads are not recorded yet),
    /// leaving out those the relay refused at their current heads. At most `limit` ids.
    pub fn pending_docs(&self, relay: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT d.id {PENDING_SQL} ORDER BY d.id LIMIT ?2"))?;
        let ids = stmt
            .query_map(params![relay, limit as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Local documents the relay does not know yet and has not refused at their current
    /// heads. At most `limit` ids.
    pub fn unregistered_docs(&self, relay: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id FROM documents d LEFT JOIN sync_states s ON s.doc_id = d.id AND s.relay = ?1
             WHERE s.doc_id IS NULL
                OR (s.registered = 0 AND (s.error IS NULL OR s.error_heads IS NOT d.heads))
             ORDER BY d.id LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![relay, limit as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// How many documents have changes `relay` has not confirmed.
    pub fn pending_count(&self, relay: &str) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) {PENDING_SQL}"))?
            .query_row([relay], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Documents the relay refused at their current heads, with the code.
    pub fn refused_docs(&self, relay: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.doc_id, s.error FROM sync_states s WHERE s.relay = ?1 AND s.error IS NOT NULL
             ORDER BY s.doc_id",
        )?;
        let rows = stmt
            .query_map([relay], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        Ok(rows)
    }

    /// Stored heads of a document (canonical form), if it exists and they are recorded.
    pub fn doc_heads(&self, doc_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT heads FROM documents WHERE id = ?1")?
            .query_row([doc_id], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// The name of a unit of kind `hq` (the provincial command), if the store knows one.
    pub fn hq_unit_name(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT name FROM units WHERE kind = 'hq' ORDER BY id LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    /// Every known unit as (name, parent name, kind code).
    pub fn unit_tree(&self) -> Result<Vec<(String, Option<String>, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, parent, kind FROM units ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Known delivery receipts of a document.
    pub fn receipts(&self, doc_id: &str) -> Result<Vec<ReceiptRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT unit, via, root, heads, at FROM receipts WHERE doc_id = ?1 ORDER BY root DESC, unit, via",
        )?;
        let rows = stmt
            .query_map([doc_id], |r| {
                Ok(ReceiptRow {
                    unit: r.get(0)?,
                    via: r.get(1)?,
                    root: r.get::<_, i64>(2)? != 0,
                    heads: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Documents whose receipt from a root unit does not match their current heads: the ones
    /// whose "received by HQ" is still to be confirmed. At most `limit` ids.
    pub fn docs_awaiting_root_receipt(
        &self,
        relay: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id FROM documents d JOIN sync_states s ON s.doc_id = d.id AND s.relay = ?1
             WHERE s.registered = 1 AND NOT EXISTS (
                 SELECT 1 FROM receipts r WHERE r.doc_id = d.id AND r.root = 1 AND r.heads = d.heads)
             ORDER BY d.updated_at DESC LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![relay, limit as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }
}

impl Tx<'_> {
    /// Records a document's current heads (canonical form).
    pub fn set_heads(&self, doc_id: &str, heads: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE documents SET heads = ?2 WHERE id = ?1")?
            .execute(params![doc_id, heads])?;
        Ok(())
    }

    /// The sync state of `doc_id` with `relay`, as seen inside this write.
    pub fn sync_state(&self, relay: &str, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT state FROM sync_states WHERE relay = ?1 AND doc_id = ?2")?
            .query_row(params![relay, doc_id], |r| r.get(0))
            .optional()?)
    }

    /// Stores the sync state of a document with a relay and clears its error.
    pub fn put_sync_state(
        &self,
        relay: &str,
        doc_id: &str,
        state: &[u8],
        shared_heads: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "INSERT INTO sync_states(relay, doc_id, state, shared_heads, registered, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)
             ON CONFLICT(relay, doc_id) DO UPDATE SET state = excluded.state,
                 shared_heads = excluded.shared_heads, registered = 1, error = NULL,
                 error_heads = NULL, updated_at = excluded.updated_at")?.execute(
            params![relay, doc_id, state, shared_heads, now],
        )?;
        Ok(())
    }

    /// Marks documents as known to the relay (created there, or already there).
    pub fn mark_registered(&self, relay: &str, doc_id: &str, now: i64) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "INSERT INTO sync_states(relay, doc_id, state, shared_heads, registered, updated_at)
             VALUES (?1, ?2, x'', '', 1, ?3)
             ON CONFLICT(relay, doc_id) DO UPDATE SET registered = 1, error = NULL,
                 error_heads = NULL, updated_at = excluded.updated_at")?.execute(
            params![relay, doc_id, now],
        )?;
        Ok(())
    }

    /// Records that the relay refused a document at its current heads (`code`), so that it is
    /// not sent again until it changes.
    pub fn mark_refused(
        &self,
        relay: &str,
        doc_id: &str,
        code: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "INSERT INTO sync_states(relay, doc_id, state, shared_heads, registered, error, error_heads, updated_at)
             VALUES (?1, ?2, x'', '', 0, ?3, (SELECT heads FROM documents WHERE id = ?2), ?4)
             ON CONFLICT(relay, doc_id) DO UPDATE SET error = excluded.error,
                 error_heads = excluded.error_heads, updated_at = excluded.updated_at")?.execute(
            params![relay, doc_id, code, now],
        )?;
        Ok(())
    }

    /// Forgets the sync state of a document with a relay (the relay lost it: start over).
    pub fn forget_sync_state(&self, relay: &str, doc_id: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM sync_states WHERE relay = ?1 AND doc_id = ?2")?
            .execute(params![relay, doc_id])?;
        Ok(())
    }

    /// Records that `unit` holds `heads` of a document.
    pub fn put_receipt(&self, doc_id: &str, r: &ReceiptRow) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "INSERT INTO receipts(doc_id, unit, via, root, heads, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(doc_id, unit, via) DO UPDATE SET root = excluded.root,
                 heads = excluded.heads, at = excluded.at")?.execute(
            params![doc_id, r.unit, r.via, r.root as i64, r.heads, r.at],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_key_is_canonical() {
        assert_eq!(heads_key(&["b", "a", "b"]), "a,b");
        assert_eq!(heads_key::<&str>(&[]), "");
        assert_eq!(split_heads("a,b"), vec!["a", "b"]);
        assert!(split_heads("").is_empty());
    }
}
