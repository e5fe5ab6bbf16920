//! Signing keys and change signatures (issue 10): each device's Ed25519 public key, and the
//! signatures of changes, keyed by change hash.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{audit, now, Db};
use crate::error::AppError;

/// One entry of the key directory devices read to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    /// The actor whose changes the key signs.
    pub actor: String,
    /// Hex Ed25519 public key.
    pub key: String,
    /// The device that registered it.
    pub device: String,
    /// That device's unit.
    pub unit: String,
}

/// Stores signatures (a signature already kept is kept once).
pub(crate) fn put(conn: &Connection, sigs: &[(String, Vec<u8>)]) -> Result<(), AppError> {
    if sigs.is_empty() {
        return Ok(());
    }
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO change_signatures (hash, sig) VALUES (?1, ?2)")?;
    for (hash, sig) in sigs {
        stmt.execute(params![hash, sig])?;
    }
    Ok(())
}

impl Db {
    /// Registers the public key of `device_id`'s actors. A key is set once: the same key again
    /// is a no-op, another key is refused (`key_taken`), so a stolen token cannot replace it.
    pub fn register_sign_key(&self, device_id: &str, key: &[u8]) -> Result<(), AppError> {
        let tx = self.write()?;
        let existing: Vec<Option<Vec<u8>>> = {
            let mut stmt = tx.prepare("SELECT sign_key FROM device_actors WHERE device_id = ?1")?;
            let rows = stmt.query_map([device_id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if existing.is_empty() {
            return Err(AppError::NotFound {
                what: "device actor",
            });
        }
        if existing.iter().flatten().any(|k| k.as_slice() != key) {
            return Err(AppError::Conflict {
                code: "key_taken",
                message: "this device already registered another signing key".into(),
            });
        }
        if existing.iter().any(Option::is_none) {
            tx.prepare_cached(
                "UPDATE device_actors SET sign_key = ?1, key_registered_at = ?2
                 WHERE device_id = ?3 AND sign_key IS NULL",
            )?
            .execute(params![key, now(), device_id])?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO key_log (actor_hex)
                 SELECT actor_hex FROM device_actors WHERE device_id = ?1 AND sign_key IS NOT NULL",
            )?
            .execute([device_id])?;
            audit(&tx, device_id, "device.sign_key", device_id)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The registered public key of `actor_hex`, if its device registered one.
    pub fn actor_key(&self, actor_hex: &str) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self
            .conn
            .prepare_cached("SELECT sign_key FROM device_actors WHERE actor_hex = ?1")?
            .query_row([actor_hex], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
    }

    /// How many keys are registered: devices compare it with what they hold to know whether
    /// to read the directory again (keys are never replaced, only added).
    pub fn sign_key_count(&self) -> Result<i64, AppError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM device_actors WHERE sign_key IS NOT NULL")?
            .query_row([], |r| r.get(0))?)
    }

    /// The keys registered after position `after` of the key log, in registration order, and
    /// the position of the last one (`after` when there is none).
    pub fn sign_keys_after(&self, after: i64) -> Result<(Vec<KeyEntry>, i64), AppError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.seq, a.actor_hex, a.sign_key, d.id, d.unit FROM key_log l
             JOIN device_actors a ON a.actor_hex = l.actor_hex
             JOIN devices d ON d.id = a.device_id
             WHERE l.seq > ?1 AND a.sign_key IS NOT NULL ORDER BY l.seq",
        )?;
        let mut last = after;
        let rows = stmt.query_map([after], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                KeyEntry {
                    actor: r.get(1)?,
                    key: hex::encode(r.get::<_, Vec<u8>>(2)?),
                    device: r.get(3)?,
                    unit: r.get(4)?,
                },
            ))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            let (seq, key) = row?;
            last = last.max(seq);
            keys.push(key);
        }
        Ok((keys, last))
    }

    /// The whole key directory, revoked devices included (their old changes still verify).
    pub fn sign_keys(&self) -> Result<Vec<KeyEntry>, AppError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.actor_hex, a.sign_key, d.id, d.unit FROM device_actors a
             JOIN devices d ON d.id = a.device_id
             WHERE a.sign_key IS NOT NULL ORDER BY a.actor_hex",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyEntry {
                actor: r.get(0)?,
                key: hex::encode(r.get::<_, Vec<u8>>(1)?),
                device: r.get(2)?,
                unit: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored signature of the given hex change hashes.
    pub fn signatures_for(
        &self,
        hashes: &[String],
    ) -> Result<HashMap<String, Vec<Vec<u8>>>, AppError> {
        let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sig FROM change_signatures WHERE hash = ?1")?;
        for hash in hashes {
            let rows = stmt.query_map([hash], |r| r.get::<_, Vec<u8>>(0))?;
            for sig in rows {
                out.entry(hash.clone()).or_default().push(sig?);
            }
        }
        Ok(out)
    }
}
