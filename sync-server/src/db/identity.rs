//! Units, devices, one-time enrolment codes and bearer tokens.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{audit, now, random_hex, sha256_hex, Db};
use crate::error::AppError;

/// An authenticated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// The unit it belongs to.
    pub unit: String,
}

/// One line of `device list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Device id.
    pub id: String,
    /// Its unit.
    pub unit: String,
    /// Its label.
    pub name: String,
    /// Whether the code has been exchanged for a token.
    pub enrolled: bool,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A change the relay set aside instead of applying.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldChange {
    /// Its Automerge hash.
    pub hash: String,
    /// The document it belongs to.
    pub doc_id: String,
    /// Its author's actor.
    pub actor_hex: String,
    /// The device that registered that actor.
    pub device_id: Option<String>,
    /// When it says it was made (unix seconds).
    pub made_at: i64,
    /// `after_revocation`, or `depends_on_held` for a change built on a held one.
    pub reason: String,
    /// `sync` or `bundle`.
    pub via: String,
    /// The device that brought it.
    pub via_device: Option<String>,
    /// When the relay set it aside.
    pub held_at: i64,
    /// Its size in bytes.
    pub size: i64,
}

/// The result of a successful enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The new device's id.
    pub device_id: String,
    /// The bearer token; shown once, stored only hashed.
    pub token: String,
    /// The device's unit.
    pub unit: String,
    /// The top-most ancestor of that unit (the provincial command).
    pub root_unit: String,
}

impl Db {
    /// Adds a unit under `parent` (a root when `None`).
    pub fn add_unit(&self, name: &str, parent: Option<&str>) -> Result<(), AppError> {
        if name.trim().is_empty() {
            return Err(AppError::bad("bad_unit", "unit name is empty"));
        }
        if let Some(p) = parent {
            self.unit_parent(p)?;
        }
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO units (name, parent, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![name, parent, now()])?;
        if n == 0 {
            return Err(AppError::Conflict {
                code: "exists",
                message: "unit exists already".into(),
            });
        }
        audit(&self.conn, "admin", "unit.add", name)
    }

    /// Registers a device of `unit` and returns (device id, one-time code).
    pub fn create_enrolment(
        &self,
        unit: &str,
        name: &str,
        ttl_secs: u64,
    ) -> Result<(String, String), AppError> {
        self.unit_parent(unit)?;
        let device_id = format!("dev-{}", random_hex(6));
        let code = random_hex(12);
        let expires = now().saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        let tx = self.write()?;
        tx.prepare_cached("INSERT INTO devices (id, unit, name) VALUES (?1, ?2, ?3)")?
            .execute(params![device_id, unit, name])?;
        tx.prepare_cached(
            "INSERT INTO enrol_codes (code_sha256, device_id, expires_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![sha256_hex(&code), device_id, expires])?;
        audit(&tx, "admin", "device.enroll", &device_id)?;
        tx.commit()?;
        Ok((device_id, code))
    }

    /// Exchanges a one-time code for a token, registering `actor_hex` as the device's actor
    /// and `sign_key` as the public key that signs its changes.
    pub fn redeem(
        &self,
        code: &str,
        actor_hex: &str,
        sign_key: Option<&[u8]>,
    ) -> Result<Enrolment, AppError> {
        let invalid = || AppError::Unauthorized("enrolment code is unknown, used or expired");
        let tx = self.write()?;
        let row: Option<(String, i64, Option<i64>)> = tx
            .prepare_cached(
                "SELECT device_id, expires_at, used_at FROM enrol_codes WHERE code_sha256 = ?1",
            )?
            .query_row([sha256_hex(code)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let device_id = match row {
            Some((id, expires, None)) if expires > now() => id,
            _ => return Err(invalid()),
        };
        let unit: String = tx
            .prepare_cached("SELECT unit FROM devices WHERE id = ?1")?
            .query_row([&device_id], |r| r.get(0))?;
        let root_unit = self
            .unit_chain(&unit)?
            .pop()
            .unwrap_or_else(|| unit.clone());
        let taken: Option<String> = tx
            .prepare_cached("SELECT device_id FROM device_actors WHERE actor_hex = ?1")?
            .query_row([actor_hex], |r| r.get(0))
            .optional()?;
        if taken.is_some() {
            return Err(AppError::Conflict {
                code: "actor_taken",
                message: "this actor id belongs to another device".into(),
            });
        }
        let token = format!("tmk_{}", random_hex(32));
        tx.prepare_cached("UPDATE enrol_codes SET used_at = ?1 WHERE code_sha256 = ?2")?
            .execute(params![now(), sha256_hex(code)])?;
        tx.prepare_cached("UPDATE devices SET token_sha256 = ?1, enrolled_at = ?2 WHERE id = ?3")?
            .execute(params![sha256_hex(&token), now(), device_id])?;
        tx.prepare_cached(
            "INSERT INTO device_actors (actor_hex, device_id, sign_key, key_registered_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            actor_hex,
            device_id,
            sign_key,
            sign_key.map(|_| now())
        ])?;
        if sign_key.is_some() {
            tx.prepare_cached("INSERT INTO key_log (actor_hex) VALUES (?1)")?
                .execute([actor_hex])?;
        }
        audit(&tx, &device_id, "device.enrolled", &device_id)?;
        tx.commit()?;
        Ok(Enrolment {
            device_id,
            token,
            unit,
            root_unit,
        })
    }

    /// The device holding `token`, if it exists and is not revoked.
    pub fn authenticate(&self, token: &str) -> Result<Option<Device>, AppError> {
        device_by_token(&self.conn, token)
    }

    /// All devices, oldest first.
    pub fn list_devices(&self) -> Result<Vec<DeviceRow>, AppError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, unit, name, token_sha256 IS NOT NULL, revoked_at FROM devices ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeviceRow {
                id: r.get(0)?,
                unit: r.get(1)?,
                name: r.get(2)?,
                enrolled: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a device: its token stops working at once and its actors stop being accepted.
    pub fn revoke(&self, device_id: &str) -> Result<(), AppError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE devices SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![now(), device_id])?;
        if n == 0 {
            return Err(AppError::NotFound {
                what: "active device",
            });
        }
        audit(&self.conn, "admin", "device.revoke", device_id)
    }

    /// The device that registered `actor_hex`, whether revoked or not: (unit, device id,
    /// revocation time).
    pub fn actor_standing(
        &self,
        actor_hex: &str,
    ) -> Result<Option<(String, String, Option<i64>)>, AppError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.unit, d.id, d.revoked_at FROM device_actors a
                 JOIN devices d ON d.id = a.device_id WHERE a.actor_hex = ?1",
            )?
            .query_row([actor_hex], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    /// Sets changes aside for review (a change already held stays as it was).
    pub fn hold_changes(&self, held: &[(HeldChange, Vec<u8>)]) -> Result<(), AppError> {
        let tx = self.write()?;
        for (h, bytes) in held {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO held_changes
                 (hash, doc_id, actor_hex, device_id, made_at, reason, via, via_device, held_at, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(
                params![
                    h.hash,
                    h.doc_id,
                    h.actor_hex,
                    h.device_id,
                    h.made_at,
                    h.reason,
                    h.via,
                    h.via_device,
                    h.held_at,
                    bytes
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether every one of `hashes` is held for `doc_id`.
    pub fn all_held(&self, doc_id: &str, hashes: &[String]) -> Result<bool, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM held_changes WHERE hash = ?1 AND doc_id = ?2")?;
        for h in hashes {
            if !stmt.exists(params![h, doc_id])? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Changes held for review, oldest first.
    pub fn held_changes(&self) -> Result<Vec<HeldChange>, AppError> {
        let mut stmt = self.conn.prepare(
            "SELECT hash, doc_id, actor_hex, device_id, made_at, reason, via, via_device, held_at,
                    length(bytes)
             FROM held_changes ORDER BY held_at, hash",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HeldChange {
                hash: r.get(0)?,
                doc_id: r.get(1)?,
                actor_hex: r.get(2)?,
                device_id: r.get(3)?,
                made_at: r.get(4)?,
                reason: r.get(5)?,
                via: r.get(6)?,
                via_device: r.get(7)?,
                held_at: r.get(8)?,
                size: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Units whose non-revoked devices registered `actor_hex` (at most one).
    pub fn actor_unit(&self, actor_hex: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.unit FROM device_actors a JOIN devices d ON d.id = a.device_id
                 WHERE a.actor_hex = ?1 AND d.revoked_at IS NULL",
            )?
            .query_row([actor_hex], |r| r.get(0))
            .optional()?)
    }
}

/// The device a token belongs to, unless it was revoked.
fn device_by_token(conn: &Connection, token: &str) -> Result<Option<Device>, AppError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, unit FROM devices WHERE token_sha256 = ?1 AND revoked_at IS NULL",
        )?
        .query_row([sha256_hex(token)], |r| {
            Ok(Device {
                id: r.get(0)?,
                unit: r.get(1)?,
            })
        })
        .optional()?)
}

/// A read-only connection of its own for checking tokens, beside the one [`Db`] writes through.
///
/// Every request's token used to be checked in a turn of the database queue, and its work then
/// queued again: under a burst, a device's second request waited behind the whole queue twice.
/// In WAL mode a reader sees every committed write at its next statement and never waits for
/// the writer, so a revocation (by the relay or an admin command) still counts at once. S5's
/// burst did not get faster for it (the wave's total work is what its last request waits for,
/// in any order); it is kept because sync work no longer queues behind unauthenticated
/// requests.
#[derive(Debug)]
pub struct Tokens {
    conn: Mutex<Connection>,
}

impl Tokens {
    /// Opens the database at `path` (created and migrated by [`Db::open`] first) for reading.
    pub fn open(path: &Path) -> Result<Tokens, AppError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(Tokens {
            conn: Mutex::new(conn),
        })
    }

    /// The device `token` belongs to, unless it was revoked.
    pub fn authenticate(&self, token: &str) -> Result<Option<Device>, AppError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| AppError::Internal("token reader lock poisoned".into()))?;
        device_by_token(&conn, token)
    }
}
