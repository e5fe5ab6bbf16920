//! Field-level history: who changed which field, when, old → new.
//!
//! Derived from the Automerge change graph: for each change (in causal order) the record is read
//! as JSON at the change's dependencies and at the change itself, and the two are compared field
//! by field. "Old" is therefore what the author saw when making the change.

use std::collections::BTreeMap;

use automerge::ROOT;
use serde::Serialize;

use crate::document::{CommitMeta, RecordDoc};
use crate::error::DomainError;
use crate::json;

/// One change to a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// Hash of the Automerge change.
    pub change: String,
    /// The change's actor (hex): whose device made it.
    pub actor: String,
    /// Whether its signature verifies (`verified`, `unsigned`, `forged`, `unknown_key`), once
    /// the client has checked it; `None` when not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'static str>,
    /// Who made it, with what operation.
    pub author: CommitMeta,
    /// Unix seconds.
    pub time: i64,
    /// Fields it changed.
    pub fields: Vec<FieldChange>,
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Field path, e.g. `notes` or `vessels_inspected[1].result`.
    pub field: String,
    /// Value before (absent when the field was created).
    pub old: Option<serde_json::Value>,
    /// Value after (absent when the field was removed).
    pub new: Option<serde_json::Value>,
}

/// The record's history, oldest first.
pub fn history(doc: &mut RecordDoc) -> Result<Vec<HistoryEntry>, DomainError> {
    let am = doc.automerge();
    let changes = am.get_changes(&[]);
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let hash = change.hash();
        let deps = change.deps().to_vec();
        let before = if deps.is_empty() {
            BTreeMap::new()
        } else {
            flat(&json::object(am.document(), &ROOT, Some(&deps)))
        };
        let after = flat(&json::object(am.document(), &ROOT, Some(&[hash])));
        let mut fields = Vec::new();
        for (path, new) in &after {
            match before.get(path) {
                Some(old) if old == new => {}
                old => fields.push(FieldChange {
                    field: path.clone(),
                    old: old.cloned(),
                    new: Some(new.clone()),
                }),
            }
        }
        for (path, old) in &before {
            if !after.contains_key(path) {
                fields.push(FieldChange {
                    field: path.clone(),
                    old: Some(old.clone()),
                    new: None,
                });
            }
        }
        let author = CommitMeta::from_commit(change.message(), change.timestamp());
        out.push(HistoryEntry {
            change: hash.to_string(),
            actor: change.actor_id().to_hex_string(),
            signature: None,
            time: author.time,
            author,
            fields,
        });
    }
    Ok(out)
}

fn flat(v: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    let mut pairs = Vec::new();
    json::flatten("", v, &mut pairs);
    // `id` and `type` are written once at creation and never change: not history.
    pairs
        .into_iter()
        .filter(|(k, _)| k != "id" && k != "type")
        .collect()
}
