//! Importing a file bundle on the relay, for `POST /v1/bundles` (a device uploads what it
//! carried on a USB stick) and `tidemark-server bundle import` (the administrator, trusted).
//!
//! Each document goes the way of a sync item: created first when the relay lacks it (same
//! rules as `POST /v1/documents`), its data applied to a fork of the relay's copy, the
//! authorship check of [`crate::sync::check_authors`], the write check for an uploading device,
//! then chunk, feed row and (for a new document) its creation in one transaction. A refused
//! document changes nothing and never stops the others; its status goes into the receipt.

use std::str::FromStr;

use automerge::{AutoCommit, ChangeHash};
use tidemark_sync_protocol::{Bundle, BundleDoc, Receipt, ReceiptDoc, RECEIPT_FORMAT};

use crate::cache::DocCache;
use crate::db::{now, Access, Db, Device, DocMeta, ImportWrite, NewDocument};
use crate::error::AppError;
use crate::references::references;
use crate::sync::{
    check_authors, chunk_for, hex_heads, new_changes, set_aside, take_doc, ItemError, Via,
};

/// Who imports a bundle.
#[derive(Debug, Clone, Copy)]
pub enum Importer<'a> {
    /// A device uploading it: creation rules and the write check of its unit apply.
    Device(&'a Device),
    /// The administrator on the relay machine: trusted with creation and writing, but the
    /// authorship check still applies to every change.
    Admin,
}

impl Importer<'_> {
    /// The uploading device's id, if a device uploads.
    fn device(&self) -> Option<&str> {
        match self {
            Importer::Device(d) => Some(&d.id),
            Importer::Admin => None,
        }
    }

    fn actor(&self) -> &str {
        match self {
            Importer::Device(d) => &d.id,
            Importer::Admin => "admin",
        }
    }

    fn unit(&self) -> Option<&str> {
        match self {
            Importer::Device(d) => Some(&d.unit),
            Importer::Admin => None,
        }
    }
}

/// Imports every document of `bundle` and returns the receipt. `sha256` identifies the file
/// ([`tidemark_sync_protocol::bundle_sha256_hex`]); `max_doc_id` caps document id length.
/// A document that fails, even on the relay's side (`internal`), fails alone.
pub fn import_bundle(
    db: &Db,
    cache: &mut DocCache,
    importer: Importer<'_>,
    bundle: &Bundle,
    sha256: &str,
    max_doc_id: usize,
) -> Result<Receipt, AppError> {
    db.audit(importer.actor(), "bundle.import", &bundle.header.bundle_id)?;
    let mut documents = Vec::with_capacity(bundle.docs.len());
    for doc in &bundle.docs {
        documents.push(match import_doc(db, cache, importer, doc, max_doc_id) {
            Ok((accepted, heads)) => ReceiptDoc {
                id: doc.meta.id.clone(),
                status: "ok".into(),
                accepted,
                heads,
                message: None,
            },
            Err(Failed(ItemError(code, detail), heads)) => ReceiptDoc {
                id: doc.meta.id.clone(),
                status: code.into(),
                accepted: 0,
                heads,
                message: Some(detail),
            },
        });
    }
    let ok = documents.iter().filter(|d| d.status == "ok").count();
    tracing::info!(
        docs = documents.len(),
        ok,
        refused = documents.len() - ok,
        "bundle imported"
    );
    Ok(Receipt {
        format: RECEIPT_FORMAT.into(),
        version: 1,
        bundle_id: bundle.header.bundle_id.clone(),
        bundle_sha256: sha256.to_string(),
        imported_at: now(),
        by_unit: by_unit(db, importer, bundle)?,
        by_device: importer.actor().to_string(),
        documents,
    })
}

/// The importing unit: the device's, or for the administrator the top of the sender's unit
/// tree (the relay is run by the provincial command), else the unit the bundle was for.
fn by_unit(db: &Db, importer: Importer<'_>, bundle: &Bundle) -> Result<String, AppError> {
    if let Importer::Device(d) = importer {
        return Ok(d.unit.clone());
    }
    match db.unit_chain(&bundle.header.from_unit) {
        Ok(mut chain) => Ok(chain.pop().unwrap_or_default()),
        Err(AppError::NotFound { .. }) => Ok(bundle.header.for_unit.clone().unwrap_or_default()),
        Err(e) => Err(e),
    }
}

/// A refused document: its status, and the relay's heads for it when the importer may see
/// them.
struct Failed(ItemError, Vec<String>);

impl From<ItemError> for Failed {
    fn from(e: ItemError) -> Self {
        Failed(e, Vec::new())
    }
}

impl From<AppError> for Failed {
    fn from(e: AppError) -> Self {
        Failed(ItemError::from(e), Vec::new())
    }
}

/// Imports one document: (changes accepted, heads after).
fn import_doc(
    db: &Db,
    cache: &mut DocCache,
    importer: Importer<'_>,
    bundle_doc: &BundleDoc,
    max_doc_id: usize,
) -> Result<(usize, Vec<String>), Failed> {
    let id = bundle_doc.meta.id.as_str();
    if id.is_empty() || id.len() > max_doc_id {
        return Err(ItemError("bad_doc_id", "document id is empty or too long".into()).into());
    }
    let (meta, create) = match db.doc_meta(id)? {
        Some(meta) => (meta, None),
        None => planned(db, importer, bundle_doc)?,
    };
    let access = match importer.unit() {
        Some(unit) => db.access(unit, &meta)?,
        None => Access::Write,
    };
    if access == Access::None {
        let detail = "this unit may not read this document";
        return Err(ItemError("forbidden", detail.into()).into());
    }
    let taken = take_doc(db, cache, id)?;
    let mut doc = taken.doc;
    let at = std::time::Instant::now();
    match apply(
        db,
        importer,
        id,
        &meta,
        create,
        access,
        &mut doc,
        taken.stored,
        bundle_doc,
    ) {
        Ok((mut fork, accepted, stored, version)) => {
            let heads = hex_heads(&mut fork);
            cache.put(id, fork, stored, version.unwrap_or(taken.version), at);
            Ok((accepted, heads))
        }
        Err(e) => {
            // Only the fork saw the bundle's data: the relay's copy stays as it was.
            let heads = hex_heads(&mut doc);
            cache.put(id, doc, taken.stored, taken.version, at);
            Err(Failed(e, heads))
        }
    }
}

/// What a document the relay lacks would be: its meta for the checks, and the creation to
/// commit with its changes.
fn planned(
    db: &Db,
    importer: Importer<'_>,
    bundle_doc: &BundleDoc,
) -> Result<(DocMeta, Option<NewDocument>), Failed> {
    let m = &bundle_doc.meta;
    let grants = crate::defaults::grants(Some(&m.kind), &m.parties, &[])
        .map_err(|e| ItemError(e.code(), e.to_string()))?;
    let new = NewDocument {
        id: m.id.clone(),
        owner: m.owner_unit.clone(),
        grants,
    };
    match db.check_new(importer.unit(), &new) {
        Ok(()) => {}
        Err(AppError::Forbidden(detail)) => return Err(ItemError("forbidden", detail).into()),
        Err(AppError::NotFound { .. }) => {
            let detail = "the owner unit or a party unit is unknown to the relay";
            return Err(ItemError("not_found", detail.into()).into());
        }
        Err(e) => return Err(e.into()),
    }
    let meta = DocMeta {
        owner: new.owner.clone(),
        grants: new.grants.clone(),
    };
    Ok((meta, Some(new)))
}

/// Applies the data to a fork of `doc`, checks it, commits: (fork, accepted, stored size, new
/// version).
#[allow(clippy::too_many_arguments)]
fn apply(
    db: &Db,
    importer: Importer<'_>,
    id: &str,
    meta: &DocMeta,
    create: Option<NewDocument>,
    access: Access,
    doc: &mut AutoCommit,
    stored: usize,
    bundle_doc: &BundleDoc,
) -> Result<(AutoCommit, usize, usize, Option<i64>), ItemError> {
    let before = doc.get_heads();
    let mut fork = doc.fork();
    fork.load_incremental(&bundle_doc.data).map_err(|e| {
        ItemError(
            "bad_message",
            format!("the document data does not load: {e}"),
        )
    })?;
    check_heads(&mut fork, &bundle_doc.meta.heads)?;
    let new = new_changes(&mut fork, &before);
    // As for a sync message: a reader carrying changes is refused first, then every new
    // change must have a legitimate author.
    if access < Access::Write && !new.is_empty() {
        let detail = "this unit may not write this document";
        return Err(ItemError("forbidden", detail.into()));
    }
    let mut accepted = new.len();
    let held = check_authors(db, id, meta, &mut fork, &new)?;
    let incoming = tidemark_sync_protocol::signature::from_hex_map(&bundle_doc.meta.signatures);
    let signatures = crate::signing::check_signatures(db, &mut fork, &new, &incoming)?;
    if !held.is_empty() {
        let via = Via {
            doc_id: id,
            how: "bundle",
            device: importer.device(),
        };
        let changes = fork.get_changes(&before);
        (fork, accepted) = set_aside(db, doc, &changes, &held, &via)?;
    }
    let chunk = chunk_for(db, id, &mut fork, &before, accepted, stored, None)?;
    let attachments = chunk.bytes.is_some().then(|| references(&fork));
    let version = db.commit_import(&ImportWrite {
        actor: importer.actor().to_string(),
        create,
        doc_id: id.to_string(),
        chunk: chunk.bytes,
        replaces_all: chunk.compact,
        heads: hex_heads(&mut fork),
        attachments,
        signatures,
    })?;
    Ok((fork, accepted, chunk.stored, version))
}

/// Every head the bundle promises must be in the fork: otherwise the data was incomplete or
/// depends on changes the relay lacks, and nothing is taken.
fn check_heads(fork: &mut AutoCommit, heads: &[String]) -> Result<(), ItemError> {
    let mut missing = 0;
    for h in heads {
        let hash = ChangeHash::from_str(h)
            .map_err(|_| ItemError("bad_message", "a head is not a change hash".into()))?;
        if fork.get_change_by_hash(&hash).is_none() {
            missing += 1;
        }
    }
    if missing > 0 {
        return Err(ItemError(
            "bad_message",
            format!(
                "{missing} of {} heads are missing after applying the data: it is incomplete or \
                 depends on changes the relay does not have",
                heads.len()
            ),
        ));
    }
    Ok(())
}
