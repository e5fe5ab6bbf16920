//! Conflicts: every field that holds concurrent values, with each value's author and time.
//!
//! `hydrate` shows one deterministic winner; the conflicts inbox reads all values with
//! `get_all` (architecture decision 4). Resolving puts one value, whose predecessors are all the
//! concurrent values, so it supersedes every one of them.

use automerge::{transaction::Transactable, ObjId, ObjType, Prop, ReadDoc, Value, ROOT};
use serde::Serialize;

use crate::document::{CommitMeta, RecordDoc};
use crate::error::DomainError;
use crate::json;

/// One field with concurrent values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Path of the field, e.g. `vessel` or `vessels_inspected[0].result`.
    pub field: String,
    /// The concurrent values; the first is the one currently shown.
    pub values: Vec<ConflictValue>,
}

/// One of the concurrent values of a field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value.
    pub value: serde_json::Value,
    /// Who wrote it and when (from the commit's metadata).
    pub author: CommitMeta,
    /// Time of the change, unix seconds.
    pub time: i64,
    /// Hash of the change that wrote it.
    pub change: String,
}

/// Whether the document's changes form one chain: a single first change, each other change
/// built on exactly one, and a single head. Then nothing in it was written concurrently, and
/// the walk over every field (most of the cost of storing a received record) can be skipped.
fn linear_history(doc: &mut RecordDoc) -> bool {
    let am = doc.automerge();
    if am.get_heads().len() != 1 {
        return false;
    }
    let changes = am.get_changes_meta(&[]);
    let roots = changes.iter().filter(|c| c.deps.is_empty()).count();
    roots == 1 && changes.iter().all(|c| c.deps.len() <= 1)
}

/// Every conflicted field of the document.
pub fn conflicts(doc: &mut RecordDoc) -> Result<Vec<Conflict>, DomainError> {
    if linear_history(doc) {
        // Each change saw every earlier one: no two values of a field were ever concurrent.
        return Ok(Vec::new());
    }
    let mut found: Vec<(String, Vec<(serde_json::Value, automerge::ObjId)>)> = Vec::new();
    walk(doc.automerge(), &ROOT, "", &mut found)?;
    let am = doc.automerge();
    let mut out = Vec::new();
    for (field, values) in found {
        let mut vals = Vec::new();
        for (value, id) in values {
            let (author, change) = match am.hash_for_opid(&id) {
                Some(hash) => {
                    let meta = am.get_change_meta_by_hash(&hash);
                    let author = meta
                        .map(|m| CommitMeta::from_commit(m.message.as_deref(), m.timestamp))
                        .unwrap_or_else(|| CommitMeta::from_commit(None, 0));
                    (author, hash.to_string())
                }
                None => (CommitMeta::from_commit(None, 0), String::new()),
            };
            vals.push(ConflictValue {
                value,
                time: author.time,
                author,
                change,
            });
        }
        out.push(Conflict {
            field,
            values: vals,
        });
    }
    Ok(out)
}

fn walk<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    path: &str,
    out: &mut Vec<(String, Vec<(serde_json::Value, ObjId)>)>,
) -> Result<(), DomainError> {
    let props: Vec<(Prop, String)> = match doc.object_type(obj)? {
        ObjType::Map | ObjType::Table => doc
            .keys(obj)
            .map(|k| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                (Prop::Map(k), p)
            })
            .collect(),
        ObjType::List => (0..doc.length(obj))
            .map(|i| (Prop::Seq(i), format!("{path}[{i}]")))
            .collect(),
        ObjType::Text => return Ok(()),
    };
    for (prop, field) in props {
        let all = doc.get_all(obj, prop.clone())?;
        // Concurrent writes of the same value are not a disagreement anyone must settle.
        let distinct = all
            .iter()
            .map(|(v, id)| json::value(doc, v, id, None))
            .collect::<Vec<_>>();
        if all.len() > 1 && distinct.iter().any(|v| *v != distinct[0]) {
            let mut values: Vec<(serde_json::Value, ObjId)> = all
                .iter()
                .map(|(v, id)| (json::value(doc, v, id, None), id.clone()))
                .collect();
            // Show the current winner first.
            if let Some((_, winner)) = doc.get(obj, prop.clone())? {
                values.sort_by_key(|(_, id)| *id != winner);
            }
            out.push((field.clone(), values));
        }
        if let Some((Value::Object(t), child)) = doc.get(obj, prop)? {
            if t != ObjType::Text {
                walk(doc, &child, &field, out)?;
            }
        }
    }
    Ok(())
}

/// Resolves a conflict on a top-level field: `value` becomes the field's only value.
///
/// The record is first written with the chosen value (validated like any edit); if that
/// changed nothing because the chosen value was already the winner, the winner is written again
/// so that the new operation supersedes every concurrent one.
pub fn resolve(
    doc: &mut RecordDoc,
    field: &str,
    raw: &str,
    meta: &CommitMeta,
) -> Result<(), DomainError> {
    let meta = meta.with_op("resolve");
    let updated = crate::document::with_field(&doc.read()?, field, raw)?;
    doc.write(&updated, &meta)?;
    let am = doc.automerge();
    if am.get_all(ROOT, field)?.len() <= 1 {
        return Ok(());
    }
    match am.get(ROOT, field)? {
        Some((Value::Scalar(s), _)) => {
            let s = s.into_owned();
            am.put(ROOT, field, s)?;
        }
        Some((Value::Object(ObjType::Text), id)) => {
            let text = am.text(&id)?;
            let new = am.put_object(ROOT, field, ObjType::Text)?;
            am.splice_text(&new, 0, 0, &text)?;
        }
        Some((Value::Object(_), _)) => {
            // Lists and maps: re-create the chosen value as a fresh object over all others.
            let value = updated_field(&updated, field)?;
            am.put(ROOT, field, automerge::ScalarValue::Null)?;
            autosurgeon::reconcile_prop(am, ROOT, field, JsonValue(&value))?;
        }
        None => {}
    }
    doc.commit(&meta);
    Ok(())
}

fn updated_field(record: &crate::Record, field: &str) -> Result<serde_json::Value, DomainError> {
    let v = serde_json::to_value(record).map_err(|e| DomainError::Unreadable(e.to_string()))?;
    Ok(v.get(field).cloned().unwrap_or(serde_json::Value::Null))
}

/// Writes plain JSON through autosurgeon (used only to re-create a resolved list or map).
struct JsonValue<'a>(&'a serde_json::Value);

impl autosurgeon::Reconcile for JsonValue<'_> {
    type Key<'k> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: autosurgeon::Reconciler>(&self, mut r: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::{MapReconciler, SeqReconciler};
        match self.0 {
            serde_json::Value::Null => r.none(),
            serde_json::Value::Bool(b) => r.boolean(*b),
            serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => r.u64(u),
                (_, Some(i), _) => r.i64(i),
                (_, _, f) => r.f64(f.unwrap_or_default()),
            },
            serde_json::Value::String(s) => r.str(s),
            serde_json::Value::Array(items) => {
                let mut seq = r.seq()?;
                for (i, item) in items.iter().enumerate() {
                    seq.insert(i, JsonValue(item))?;
                }
                Ok(())
            }
            serde_json::Value::Object(m) => {
                let mut map = r.map()?;
                for (k, v) in m {
                    map.put(k, JsonValue(v))?;
                }
                Ok(())
            }
        }
    }
}
