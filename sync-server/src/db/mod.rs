//! The relay's SQLite store: one connection, WAL, `synchronous=FULL`, migrations on open.
//!
//! Only this module knows SQL. Every write that a client sees acknowledged is committed with
//! `synchronous=FULL` first, so it survives `kill -9` and power loss.

mod attachments;
mod chunks;
mod docs;
mod identity;
mod schema;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension};

use crate::error::AppError;

pub use attachments::{ChunkState, StoredAttachment, UploadState};
pub use chunks::{FeedEntry, ImportWrite, SyncAck, SyncWrite};
pub use docs::{Access, DocMeta, Grant, NewDocument};
pub use identity::{Device, DeviceRow, Enrolment};
pub use schema::CURRENT as SCHEMA_VERSION;

/// The relay database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db, AppError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Internal(format!("cannot create data dir: {e}")))?;
        }
        let mut conn = Connection::open(path)?;
        // First, so that the relay and an admin command opening together wait for each other.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Db { conn })
    }

    /// Appends one row to the admin audit log.
    pub fn audit(&self, actor: &str, action: &str, subject: &str) -> Result<(), AppError> {
        audit(&self.conn, actor, action, subject)
    }

    /// The audit log, oldest first: (time, actor, action, subject).
    pub fn audit_log(&self) -> Result<Vec<(i64, String, String, String)>, AppError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, actor, action, subject FROM audit ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The parent of `unit`, `None` for a root; `NotFound` if the unit is unknown.
    pub fn unit_parent(&self, unit: &str) -> Result<Option<String>, AppError> {
        self.conn
            .query_row("SELECT parent FROM units WHERE name = ?1", [unit], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .ok_or(AppError::NotFound { what: "unit" })
    }

    /// `unit` and all its ancestors, nearest first.
    pub fn unit_chain(&self, unit: &str) -> Result<Vec<String>, AppError> {
        let mut chain = vec![unit.to_string()];
        let mut next = self.unit_parent(unit)?;
        while let Some(p) = next {
            if chain.contains(&p) || chain.len() > 64 {
                return Err(AppError::Internal("unit tree has a cycle".into()));
            }
            next = self.unit_parent(&p)?;
            chain.push(p);
        }
        Ok(chain)
    }
}

fn audit(conn: &Connection, actor: &str, action: &str, subject: &str) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO audit (at, actor, action, subject) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![now(), actor, action, subject],
    )?;
    Ok(())
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random secret of `bytes` bytes, hex encoded.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of `secret`, hex encoded: what the relay stores instead of tokens and codes.
pub fn sha256_hex(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}
