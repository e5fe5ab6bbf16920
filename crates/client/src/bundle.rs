//! File bundles for when no link exists: write the changes a recipient lacks to a
//! self-describing, checksummed file (carried on a USB stick), merge one, and learn from the
//! receipt the recipient writes back what arrived.
//!
//! Import is all or nothing: the file's checksum is verified before anything is parsed, and
//! every document is applied inside one SQLite transaction that commits only if all apply.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use automerge::ChangeHash;
use rand::RngCore;
use serde::Serialize;
use tidemark_domain::{document::RecordDoc, fold_for_search, records::Record};
use tidemark_store::{heads_key, ReceiptRow};
use tidemark_sync_protocol::{
    bundle_sha256_hex, decode_bundle, encode_bundle, Bundle, BundleDoc, BundleDocMeta,
    BundleHeader, BundleLimits, Receipt, ReceiptDoc, BUNDLE_FORMAT, BUNDLE_VERSION, RECEIPT_FORMAT,
};

use crate::records::persist;
use crate::sync::sharing;
use crate::{now_secs, Client, ClientError};

/// What `bundle export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BundleWritten {
    /// The bundle's id (receipts refer to it).
    pub bundle_id: String,
    /// Documents in it.
    pub documents: usize,
    /// Documents left out because the recipient already has them (per `--since`).
    pub unchanged: usize,
    /// File size in bytes.
    pub bytes: usize,
    /// SHA-256 of the file (hex).
    pub sha256: String,
}

/// What `bundle import` merged.
#[derive(Debug, Clone, Serialize)]
pub struct BundleMerged {
    /// The bundle's id.
    pub bundle_id: String,
    /// The unit that wrote it.
    pub from_unit: String,
    /// Documents in the bundle.
    pub documents: usize,
    /// Documents that changed here.
    pub changed: usize,
    /// Changes that were new here.
    pub new_changes: usize,
    /// New changes whose signature does not verify under their author's registered key:
    /// merged (the history flags them) but worth a look.
    pub forged: usize,
    /// A note when the bundle was written for another unit.
    pub warning: Option<String>,
    /// The receipt to send back to the sender.
    #[serde(skip)]
    pub receipt: Receipt,
}

fn hashes(hex: &[String]) -> Option<Vec<ChangeHash>> {
    hex.iter().map(|h| h.parse().ok()).collect()
}

impl Client {
    /// Writes a bundle to `out` with the documents `for_unit` may read (every document when
    /// `None`), holding only the changes after what `since` (a receipt from the recipient)
    /// says it has. The file is written to a temporary name and renamed, so a full disk or a
    /// pulled stick never leaves a half bundle under the real name.
    pub fn export_bundle(
        &self,
        out: &Path,
        for_unit: Option<&str>,
        since: Option<&Receipt>,
    ) -> Result<BundleWritten, ClientError> {
        let own_unit = self
            .relay_config()?
            .map(|c| c.unit)
            .unwrap_or_else(|| self.identity().unit.clone());
        let readable = match for_unit {
            Some(u) => Some(ReadFilter::new(self, u)?),
            None => None,
        };
        let known: HashMap<&str, &ReceiptDoc> = since
            .map(|r| {
                r.documents
                    .iter()
                    .filter(|d| d.status == "ok")
                    .map(|d| (d.id.as_str(), d))
                    .collect()
            })
            .unwrap_or_default();
        let mut docs = Vec::new();
        let mut unchanged = 0;
        for id in self.store().doc_ids()? {
            let Some(json) = self.store().record_json(&id)? else {
                continue;
            };
            let record: Record = serde_json::from_str(&json)
                .map_err(|e| ClientError::User(format!("record {id} does not read back: {e}")))?;
            let share =
                sharing(self, &record, &own_unit).map_err(|e| ClientError::User(e.message))?;
            if let Some(filter) = &readable {
                if !filter.may_read(&share.owner, &share.parties) {
                    continue;
                }
            }
            let Some(bytes) = self.store().load_doc(&id)? else {
                continue;
            };
            let mut doc = RecordDoc::load(&bytes, &self.identity().actor)?;
            let heads = doc.heads();
            // The recipient's heads may include changes this device never saw (it merged
            // others' work): what it lacks from us is what is not below the ones we know.
            let theirs: Vec<ChangeHash> = known
                .get(id.as_str())
                .and_then(|d| hashes(&d.heads))
                .unwrap_or_default()
                .into_iter()
                .filter(|h| doc.has_heads(std::slice::from_ref(h)))
                .collect();
            let data = if theirs.is_empty() {
                doc.save()
            } else if doc.covers(&theirs, &heads) {
                unchanged += 1;
                continue;
            } else {
                doc.save_after(&theirs)
            };
            // The signatures of the changes the bundle carries, so the importer (a relay or
            // another device) can check who made them.
            let carried: Vec<[u8; 32]> = doc
                .automerge()
                .get_changes(&theirs)
                .iter()
                .map(|c| c.hash().0)
                .collect();
            let signatures = tidemark_sync_protocol::signature::to_hex_map(
                crate::signing::to_wire(self.store().signatures_for(&carried)?),
            );
            docs.push(BundleDoc {
                meta: BundleDocMeta {
                    id: id.clone(),
                    kind: record.kind().as_str().to_string(),
                    owner_unit: share.owner,
                    parties: share.parties,
                    heads: heads.iter().map(ChangeHash::to_string).collect(),
                    signatures,
                },
                data,
            });
        }
        let mut rid = [0u8; 8];
        rand::rng().fill_bytes(&mut rid);
        let bundle = Bundle {
            header: BundleHeader {
                format: BUNDLE_FORMAT.to_string(),
                version: BUNDLE_VERSION as u32,
                bundle_id: format!("b-{}", hex::encode(rid)),
                created_at: now_secs(),
                from_unit: own_unit,
                from_device: self.identity().device_id.clone(),
                for_unit: for_unit.map(str::to_string),
                since: since.map(|r| r.bundle_id.clone()),
            },
            docs,
        };
        let bytes = encode_bundle(&bundle);
        write_atomically(out, &bytes)?;
        tracing::info!(
            documents = bundle.docs.len(),
            bytes = bytes.len(),
            "bundle written"
        );
        Ok(BundleWritten {
            bundle_id: bundle.header.bundle_id,
            documents: bundle.docs.len(),
            unchanged,
            bytes: bytes.len(),
            sha256: bundle_sha256_hex(&bytes),
        })
    }

    /// Merges a bundle file's bytes. Nothing changes unless every document applies; a
    /// truncated, damaged or altered file is refused with the reason.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<BundleMerged, ClientError> {
        let bundle = decode_bundle(bytes, &BundleLimits::default())
            .map_err(|e| ClientError::User(format!("{e} [{}]", e.code())))?;
        let sha = bundle_sha256_hex(bytes);
        let actor = self.identity().actor.clone();
        let own = self.identity().unit.clone();
        let warning = bundle
            .header
            .for_unit
            .as_ref()
            .filter(|u| fold_for_search(u) != fold_for_search(&own))
            .map(|u| format!("this bundle was written for “{u}”, not for “{own}”"));
        let judge = crate::signing::Judge::new(self)?;
        let mut forged = 0;
        let tx = self.store.begin()?;
        let mut receipt_docs = Vec::with_capacity(bundle.docs.len());
        let (mut changed, mut new_changes) = (0, 0);
        for d in &bundle.docs {
            let mut doc = match tx.load_doc(&d.meta.id)? {
                Some(b) => RecordDoc::load(&b, &actor)?,
                None => RecordDoc::empty(&actor),
            };
            let before = doc.heads();
            let n = doc.apply(&d.data).map_err(|e| {
                ClientError::User(format!(
                    "document {} in the bundle does not apply ({e}); nothing was imported",
                    d.meta.id
                ))
            })?;
            tx.put_signatures(&crate::signing::from_wire(
                &tidemark_sync_protocol::signature::from_hex_map(&d.meta.signatures),
            ))?;
            let mut accepted = 0;
            if doc.heads() != before {
                let arrived = doc.automerge().get_changes(&before);
                let hashes: Vec<[u8; 32]> = arrived.iter().map(|c| c.hash().0).collect();
                forged += judge
                    .judge_with(&arrived, tx.signatures_for(&hashes)?)
                    .values()
                    .filter(|v| **v == tidemark_sync_protocol::Verdict::Forged)
                    .count();
                let record = persist(&tx, &mut doc, &before, false).map_err(|e| match e {
                    ClientError::Store(_) => e,
                    other => ClientError::User(format!(
                        "document {} in the bundle is not a valid record ({other}); nothing was imported",
                        d.meta.id
                    )),
                })?;
                if record.id() != d.meta.id {
                    return Err(ClientError::User(format!(
                        "document {} in the bundle holds record {}; nothing was imported",
                        d.meta.id,
                        record.id()
                    )));
                }
                accepted = n.max(1);
                changed += 1;
                new_changes += accepted;
            }
            receipt_docs.push(ReceiptDoc {
                id: d.meta.id.clone(),
                status: "ok".into(),
                accepted,
                heads: doc.heads().iter().map(ChangeHash::to_string).collect(),
                message: None,
            });
        }
        tx.commit()?;
        tracing::info!(documents = bundle.docs.len(), changed, "bundle merged");
        let receipt = Receipt {
            format: RECEIPT_FORMAT.to_string(),
            version: 1,
            bundle_id: bundle.header.bundle_id.clone(),
            bundle_sha256: sha,
            imported_at: now_secs(),
            by_unit: own,
            by_device: self.identity().device_id.clone(),
            documents: receipt_docs,
        };
        Ok(BundleMerged {
            bundle_id: bundle.header.bundle_id,
            from_unit: bundle.header.from_unit,
            documents: bundle.docs.len(),
            changed,
            new_changes,
            forged,
            warning,
            receipt,
        })
    }

    /// Records what a receipt says arrived at its unit (delivery state `via: bundle`).
    /// Returns the number of documents it confirms.
    pub fn import_receipt(&mut self, receipt: &Receipt) -> Result<usize, ClientError> {
        let hq = self.hq_unit()?;
        let root = hq
            .as_deref()
            .is_some_and(|h| fold_for_search(h) == fold_for_search(&receipt.by_unit));
        let tx = self.store.begin()?;
        let mut n = 0;
        for d in receipt.documents.iter().filter(|d| d.status == "ok") {
            tx.put_receipt(
                &d.id,
                &ReceiptRow {
                    unit: receipt.by_unit.clone(),
                    via: "bundle".into(),
                    root,
                    heads: heads_key(&d.heads),
                    at: receipt.imported_at,
                },
            )?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }
}

/// Which documents a unit may read, as far as this device knows the unit tree: its own, those
/// it is a party to, and those of units below it.
struct ReadFilter {
    unit: String,
    parents: HashMap<String, String>,
    is_hq: bool,
}

impl ReadFilter {
    fn new(c: &Client, unit: &str) -> Result<ReadFilter, ClientError> {
        let tree = c.store().unit_tree()?;
        let key = fold_for_search(unit);
        let mut parents = HashMap::new();
        // The relay's root unit (or a unit record of kind `hq`) is HQ even when this device
        // has no record of it.
        let mut is_hq = c.hq_unit()?.is_some_and(|h| fold_for_search(&h) == key);
        for (name, parent, kind) in tree {
            let k = fold_for_search(&name);
            if k == key && kind == "hq" {
                is_hq = true;
            }
            if let Some(p) = parent {
                parents.insert(k, fold_for_search(&p));
            }
        }
        Ok(ReadFilter {
            unit: key,
            parents,
            is_hq,
        })
    }

    fn may_read(&self, owner: &str, parties: &[String]) -> bool {
        if self.is_hq {
            return true;
        }
        if parties.iter().any(|p| fold_for_search(p) == self.unit) {
            return true;
        }
        let mut at = fold_for_search(owner);
        let mut seen = HashSet::new();
        loop {
            if at == self.unit {
                return true;
            }
            if !seen.insert(at.clone()) {
                return false;
            }
            match self.parents.get(&at) {
                Some(p) => at = p.clone(),
                None => return false,
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed over the target.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bundle".into());
    let tmp = dir.join(format!(".{name}.part"));
    let io = |what: &str, e| ClientError::io(format!("{what} {}", path.display()), e);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("writing", e))?;
    let written = f.write_all(bytes).and_then(|_| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("writing", e));
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("writing", e)
    })
}
