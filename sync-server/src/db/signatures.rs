//! Signing keys and change signatures (issue 10): each device's Ed25519 public key, and the
//! signatures of changes, keyed by change hash.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::ser::SerializeSeq;
use serde::Serialize;
use serde_json::value::RawValue;

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

impl KeyEntry {
    /// The entry in columns `at..at + 4` of `r`: actor, key (bytes), device, unit.
    fn from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<KeyEntry> {
        Ok(KeyEntry {
            actor: r.get(at)?,
            key: hex::encode(r.get::<_, Vec<u8>>(at + 1)?),
            device: r.get(at + 2)?,
            unit: r.get(at + 3)?,
        })
    }
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
    ///
    /// Read from the mirror of the key log this connection keeps, brought up to date first:
    /// every new device reads the whole directory in its first session, and at S5's burst
    /// (200 devices at once, 200 keys) reading, encoding and serializing it for each was a
    /// twentieth of the relay's CPU.
    pub fn sign_keys_after(&self, after: i64) -> Result<(KeysAfter, i64), AppError> {
        let mut mirror = self.keys.borrow_mut();
        mirror.catch_up(&self.conn)?;
        Ok(mirror.after(after))
    }

    /// Forgets the mirror of the key log: writes it may have seen were undone.
    pub(super) fn forget_keys(&self) {
        *self.keys.borrow_mut() = KeyMirror::default();
    }

    /// The whole key directory, revoked devices included (their old changes still verify).
    pub fn sign_keys(&self) -> Result<Vec<KeyEntry>, AppError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.actor_hex, a.sign_key, d.id, d.unit FROM device_actors a
             JOIN devices d ON d.id = a.device_id
             WHERE a.sign_key IS NOT NULL ORDER BY a.actor_hex",
        )?;
        let rows = stmt.query_map([], |r| KeyEntry::from_row(r, 0))?;
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

/// This connection's copy of the key log, each entry serialized once.
///
/// The log only grows: a key is never replaced, and the device and unit an entry names never
/// change, so an entry read once is good for every device after. What can happen is a write
/// undone after the mirror read it (a batch that failed to commit): the mirror checks, before
/// each use, that the log still holds its last entry under the same position, and starts over
/// when it does not (the relay also forgets it when a batch fails).
#[derive(Debug, Default)]
pub(crate) struct KeyMirror {
    /// `(seq, actor, entry as JSON)` in `seq` order.
    entries: Arc<Vec<(i64, String, Box<RawValue>)>>,
    /// The highest position read, whether or not its row made an entry.
    upto: i64,
}

impl KeyMirror {
    /// Reads what the log gained since the last call (all of it after a mismatch).
    fn catch_up(&mut self, conn: &Connection) -> Result<(), AppError> {
        let top: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM key_log")?
            .query_row([], |r| r.get(0))?;
        let intact = top >= self.upto
            && match self.entries.last() {
                None => true,
                Some((seq, actor, _)) => {
                    conn.prepare_cached("SELECT actor_hex FROM key_log WHERE seq = ?1")?
                        .query_row([seq], |r| r.get::<_, String>(0))
                        .optional()?
                        .as_deref()
                        == Some(actor.as_str())
                }
            };
        if !intact {
            *self = KeyMirror::default();
        }
        if top == self.upto {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT l.seq, a.actor_hex, a.sign_key, d.id, d.unit FROM key_log l
             JOIN device_actors a ON a.actor_hex = l.actor_hex
             JOIN devices d ON d.id = a.device_id
             WHERE l.seq > ?1 AND l.seq <= ?2 AND a.sign_key IS NOT NULL ORDER BY l.seq",
        )?;
        let rows = stmt.query_map([self.upto, top], |r| {
            Ok((r.get::<_, i64>(0)?, KeyEntry::from_row(r, 1)?))
        })?;
        let entries = Arc::make_mut(&mut self.entries);
        for row in rows {
            let (seq, key) = row?;
            let json = serde_json::value::to_raw_value(&key)
                .map_err(|e| AppError::Internal(format!("key entry: {e}")))?;
            entries.push((seq, key.actor, json));
        }
        self.upto = top;
        Ok(())
    }

    /// The entries after `after`, and the position a device holding them is at.
    fn after(&self, after: i64) -> (KeysAfter, i64) {
        let from = self.entries.partition_point(|(seq, _, _)| *seq <= after);
        let last = self
            .entries
            .last()
            .map_or(after, |(seq, _, _)| (*seq).max(after));
        (
            KeysAfter {
                all: Arc::clone(&self.entries),
                from,
            },
            last,
        )
    }
}

/// Keys of the directory after a position, shared with the mirror they were read from;
/// serialized as the JSON array of their [`KeyEntry`]s.
#[derive(Debug, Clone)]
pub struct KeysAfter {
    all: Arc<Vec<(i64, String, Box<RawValue>)>>,
    from: usize,
}

impl KeysAfter {
    /// How many keys.
    pub fn len(&self) -> usize {
        self.all.len() - self.from
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for KeysAfter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for (_, _, json) in &self.all[self.from..] {
            seq.serialize_element(json.as_ref())?;
        }
        seq.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The key log read straight from SQLite, as the relay read it before the mirror.
    fn straight(db: &Db, after: i64) -> (Vec<KeyEntry>, i64) {
        let mut stmt = db
            .conn
            .prepare(
                "SELECT l.seq, a.actor_hex, a.sign_key, d.id, d.unit FROM key_log l
                 JOIN device_actors a ON a.actor_hex = l.actor_hex
                 JOIN devices d ON d.id = a.device_id
                 WHERE l.seq > ?1 AND a.sign_key IS NOT NULL ORDER BY l.seq",
            )
            .unwrap();
        let mut last = after;
        let keys = stmt
            .query_map([after], |r| {
                last = last.max(r.get::<_, i64>(0)?);
                Ok(KeyEntry {
                    actor: r.get(1)?,
                    key: hex::encode(r.get::<_, Vec<u8>>(2)?),
                    device: r.get(3)?,
                    unit: r.get(4)?,
                })
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (keys, last)
    }

    fn enrol(db: &Db, unit: &str, n: u8) -> String {
        let (_, code) = db.create_enrolment(unit, &format!("máy {n}"), 600).unwrap();
        let actor = format!("{n:02x}").repeat(16);
        db.redeem(&code, &actor, Some(&[n; 32])).unwrap();
        actor
    }

    fn mirrored(db: &Db, after: i64) -> (serde_json::Value, i64) {
        let (keys, last) = db.sign_keys_after(after).unwrap();
        (serde_json::to_value(&keys).unwrap(), last)
    }

    fn check(db: &Db) {
        let (_, top) = straight(db, 0);
        for after in 0..=top + 1 {
            let (keys, last) = straight(db, after);
            assert_eq!(
                mirrored(db, after),
                (serde_json::to_value(&keys).unwrap(), last),
                "after {after}"
            );
        }
    }

    #[test]
    fn the_key_mirror_answers_as_the_key_log_does_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("relay.sqlite3")).unwrap();
        db.add_unit("Bộ Chỉ huy BĐBP tỉnh", None).unwrap();
        db.add_unit("Đồn Biên phòng Tân Thành", Some("Bộ Chỉ huy BĐBP tỉnh"))
            .unwrap();
        check(&db);
        for n in 1..=5 {
            enrol(&db, "Đồn Biên phòng Tân Thành", n);
            check(&db);
        }
        // A device enrolled without a key holds a place in no log.
        let (_, code) = db
            .create_enrolment("Bộ Chỉ huy BĐBP tỉnh", "máy cũ", 600)
            .unwrap();
        db.redeem(&code, &"ee".repeat(16), None).unwrap();
        check(&db);
        enrol(&db, "Bộ Chỉ huy BĐBP tỉnh", 6);
        check(&db);
        let (keys, last) = db.sign_keys_after(0).unwrap();
        assert_eq!((keys.len(), last), (6, 6));
        let json = serde_json::to_value(&keys).unwrap();
        assert_eq!(json[5]["unit"], "Bộ Chỉ huy BĐBP tỉnh");
        assert_eq!(json[5]["key"], "06".repeat(32));
        assert!(db.sign_keys_after(6).unwrap().0.is_empty());
    }

    #[test]
    fn a_key_read_then_undone_is_not_kept_when_its_place_goes_to_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("relay.sqlite3")).unwrap();
        db.add_unit("Đồn Biên phòng Tân Thành", None).unwrap();
        enrol(&db, "Đồn Biên phòng Tân Thành", 1);
        // A write that registers a key, read by a feed in the same transaction, then undone.
        db.conn.execute_batch("BEGIN").unwrap();
        enrol(&db, "Đồn Biên phòng Tân Thành", 2);
        assert_eq!(db.sign_keys_after(0).unwrap().0.len(), 2);
        db.conn.execute_batch("ROLLBACK").unwrap();
        // Without forgetting: the place the undone key held now goes to another device.
        let third = enrol(&db, "Đồn Biên phòng Tân Thành", 3);
        check(&db);
        let (keys, _) = mirrored(&db, 0);
        assert_eq!(keys.as_array().unwrap().len(), 2);
        assert_eq!(keys[1]["actor"], third);
        // And when nothing took its place.
        db.conn.execute_batch("BEGIN").unwrap();
        enrol(&db, "Đồn Biên phòng Tân Thành", 4);
        enrol(&db, "Đồn Biên phòng Tân Thành", 5);
        assert_eq!(db.sign_keys_after(0).unwrap().0.len(), 4);
        db.conn.execute_batch("ROLLBACK").unwrap();
        check(&db);
        assert_eq!(db.sign_keys_after(0).unwrap().0.len(), 2);
    }
}
