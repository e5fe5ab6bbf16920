//! Who may have made a change (architecture decision 8), and what happens to a revoked
//! device's changes made after its revocation: held back for review, the rest applied.

use std::collections::HashMap;

use automerge::sync::State;
use automerge::{ActorId, AutoCommit, ChangeHash};
use tidemark_domain::genesis;

use super::ItemError;
use crate::db::{Access, Db, DocMeta};

/// What the checks need of a change new to the relay: its hash, author and time. Read from the
/// change's metadata, so the change itself is not rebuilt from the document (a fifth of the
/// cost of taking in a device's new patrol).
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    pub(crate) hash: ChangeHash,
    pub(crate) actor: ActorId,
    pub(crate) timestamp: i64,
}

/// The changes `doc` holds beyond `before`, as the checks need them.
pub(crate) fn new_changes(doc: &mut AutoCommit, before: &[ChangeHash]) -> Vec<NewChange> {
    doc.get_changes_meta(before)
        .into_iter()
        .map(|m| NewChange {
            hash: m.hash,
            actor: m.actor.into_owned(),
            timestamp: m.timestamp,
        })
        .collect()
}

/// A change by a revoked device's actor, made after the revocation: its hash and the device.
pub(crate) struct Hold {
    hash: ChangeHash,
    device_id: String,
}

/// Checks that every change new to the relay is made by an actor registered to a device of a
/// unit that may write the document (`forged_author` otherwise; shared by sync items and bundle
/// imports). A revoked device's changes made before its revocation pass; those made after it
/// are returned to be held back for review, whoever brings them.
///
/// One change has no author: a unit record's first change, which every device of the unit
/// makes the same from the unit's name (`tidemark_domain::genesis`). It passes when it is that
/// change exactly, made again here from the name it holds; whoever brings it must still be
/// allowed to write the document (checked before this).
pub(crate) fn check_authors(
    db: &Db,
    doc_id: &str,
    meta: &DocMeta,
    fork: &mut AutoCommit,
    changes: &[NewChange],
) -> Result<Vec<Hold>, ItemError> {
    let mut seen: HashMap<String, Option<(String, Option<i64>)>> = HashMap::new();
    let mut held = Vec::new();
    for change in changes {
        let actor = change.actor.to_hex_string();
        let standing = match seen.get(&actor) {
            Some(s) => s.clone(),
            None => {
                let s = match db.actor_standing(&actor)? {
                    Some((unit, device, revoked)) if db.access(&unit, meta)? == Access::Write => {
                        Some((device, revoked))
                    }
                    _ => None,
                };
                seen.insert(actor, s.clone());
                s
            }
        };
        match standing {
            None if is_genesis(fork, doc_id, change) => {}
            None => {
                return Err(ItemError(
                    "forged_author",
                    "a change is made by an actor that may not write this document".into(),
                ))
            }
            Some((device_id, Some(revoked_at))) if change.timestamp > revoked_at => {
                held.push(Hold {
                    hash: change.hash,
                    device_id,
                });
            }
            Some(_) => {}
        }
    }
    Ok(held)
}

/// Whether `change` (in `fork`) is the first change of unit record `doc_id` as every device
/// makes it.
fn is_genesis(fork: &mut AutoCommit, doc_id: &str, change: &NewChange) -> bool {
    if change.actor.to_bytes() != genesis::GENESIS_ACTOR.as_slice() {
        return false;
    }
    fork.get_change_by_hash(&change.hash)
        .is_some_and(|c| genesis::is_unit_genesis(doc_id, &c))
}

/// Whether the peer's heads that `fork` lacks are all held changes (and there is one at least).
pub(super) fn waits_only_on_held(
    db: &Db,
    doc_id: &str,
    fork: &mut AutoCommit,
    state: &State,
) -> Result<bool, ItemError> {
    let missing: Vec<String> = state
        .their_heads
        .iter()
        .flatten()
        .filter(|h| fork.get_change_meta_by_hash(h).is_none())
        .map(|h| h.to_string())
        .collect();
    Ok(!missing.is_empty() && db.all_held(doc_id, &missing)?)
}

/// Where held changes came from.
pub(crate) struct Via<'a> {
    pub(crate) doc_id: &'a str,
    /// `sync` or `bundle`.
    pub(crate) how: &'static str,
    pub(crate) device: Option<&'a str>,
}

/// A fork of `doc` with the new changes except the held ones and whatever depends on them,
/// and how many it took; those set aside are recorded for review. `changes` are the changes new
/// to `doc` that were checked (in causal order, as `get_changes` gives them), `held` what
/// [`check_authors`] held.
pub(crate) fn set_aside(
    db: &Db,
    doc: &mut AutoCommit,
    changes: &[automerge::Change],
    held: &[Hold],
    via: &Via<'_>,
) -> Result<(AutoCommit, usize), ItemError> {
    let held_at: HashMap<automerge::ChangeHash, &Hold> = held.iter().map(|h| (h.hash, h)).collect();
    // `changes` come in causal order, so one pass finds everything built on a held change.
    let mut aside: std::collections::HashSet<automerge::ChangeHash> =
        held_at.keys().copied().collect();
    for c in changes {
        if c.deps().iter().any(|d| aside.contains(d)) {
            aside.insert(c.hash());
        }
    }
    let now = crate::db::now();
    let rows: Vec<(crate::db::HeldChange, Vec<u8>)> = changes
        .iter()
        .filter(|c| aside.contains(&c.hash()))
        .map(|c| {
            let hold = held_at.get(&c.hash());
            (
                crate::db::HeldChange {
                    hash: c.hash().to_string(),
                    doc_id: via.doc_id.to_string(),
                    actor_hex: c.actor_id().to_hex_string(),
                    device_id: hold.map(|h| h.device_id.clone()),
                    made_at: c.timestamp(),
                    reason: if hold.is_some() {
                        "after_revocation"
                    } else {
                        "depends_on_held"
                    }
                    .into(),
                    via: via.how.into(),
                    via_device: via.device.map(String::from),
                    held_at: now,
                    size: c.raw_bytes().len() as i64,
                },
                c.raw_bytes().to_vec(),
            )
        })
        .collect();
    db.hold_changes(&rows)?;
    tracing::warn!(
        doc = via.doc_id,
        held = rows.len(),
        via = via.how,
        "changes held for review (a revoked device's, made after its revocation)"
    );
    let mut fork = doc.fork();
    fork.apply_changes(
        changes
            .iter()
            .filter(|c| !aside.contains(&c.hash()))
            .cloned(),
    )
    .map_err(|e| ItemError("bad_message", format!("cannot apply the changes: {e}")))?;
    Ok((fork, changes.len() - aside.len()))
}
