//! Documents, grants and access: creation (one or a batch in one transaction), sharing, the
//! access rule.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::chunks::INSERT_FEED;
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
    pub(super) fn parse(s: &str) -> Access {
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

/// A document to create: id, owner unit, grants (defaults of its kind already applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// The document id.
    pub id: String,
    /// The owner unit.
    pub owner: String,
    /// Grants to other units.
    pub grants: Vec<Grant>,
}

/// A document's owner and grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    /// Owner unit.
    pub owner: String,
    /// Grants to other units.
    pub grants: Vec<Grant>,
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
        let doc = NewDocument {
            id: id.to_string(),
            owner: owner.to_string(),
            grants: grants.to_vec(),
        };
        self.check_new(Some(&device.unit), &doc)?;
        let tx = self.write()?;
        insert_document(&tx, &device.id, &doc)?;
        tx.commit()?;
        Ok(())
    }

    /// Creates many documents in one transaction; one result per document, in order. A
    /// document that is refused (`forbidden`, `not_found`, `exists`) writes nothing; a database
    /// failure fails them all.
    pub fn create_documents(
        &self,
        device: &Device,
        docs: &[NewDocument],
    ) -> Result<Vec<Result<(), AppError>>, AppError> {
        let tx = self.write()?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs {
            let result = self
                .check_new(Some(&device.unit), doc)
                .and_then(|()| insert_document(&tx, &device.id, doc));
            match result {
                Err(e @ (AppError::Database(_) | AppError::Internal(_))) => return Err(e),
                other => out.push(other),
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Checks that a document may be created before anything is written: the owner unit
    /// exists and, for a device, is its unit or below it; every granted unit exists.
    pub fn check_new(&self, creator_unit: Option<&str>, doc: &NewDocument) -> Result<(), AppError> {
        let chain = self.unit_chain(&doc.owner)?;
        if let Some(unit) = creator_unit {
            if !chain.iter().any(|u| u == unit) {
                return Err(AppError::Forbidden(
                    "a device creates documents only for its unit or units below it".into(),
                ));
            }
        }
        for g in &doc.grants {
            self.unit_parent(&g.unit)?;
        }
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
        let tx = self.write()?;
        for g in grants {
            self.unit_parent(&g.unit)?;
            match g.access {
                Access::None => tx
                    .prepare_cached("DELETE FROM grants WHERE doc_id = ?1 AND unit = ?2")?
                    .execute(params![id, g.unit])?,
                a => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO grants (doc_id, unit, access) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![
                        id,
                        g.unit,
                        if a == Access::Write { "write" } else { "read" }
                    ])?,
            };
        }
        let heads: Option<String> = tx
            .prepare_cached("SELECT heads FROM feed WHERE doc_id = ?1 ORDER BY seq DESC LIMIT 1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        tx.prepare_cached(INSERT_FEED)?
            .execute(params![id, heads.unwrap_or_default()])?;
        audit(&tx, &device.id, "document.share", id)?;
        tx.commit()?;
        Ok(())
    }

    /// Owner and grants of a document; `None` if unknown.
    pub fn doc_meta(&self, id: &str) -> Result<Option<DocMeta>, AppError> {
        let owner: Option<String> = self
            .conn
            .prepare_cached("SELECT owner_unit FROM documents WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(owner) = owner else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT unit, access FROM grants WHERE doc_id = ?1 ORDER BY unit")?;
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
        let granted = meta
            .grants
            .iter()
            .find(|g| g.unit == unit)
            .map_or(Access::None, |g| g.access);
        access_rule(unit, &meta.owner, granted, || {
            Ok(self.unit_chain(&meta.owner)?.iter().any(|u| u == unit))
        })
    }
}

/// The access rule of [`Db::access`], given the document's `owner` and what `unit` is
/// `granted` on it; `is_ancestor` (whether `unit` is above the owner) is asked only when the
/// answer depends on it, so that a caller reading many documents can remember it by owner.
pub(crate) fn access_rule(
    unit: &str,
    owner: &str,
    granted: Access,
    is_ancestor: impl FnOnce() -> Result<bool, AppError>,
) -> Result<Access, AppError> {
    if unit == owner {
        return Ok(Access::Write);
    }
    let inherited = if is_ancestor()? {
        Access::Read
    } else {
        Access::None
    };
    Ok(granted.max(inherited))
}

/// Inserts a checked document with its grants, an empty-heads feed row and an audit row;
/// `Conflict` (`exists`) when the id is taken. Runs inside the caller's transaction.
pub(super) fn insert_document(
    conn: &Connection,
    created_by: &str,
    doc: &NewDocument,
) -> Result<(), AppError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO documents (id, owner_unit, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![doc.id, doc.owner, created_by, now()])?;
    if n == 0 {
        return Err(AppError::Conflict {
            code: "exists",
            message: "document exists already".into(),
        });
    }
    for g in &doc.grants {
        let access = match g.access {
            Access::Write => "write",
            Access::Read => "read",
            Access::None => continue,
        };
        conn.prepare_cached(
            "INSERT OR REPLACE INTO grants (doc_id, unit, access) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![doc.id, g.unit, access])?;
    }
    conn.prepare_cached(INSERT_FEED)?
        .execute(params![doc.id, ""])?;
    audit(conn, created_by, "document.create", &doc.id)
}
