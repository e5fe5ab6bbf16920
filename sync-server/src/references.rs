//! Attachment references in a document (see the protocol document, "Attachments"): wherever a
//! map holds the key `attachments` with a list as its value, each map in that list refers to
//! the content addresses under its `hash` (the file) and `thumb` (its thumbnail).
//!
//! The domain writes these strings as scalars (autosurgeon); a `Text` object is read too.
//! Values that are not 64 lowercase hex digits are ignored.

use std::collections::BTreeSet;

use automerge::{
    AutoCommit, LoadOptions, ObjId, ObjType, ReadDoc, TextEncoding, Value, ValueRef, ROOT,
};
use tidemark_sync_protocol::attachment::is_hash;

use crate::db::Db;
use crate::error::AppError;

/// Objects nested deeper than this are not walked: records are a few levels deep, and the cap
/// keeps a pathological document from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// Keys of an attachment entry that hold content addresses.
const REFERENCE_KEYS: [&str; 2] = ["hash", "thumb"];

/// Every content address `doc` refers to, sorted, each once.
pub fn references<R: ReadDoc>(doc: &R) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(doc, &ROOT, ObjType::Map, 0, &mut out);
    out
}

/// Reads the references of the documents stored before the relay knew attachments (once,
/// when it first starts after the upgrade); returns how many documents were read. A document
/// that does not load is logged and left for the next start.
pub fn backfill(db: &Db) -> Result<usize, AppError> {
    let pending = db.docs_without_refs()?;
    let mut done = 0;
    for id in &pending {
        let bytes = db.load_chunks(id)?;
        let refs = if bytes.is_empty() {
            BTreeSet::new()
        } else {
            let options = LoadOptions::new()
                .text_encoding(TextEncoding::Utf8CodeUnit)
                .on_partial_load(automerge::OnPartialLoad::Error);
            match AutoCommit::load_with_options(&bytes, options) {
                Ok(doc) => references(&doc),
                Err(e) => {
                    tracing::error!(doc = %id, error = %e, "stored document does not load");
                    continue;
                }
            }
        };
        db.set_attachment_refs(id, &refs)?;
        done += 1;
    }
    if !pending.is_empty() {
        tracing::info!(
            docs = done,
            "attachment references read from stored documents"
        );
    }
    Ok(done)
}

/// Visits every object below `obj`, collecting the entries of each `attachments` list.
fn walk<R: ReadDoc>(doc: &R, obj: &ObjId, kind: ObjType, depth: usize, out: &mut BTreeSet<String>) {
    if depth >= MAX_DEPTH {
        return;
    }
    for (key, child, child_kind) in children(doc, obj, kind) {
        if key.as_deref() == Some("attachments") && child_kind == ObjType::List {
            collect(doc, &child, out);
        }
        walk(doc, &child, child_kind, depth + 1, out);
    }
}

/// The object-valued children of a map (with their keys) or a list.
fn children<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    kind: ObjType,
) -> Vec<(Option<String>, ObjId, ObjType)> {
    match kind {
        ObjType::Map | ObjType::Table => doc
            .map_range(obj, ..)
            .filter_map(|item| match item.value {
                ValueRef::Object(t) => Some((Some(item.key.to_string()), item.id(), t)),
                ValueRef::Scalar(_) => None,
            })
            .collect(),
        ObjType::List => doc
            .list_range(obj, ..)
            .filter_map(|item| match item.value {
                ValueRef::Object(t) => Some((None, item.id(), t)),
                ValueRef::Scalar(_) => None,
            })
            .collect(),
        ObjType::Text => Vec::new(),
    }
}

/// The references of the map entries of one `attachments` list.
fn collect<R: ReadDoc>(doc: &R, list: &ObjId, out: &mut BTreeSet<String>) {
    for item in doc.list_range(list, ..) {
        if !matches!(item.value, ValueRef::Object(ObjType::Map)) {
            continue;
        }
        let entry = item.id();
        for key in REFERENCE_KEYS {
            if let Some(s) = string_at(doc, &entry, key).filter(|s| is_hash(s)) {
                out.insert(s);
            }
        }
    }
}

/// The string under `key` of map `obj`: a scalar string or a `Text` object.
fn string_at<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_string),
        (Value::Object(ObjType::Text), id) => doc.text(&id).ok(),
        (Value::Object(_), _) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, Automerge, AutomergeError, ScalarValue};
    use tidemark_sync_protocol::attachment::sha256_hex;

    /// Puts a new `attachments` list of `{hash, thumb?, name}` entries under `parent`.
    fn attachments(
        tx: &mut impl Transactable,
        parent: &ObjId,
        entries: &[(&str, Option<&str>)],
    ) -> Result<ObjId, AutomergeError> {
        let list = tx.put_object(parent, "attachments", ObjType::List)?;
        for (i, (hash, thumb)) in entries.iter().enumerate() {
            let entry = tx.insert_object(&list, i, ObjType::Map)?;
            tx.put(&entry, "hash", *hash)?;
            tx.put(&entry, "name", "ảnh tàu cá.jpg")?;
            if let Some(t) = thumb {
                tx.put(&entry, "thumb", *t)?;
            }
        }
        Ok(list)
    }

    #[test]
    fn references_are_found_at_the_root_and_in_nested_lists() {
        let [a, b, c, d, e] = [b"a", b"b", b"c", b"d", b"e"].map(|x| sha256_hex(x));
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(ROOT, "location", "Cửa biển Soài Rạp")?;
            attachments(tx, &ROOT, &[(&a, Some(&b))])?;
            let violations = tx.put_object(ROOT, "violations", ObjType::List)?;
            let first = tx.insert_object(&violations, 0, ObjType::Map)?;
            tx.put(&first, "kind", "Khai thác hải sản trái phép")?;
            let list = attachments(tx, &first, &[(&c, None), ("không-phải-hash", None)])?;
            // A `hash` written as text is read too.
            let entry = tx.insert_object(&list, 2, ObjType::Map)?;
            let text = tx.put_object(&entry, "hash", ObjType::Text)?;
            tx.splice_text(&text, 0, 0, &d)?;
            // An entry that is not a map, and `attachments` that is not a list, are ignored.
            tx.insert(&list, 3, ScalarValue::Str(e.clone().into()))?;
            let other = tx.insert_object(&violations, 1, ObjType::Map)?;
            tx.put(&other, "attachments", e.as_str())?;
            Ok(())
        })
        .unwrap();

        let want: BTreeSet<String> = [a, b, c, d].into_iter().collect();
        assert_eq!(references(&doc), want);
        let loaded = AutoCommit::load(&doc.save()).unwrap();
        assert_eq!(references(&loaded), want);
    }

    #[test]
    fn a_document_without_attachments_refers_to_nothing() {
        let mut doc = AutoCommit::new();
        let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.splice_text(&notes, 0, 0, "Tuần tra bình thường.")
            .unwrap();
        doc.put(ROOT, "hash", sha256_hex(b"x")).unwrap();
        assert!(references(&doc).is_empty());
    }
}
