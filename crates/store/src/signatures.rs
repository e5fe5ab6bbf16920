//! Change signatures and the signing-key directory (issue 10): raw bytes here; what they mean
//! is the client's business.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{Store, StoreError, Tx};

/// A change hash and one signature of it.
pub type Signature = ([u8; 32], [u8; 64]);

/// One entry of the key directory: the actor (hex), its Ed25519 public key, the device and its
/// unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignKey {
    /// Hex actor id.
    pub actor: String,
    /// Public key bytes.
    pub key: Vec<u8>,
    /// The device that registered it.
    pub device: String,
    /// That device's unit.
    pub unit: String,
}

fn put(conn: &Connection, sigs: &[Signature]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO change_signatures (hash, sig) VALUES (?1, ?2)")?;
    for (hash, sig) in sigs {
        stmt.execute(params![&hash[..], &sig[..]])?;
    }
    Ok(())
}

fn lookup(conn: &Connection, hashes: &[[u8; 32]]) -> Result<Vec<Signature>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT sig FROM change_signatures WHERE hash = ?1")?;
    let mut out = Vec::new();
    for hash in hashes {
        let rows = stmt.query_map([&hash[..]], |r| r.get::<_, Vec<u8>>(0))?;
        for sig in rows {
            if let Ok(sig) = <[u8; 64]>::try_from(sig?.as_slice()) {
                out.push((*hash, sig));
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Every signature known for the given change hashes.
    pub fn signatures_for(&self, hashes: &[[u8; 32]]) -> Result<Vec<Signature>, StoreError> {
        lookup(&self.conn, hashes)
    }

    /// The key directory, by hex actor.
    pub fn sign_keys(&self) -> Result<HashMap<String, SignKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT actor, key, device, unit FROM sign_keys")?;
        let rows = stmt.query_map([], |r| {
            Ok(SignKey {
                actor: r.get(0)?,
                key: r.get(1)?,
                device: r.get(2)?,
                unit: r.get(3)?,
            })
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let row = row?;
            out.insert(row.actor.clone(), row);
        }
        Ok(out)
    }
}

impl Tx<'_> {
    /// Stores signatures with this write (a signature already known is kept once).
    pub fn put_signatures(&self, sigs: &[Signature]) -> Result<(), StoreError> {
        put(&self.tx, sigs)
    }

    /// Every signature known for the given change hashes, as seen inside this write.
    pub fn signatures_for(&self, hashes: &[[u8; 32]]) -> Result<Vec<Signature>, StoreError> {
        lookup(&self.tx, hashes)
    }

    /// Replaces the key directory with the relay's (keys are only ever added there).
    pub fn put_sign_keys(&self, keys: &[SignKey]) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO sign_keys (actor, key, device, unit) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(actor) DO UPDATE SET key = excluded.key, device = excluded.device,
                 unit = excluded.unit",
        )?;
        for k in keys {
            stmt.execute(params![k.actor, k.key, k.device, k.unit])?;
        }
        Ok(())
    }

    /// Writes a metadata value with this write.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
        Ok(())
    }

    /// A metadata value, as seen inside this write.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }
}
