//! One sync item on the relay: access check, load, apply to a fork, authorship check, persist,
//! reply. No HTTP here; the handler batches items and frames the response.
//!
//! Authorship (architecture decision 8): every change the relay did not have must be made by an
//! actor registered to a non-revoked device of a unit that may write the document. Changes
//! relayed on behalf of another writer are fine (a device may carry a colleague's changes that
//! came by USB bundle); changes under an unknown actor, or an actor of a unit that only reads,
//! reject the whole item and nothing is stored.

use std::collections::HashMap;

use automerge::sync::{Capability, Message, State, SyncDoc};
use automerge::{AutoCommit, LoadOptions, TextEncoding};
use serde::Serialize;

use crate::cache::{DocCache, FirstOffer};
use crate::db::{Access, Db, Device, DocMeta, SyncWrite};
use crate::error::AppError;
use crate::references::references;
use crate::session::Sessions;
use crate::signing::{check_signatures, signatures_to_send};
use tidemark_sync_protocol::presume::{presume_shared, WHOLE_FROM};
use tidemark_sync_protocol::ChangeSignature;

/// What the relay keeps in memory between rounds, borrowed for one batch.
#[derive(Debug)]
pub struct Memory<'a> {
    /// Loaded documents.
    pub docs: &'a mut DocCache,
    /// Sync states of open sessions.
    pub sessions: &'a mut Sessions,
    /// The client's session name (`Tidemark-Session`), if it sent one.
    pub session: Option<&'a str>,
}

/// Chunks a document may have before the relay compacts it into one.
pub const COMPACT_AFTER_CHUNKS: usize = 32;

/// The result of one item, as reported in the response's status document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemStatus {
    /// The document.
    pub doc_id: String,
    /// `ok` or a stable error code (`not_found`, `forbidden`, `forged_author`, `bad_message`,
    /// `corrupt_document`, `internal`).
    pub code: &'static str,
    /// Changes newly accepted from this message.
    pub accepted: usize,
    /// Human-readable detail for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What one item produced: its status and the relay's reply message, if it has one.
#[derive(Debug)]
pub struct ItemOutcome {
    /// Status for the response header.
    pub status: ItemStatus,
    /// Encoded `automerge::sync::Message` to send back.
    pub reply: Option<Vec<u8>>,
    /// Signatures of the changes in `reply`.
    pub signatures: Vec<ChangeSignature>,
    /// Whether the document was loaded from storage for this item.
    pub loaded: bool,
}

/// A per-item failure: a stable code and a detail.
#[derive(Debug)]
pub(crate) struct ItemError(pub(crate) &'static str, pub(crate) String);

impl From<AppError> for ItemError {
    fn from(e: AppError) -> Self {
        tracing::error!(error = %e, "sync item failed");
        ItemError("internal", "internal error".into())
    }
}

/// Runs one sync item for `device`. Never panics on peer bytes; errors become a status.
pub fn sync_item(
    db: &Db,
    memory: &mut Memory<'_>,
    device: &Device,
    doc_id: &str,
    message: &[u8],
    signatures: &[ChangeSignature],
) -> ItemOutcome {
    let mut loaded = false;
    match run(db, memory, device, doc_id, message, signatures, &mut loaded) {
        Ok((accepted, reply, signatures)) => ItemOutcome {
            status: ItemStatus {
                doc_id: doc_id.to_string(),
                code: "ok",
                accepted,
                message: None,
            },
            reply,
            signatures,
            loaded,
        },
        Err(ItemError(code, detail)) => ItemOutcome {
            status: ItemStatus {
                doc_id: doc_id.to_string(),
                code,
                accepted: 0,
                message: Some(detail),
            },
            reply: None,
            signatures: Vec::new(),
            loaded,
        },
    }
}

/// What [`run`] gives: changes accepted, the reply and the signatures of its changes.
type Ran = (usize, Option<Vec<u8>>, Vec<ChangeSignature>);

fn run(
    db: &Db,
    memory: &mut Memory<'_>,
    device: &Device,
    doc_id: &str,
    message: &[u8],
    signatures: &[ChangeSignature],
    loaded: &mut bool,
) -> Result<Ran, ItemError> {
    let meta = db
        .doc_meta(doc_id)?
        .ok_or_else(|| ItemError("not_found", "unknown document".into()))?;
    let access = db.access(&device.unit, &meta)?;
    if access == Access::None {
        return Err(ItemError(
            "forbidden",
            "this unit may not read this document".into(),
        ));
    }
    let msg = Message::decode(message)
        .map_err(|e| ItemError("bad_message", format!("not a sync message: {e}")))?;
    if access < Access::Write && !msg.changes.is_empty() {
        return Err(ItemError(
            "forbidden",
            "this unit may not write this document".into(),
        ));
    }
    let taken = take_doc(db, memory.docs, doc_id)?;
    *loaded = taken.loaded;
    let (mut doc, stored, version) = (taken.doc, taken.stored, taken.version);
    let state = session_state(db, memory, doc_id, device)?;
    let item = Item {
        doc_id,
        device,
        meta: &meta,
        access,
        signatures,
    };
    let now = std::time::Instant::now();
    match advance(db, &item, &mut doc, stored, msg, state) {
        Ok(done) => {
            let version = done.version.unwrap_or(version);
            memory
                .docs
                .put(doc_id, done.fork, done.stored, version, now);
            if let Some(session) = memory.session {
                memory
                    .sessions
                    .put(doc_id, &device.id, session, done.state, now);
            }
            tracing::debug!(doc = doc_id, device = %device.id, accepted = done.accepted, "sync item");
            Ok((
                done.accepted,
                done.reply.map(Message::encode),
                done.reply_signatures,
            ))
        }
        Err(e) => {
            // Nothing was applied to `doc` (only to its fork): keep it loaded.
            memory.docs.put(doc_id, doc, stored, version, now);
            Err(e)
        }
    }
}

/// The relay's sync state for (document, device): this session's, else the persisted one
/// (shared heads only), else a new one.
fn session_state(
    db: &Db,
    memory: &mut Memory<'_>,
    doc_id: &str,
    device: &Device,
) -> Result<State, ItemError> {
    if let Some(state) = memory
        .session
        .and_then(|s| memory.sessions.take(doc_id, &device.id, s))
    {
        return Ok(state);
    }
    Ok(match db.sync_state(doc_id, &device.id)? {
        Some(bytes) => State::decode(&bytes).unwrap_or_else(|_| State::new()),
        None => State::new(),
    })
}

/// An offered message (encoded) and the signatures of its changes.
pub(crate) type Offer = (Vec<u8>, Vec<ChangeSignature>);

/// The relay's first message of a session for a document the device has not spoken about yet:
/// every change after the heads the relay last knew the device to share (its persisted sync
/// state), as if the device had said "I have those heads and nothing else". This is how a
/// session's first request brings the device's news without a round trip to learn its heads.
///
/// `None` when the device is known to hold the relay's heads, when there is no session to keep
/// the state in, or when the relay's record of what they share is not in its copy (the device
/// then asks the usual way). A device that lacks what the relay believed it shares simply does
/// not apply the changes and asks for what it misses in its next message: Automerge's sync
/// recovers, at the cost of a round trip.
pub(crate) fn offer(
    db: &Db,
    memory: &mut Memory<'_>,
    device: &Device,
    doc_id: &str,
    access: Access,
) -> Result<Option<Offer>, ItemError> {
    let Some(session) = memory.session else {
        return Ok(None);
    };
    let mut state = session_state(db, memory, doc_id, device)?;
    let read_only = access < Access::Write;
    // A device that holds none of the document starts from an empty state, and so gets the
    // same message as every other such device: made once per stored version, then reused.
    let first = state == State::new();
    let now = std::time::Instant::now();
    let version = db.doc_version(doc_id)?;
    if first {
        if let Some(kept) = memory.docs.first_offer(doc_id, version, read_only) {
            let (message, state) = (kept.message.clone(), kept.state.clone());
            let signatures = signatures_to_send(db, &kept.sent)?;
            memory.sessions.put(doc_id, &device.id, session, state, now);
            return Ok(Some((message, signatures)));
        }
    }
    let taken = take_doc_at(db, memory.docs, doc_id, version)?;
    let (mut doc, stored) = (taken.doc, taken.stored);
    let mut heads = doc.get_heads();
    heads.sort();
    let mut shared = state.shared_heads.clone();
    shared.sort();
    let known = shared
        .iter()
        .all(|h| doc.get_change_meta_by_hash(h).is_some());
    if heads.is_empty() || heads == shared || !known {
        memory.docs.put(doc_id, doc, stored, version, now);
        memory.sessions.put(doc_id, &device.id, session, state, now);
        return Ok(None);
    }
    state.set_read_only(read_only);
    let to_send = doc.get_changes_meta(&shared).len();
    presume_shared(&mut state, to_send);
    let sent_before = state.sent_hashes.clone();
    let message = doc.sync().generate_sync_message(&mut state);
    let sent: Vec<automerge::ChangeHash> = state
        .sent_hashes
        .difference(&sent_before)
        .copied()
        .collect();
    let signatures = signatures_to_send(db, &sent)?;
    let message = message.map(|m| m.encode());
    if let (true, Some(m)) = (first, &message) {
        let kept = FirstOffer::new(version, read_only, m.clone(), state.clone(), sent);
        memory.docs.keep_first_offer(doc_id, kept);
    }
    memory.docs.put(doc_id, doc, stored, version, now);
    memory.sessions.put(doc_id, &device.id, session, state, now);
    Ok(message.map(|m| (m, signatures)))
}

/// The document and caller of one item, as checked.
struct Item<'a> {
    doc_id: &'a str,
    device: &'a Device,
    meta: &'a DocMeta,
    access: Access,
    /// Signatures that came with the message.
    signatures: &'a [ChangeSignature],
}

/// What an accepted item leaves behind.
struct Advanced {
    fork: AutoCommit,
    stored: usize,
    version: Option<i64>,
    state: State,
    accepted: usize,
    reply: Option<Message>,
    reply_signatures: Vec<ChangeSignature>,
}

/// Applies `msg` to a fork of `doc`, checks authorship and commits. `doc` itself is untouched.
fn advance(
    db: &Db,
    item: &Item<'_>,
    doc: &mut AutoCommit,
    stored: usize,
    msg: Message,
    mut state: State,
) -> Result<Advanced, ItemError> {
    let (doc_id, device) = (item.doc_id, item.device);
    state.set_read_only(item.access < Access::Write);
    let before = doc.get_heads();
    let mut fork = doc.fork();
    fork.sync()
        .receive_sync_message(&mut state, msg)
        .map_err(|e| ItemError("bad_message", format!("cannot apply sync message: {e}")))?;
    let new_changes = fork.get_changes(&before);
    let mut accepted = new_changes.len();
    let held = check_authors(db, item.meta, &new_changes)?;
    let signatures = check_signatures(db, &mut fork, &new_changes, item.signatures)?;
    if !held.is_empty() {
        let via = Via {
            doc_id,
            how: "sync",
            device: Some(&device.id),
        };
        (fork, accepted) = set_aside(db, doc, &new_changes, &held, &via)?;
    }
    let sent_before = state.sent_hashes.clone();
    let caps = few_changes_as_they_are(&mut fork, &mut state);
    let reply = if waits_only_on_held(db, doc_id, &mut fork, &state)? {
        // The device's heads rest on held changes the relay will not take: answer as a reader
        // would (no request for them, nothing when there is nothing else to say), or the device
        // and the relay would ask each other for them round after round. The flag is set
        // directly, not through `set_read_only`, which would reset the session.
        let was = state.read_only;
        state.read_only = true;
        let reply = fork.sync().generate_sync_message(&mut state);
        state.read_only = was;
        reply
    } else {
        fork.sync().generate_sync_message(&mut state)
    };
    if let Some(caps) = caps {
        state.their_capabilities = caps;
    }
    let sent: Vec<automerge::ChangeHash> = state
        .sent_hashes
        .difference(&sent_before)
        .copied()
        .collect();
    let reply_signatures = signatures_to_send(db, &sent)?;
    let chunk = chunk_for(db, doc_id, &mut fork, &before, accepted, stored)?;
    let attachments = chunk.bytes.is_some().then(|| references(&fork));
    let version = db.commit_sync(&SyncWrite {
        doc_id: doc_id.to_string(),
        device_id: device.id.clone(),
        chunk: chunk.bytes,
        replaces_all: chunk.compact,
        heads: hex_heads(&mut fork),
        state: state.encode(),
        attachments,
        signatures,
    })?;
    Ok(Advanced {
        fork,
        stored: chunk.stored,
        version,
        state,
        accepted,
        reply,
        reply_signatures,
    })
}

/// Before a reply to a device whose heads are known: when it lacks fewer than
/// [`WHOLE_FROM`] changes, the reply should carry them as they are, as a session's first
/// message does (`presume_shared`). Automerge sends a whole save instead as soon as they are a
/// third of the document: a station's unit record, made by each of its devices once, was
/// re-saved (and its columns DEFLATEd) for every device that brought its copy, about a tenth
/// of the relay's CPU in the first wave of S5. Hides the peer's support for whole-document
/// messages for this one reply; returns what to restore.
fn few_changes_as_they_are(
    fork: &mut AutoCommit,
    state: &mut State,
) -> Option<Option<Vec<Capability>>> {
    let theirs = state.their_heads.clone()?;
    if theirs.is_empty()
        || !theirs
            .iter()
            .all(|h| fork.get_change_meta_by_hash(h).is_some())
    {
        return None;
    }
    let missing = fork.get_changes_meta(&theirs).len();
    if missing == 0 || missing >= WHOLE_FROM {
        return None;
    }
    let kept = state.their_capabilities.clone();
    let without = kept
        .iter()
        .flatten()
        .filter(|c| **c != Capability::MessageV2)
        .cloned()
        .collect();
    state.their_capabilities = Some(without);
    Some(kept)
}

/// The bytes to store for a fork's new changes, and the document's stored size after.
pub(crate) struct Chunk {
    /// `None` when there is nothing new.
    pub(crate) bytes: Option<Vec<u8>>,
    /// Whether `bytes` is a full save replacing every stored chunk.
    pub(crate) compact: bool,
    /// Stored size after writing it.
    pub(crate) stored: usize,
}

/// Every accepted change set adds a chunk; past a threshold the document is rewritten as one
/// compacted save in the same transaction, so loading stays one short read.
pub(crate) fn chunk_for(
    db: &Db,
    doc_id: &str,
    fork: &mut AutoCommit,
    before: &[automerge::ChangeHash],
    accepted: usize,
    stored: usize,
) -> Result<Chunk, ItemError> {
    let compact = accepted > 0 && db.chunk_count(doc_id)? + 1 >= COMPACT_AFTER_CHUNKS;
    let bytes = match (accepted > 0, compact) {
        (false, _) => None,
        (true, false) => Some(fork.save_after(before)),
        (true, true) => Some(fork.save()),
    };
    let stored = match (&bytes, compact) {
        (Some(c), true) => c.len(),
        (Some(c), false) => stored + c.len(),
        (None, _) => stored,
    };
    Ok(Chunk {
        bytes,
        compact,
        stored,
    })
}

/// A document's heads as hex.
pub(crate) fn hex_heads(doc: &mut AutoCommit) -> Vec<String> {
    doc.get_heads().iter().map(|h| h.to_string()).collect()
}

/// A document taken for one item.
pub(crate) struct Taken {
    /// The document (empty when the relay has no changes for it yet).
    pub(crate) doc: AutoCommit,
    /// Its stored size.
    pub(crate) stored: usize,
    /// Its stored version ([`Db::doc_version`]).
    pub(crate) version: i64,
    /// Whether it was loaded from storage rather than found in the cache.
    pub(crate) loaded: bool,
}

/// Takes a document out of the cache if it is still at its stored version, else loads it.
pub(crate) fn take_doc(db: &Db, cache: &mut DocCache, doc_id: &str) -> Result<Taken, ItemError> {
    take_doc_at(db, cache, doc_id, db.doc_version(doc_id)?)
}

/// [`take_doc`] for a caller that has just read the stored `version`.
fn take_doc_at(
    db: &Db,
    cache: &mut DocCache,
    doc_id: &str,
    version: i64,
) -> Result<Taken, ItemError> {
    if let Some((doc, stored)) = cache.take(doc_id, version) {
        return Ok(Taken {
            doc,
            stored,
            version,
            loaded: false,
        });
    }
    let (doc, stored) = load(db, doc_id)?;
    Ok(Taken {
        doc,
        stored,
        version,
        loaded: true,
    })
}

/// A change by a revoked device's actor, made after the revocation: index in the list checked,
/// the device, and when it was revoked.
pub(crate) struct Hold {
    index: usize,
    device_id: String,
}

/// Checks that every change new to the relay is made by an actor registered to a device of a
/// unit that may write the document (`forged_author` otherwise; shared by sync items and bundle
/// imports). A revoked device's changes made before its revocation pass; those made after it
/// are returned to be held back for review, whoever brings them.
pub(crate) fn check_authors(
    db: &Db,
    meta: &DocMeta,
    changes: &[automerge::Change],
) -> Result<Vec<Hold>, ItemError> {
    let mut seen: HashMap<String, Option<(String, Option<i64>)>> = HashMap::new();
    let mut held = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        let actor = change.actor_id().to_hex_string();
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
            None => {
                return Err(ItemError(
                    "forged_author",
                    "a change is made by an actor that may not write this document".into(),
                ))
            }
            Some((device_id, Some(revoked_at))) if change.timestamp() > revoked_at => {
                held.push(Hold { index, device_id });
            }
            Some(_) => {}
        }
    }
    Ok(held)
}

/// Whether the peer's heads that `fork` lacks are all held changes (and there is one at least).
fn waits_only_on_held(
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
/// and how many it took; those set aside are recorded for review. `changes` are the changes new to `doc` that were checked
/// (in causal order, as `get_changes` gives them), `held` what [`check_authors`] held.
pub(crate) fn set_aside(
    db: &Db,
    doc: &mut AutoCommit,
    changes: &[automerge::Change],
    held: &[Hold],
    via: &Via<'_>,
) -> Result<(AutoCommit, usize), ItemError> {
    let held_at: HashMap<automerge::ChangeHash, &Hold> =
        held.iter().map(|h| (changes[h.index].hash(), h)).collect();
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

/// Loads a document from its chunks (empty when it has none yet), strictly, with its stored
/// size.
fn load(db: &Db, doc_id: &str) -> Result<(AutoCommit, usize), ItemError> {
    let bytes = db.load_chunks(doc_id)?;
    if bytes.is_empty() {
        return Ok((AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit), 0));
    }
    let options = LoadOptions::new()
        .text_encoding(TextEncoding::Utf8CodeUnit)
        .on_partial_load(automerge::OnPartialLoad::Error);
    let doc = AutoCommit::load_with_options(&bytes, options).map_err(|e| {
        tracing::error!(doc = doc_id, error = %e, "stored document does not load");
        ItemError("corrupt_document", "the relay's copy does not load".into())
    })?;
    Ok((doc, bytes.len()))
}
