//! One sync item on the relay: access check, load, apply to a fork, authorship check, persist,
//! reply. No HTTP here; the handler batches items and frames the response.
//!
//! Authorship (architecture decision 8): every change the relay did not have must be made by an
//! actor registered to a non-revoked device of a unit that may write the document. Changes
//! relayed on behalf of another writer are fine (a device may carry a colleague's changes that
//! came by USB bundle); changes under an unknown actor, or an actor of a unit that only reads,
//! reject the whole item and nothing is stored.

mod authors;
mod offer;
mod storage;

use authors::waits_only_on_held;
pub(crate) use authors::{check_authors, new_changes, set_aside, NewChange, Via};
pub(crate) use offer::{offer, Origin};
pub(crate) use storage::{chunk_for, hex_heads, take_doc};

use automerge::sync::{Capability, Message, State, SyncDoc};
use automerge::AutoCommit;
use serde::Serialize;

use crate::cache::DocCache;
use crate::db::{Access, Db, Device, DocMeta, SyncWrite};
use crate::error::AppError;
use crate::references::references;
use crate::session::Sessions;
use crate::signing::{check_signatures, signatures_to_send};
use tidemark_sync_protocol::presume::WHOLE_FROM;
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
            let (fork, done) = (done.fork, done.applied);
            let version = done.version.unwrap_or(version);
            memory.docs.put(doc_id, fork, done.stored, version, now);
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
    applied: Applied,
}

/// What applying an item gives besides the document.
struct Applied {
    stored: usize,
    version: Option<i64>,
    state: State,
    accepted: usize,
    reply: Option<Message>,
    reply_signatures: Vec<ChangeSignature>,
}

/// Applies `msg` to a fork of `doc`, checks authorship and commits; the document as it then is
/// comes back in [`Advanced::fork`]. On error `doc` is as it was.
///
/// A message without changes leaves the document as it is, and most items of a session are
/// such (a device's answer to the relay's offer): it is applied to `doc` itself, not to a copy
/// of its whole op set, and `doc` is left empty when it succeeds (its document is the "fork").
fn advance(
    db: &Db,
    item: &Item<'_>,
    doc: &mut AutoCommit,
    stored: usize,
    msg: Message,
    state: State,
) -> Result<Advanced, ItemError> {
    let same = msg.changes.is_empty();
    let mut fork = if same {
        std::mem::take(doc)
    } else {
        doc.fork()
    };
    match apply(db, item, doc, &mut fork, stored, msg, state) {
        Ok(applied) => Ok(Advanced { fork, applied }),
        Err(e) => {
            if same {
                *doc = fork;
            }
            Err(e)
        }
    }
}

/// [`advance`]'s work on `fork` (the document, or a fork of `doc`).
fn apply(
    db: &Db,
    item: &Item<'_>,
    doc: &mut AutoCommit,
    fork: &mut AutoCommit,
    stored: usize,
    msg: Message,
    mut state: State,
) -> Result<Applied, ItemError> {
    let (doc_id, device) = (item.doc_id, item.device);
    state.set_read_only(item.access < Access::Write);
    let before = fork.get_heads();
    let as_sent = storage::receive(fork, &mut state, msg)?;
    let new = new_changes(fork, &before);
    let mut accepted = new.len();
    let held = check_authors(db, doc_id, item.meta, fork, &new)?;
    let signatures = check_signatures(db, fork, &new, item.signatures)?;
    if !held.is_empty() {
        let via = Via {
            doc_id,
            how: "sync",
            device: Some(&device.id),
        };
        let changes = fork.get_changes(&before);
        (*fork, accepted) = set_aside(db, doc, &changes, &held, &via)?;
    }
    // Set aside, some of the changes sent are not stored.
    let as_sent = as_sent.filter(|_| held.is_empty());
    let sent_before = state.sent_hashes.clone();
    let caps = few_changes_as_they_are(fork, &mut state);
    let reply = if waits_only_on_held(db, doc_id, fork, &state)? {
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
    let chunk = chunk_for(db, doc_id, fork, &before, accepted, stored, as_sent)?;
    let attachments = chunk.bytes.is_some().then(|| references(fork));
    let version = db.commit_sync(&SyncWrite {
        doc_id: doc_id.to_string(),
        device_id: device.id.clone(),
        chunk: chunk.bytes,
        replaces_all: chunk.compact,
        heads: hex_heads(fork),
        state: state.encode(),
        attachments,
        signatures,
    })?;
    Ok(Applied {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use automerge::transaction::Transactable;
    use automerge::{ActorId, ReadDoc, TextEncoding, ROOT};

    use super::*;
    use crate::db::NewDocument;

    const ID: &str = "patrol:TT:20260320:01";

    /// The document `ID` as the relay holds it in memory, if it does.
    fn loaded(db: &Db, docs: &mut DocCache) -> Option<AutoCommit> {
        let version = db.doc_version(ID).unwrap();
        let (doc, stored) = docs.take(ID, version)?;
        let copy = doc.clone();
        docs.put(ID, doc, stored, version, std::time::Instant::now());
        Some(copy)
    }

    /// An item without changes (most of a session's: a device's answer to an offer) is applied
    /// to the loaded document itself, not to a fork; the document stays loaded and whole
    /// whether the item commits or fails.
    /// A relay database in `dir` with unit TT, one of its devices (enrolled under `actor`) and
    /// the document `ID`, created by it and holding nothing yet.
    fn relay_with_new_patrol(dir: &std::path::Path, actor: &ActorId) -> (Db, Device) {
        let db = Db::open(&dir.join("relay.sqlite3")).unwrap();
        db.add_unit("TT", None).unwrap();
        let (_, code) = db.create_enrolment("TT", "Máy tuần tra số 1", 600).unwrap();
        let token = db
            .redeem(&code, &actor.to_hex_string(), None)
            .unwrap()
            .token;
        let device = db.authenticate(&token).unwrap().unwrap();
        let new = NewDocument {
            id: ID.into(),
            owner: "TT".into(),
            grants: Vec::new(),
        };
        assert!(db.create_documents(&device, &[new]).unwrap()[0].is_ok());
        (db, device)
    }

    /// A new record's first push is stored as the device sent it; bytes that would not load
    /// from storage are refused and leave nothing behind.
    #[test]
    fn a_new_records_changes_are_stored_as_sent_and_only_if_they_load() {
        let dir = tempfile::tempdir().unwrap();
        let actor = ActorId::random();
        let (db, device) = relay_with_new_patrol(dir.path(), &actor);
        let mut docs = DocCache::new(64 << 20, Duration::from_secs(60));
        let mut sessions = Sessions::new(Duration::from_secs(60));
        let mut local = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(actor);
        local
            .put(ROOT, "ghi_chú", "Kiểm tra tàu cá QNg-90123, đủ giấy tờ")
            .unwrap();
        local.commit();
        let mut push = local
            .sync()
            .generate_sync_message(&mut State::new())
            .unwrap();
        let sent = local.save();
        push.changes = automerge::sync::ChunkList::from(sent.clone());
        let mut item = |message: &Message| {
            let mut memory = Memory {
                docs: &mut docs,
                sessions: &mut sessions,
                session: None,
            };
            sync_item(
                &db,
                &mut memory,
                &device,
                ID,
                &message.clone().encode(),
                &[],
            )
        };

        let mut spoilt = push.clone();
        let mut bytes = sent.clone();
        bytes.extend_from_slice(&[0x85, 0x6f, 0x4a, 0x83, 0, 0]);
        spoilt.changes = automerge::sync::ChunkList::from(bytes);
        let out = item(&spoilt);
        assert_eq!(out.status.code, "bad_message", "{:?}", out.status.message);
        assert!(db.load_chunks(ID).unwrap().is_empty());

        let out = item(&push);
        assert_eq!((out.status.code, out.status.accepted), ("ok", 1));
        assert_eq!(db.load_chunks(ID).unwrap(), sent);
        let (mut stored, _) = storage::load(&db, ID).unwrap();
        assert_eq!(stored.get_heads(), local.get_heads());
    }

    #[test]
    fn an_item_without_changes_leaves_the_loaded_document_whole_whether_it_commits_or_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let actor = ActorId::random();
        let (db, device) = relay_with_new_patrol(dir.path(), &actor);
        let mut docs = DocCache::new(64 << 20, Duration::from_secs(60));
        let mut sessions = Sessions::new(Duration::from_secs(60));

        let note = "Tuần tra khu vực cửa sông Soài Rạp, không phát hiện vi phạm";
        let mut local = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(actor);
        local.put(ROOT, "ghi_chú", note).unwrap();
        local.commit();
        let mut theirs = State::new();
        let item = |docs: &mut DocCache, sessions: &mut Sessions, message: Message| {
            let mut memory = Memory {
                docs,
                sessions,
                session: Some("phiên-1"),
            };
            sync_item(&db, &mut memory, &device, ID, &message.encode(), &[])
        };
        // The patrol's change goes up; the relay's replies come back until both are quiet.
        for _ in 0..5 {
            let Some(message) = local.sync().generate_sync_message(&mut theirs) else {
                break;
            };
            let out = item(&mut docs, &mut sessions, message);
            assert_eq!(out.status.code, "ok", "{:?}", out.status.message);
            if let Some(reply) = out.reply {
                let reply = Message::decode(&reply).unwrap();
                local
                    .sync()
                    .receive_sync_message(&mut theirs, reply)
                    .unwrap();
            }
        }
        let mut relay = loaded(&db, &mut docs).expect("loaded");
        assert_eq!(relay.get_heads(), local.get_heads());

        // A message without changes, from a fresh state: it commits (the device's sync state),
        // and the document stays loaded as it was.
        let bare = local
            .sync()
            .generate_sync_message(&mut State::new())
            .unwrap();
        assert!(bare.changes.is_empty());
        let out = item(&mut docs, &mut sessions, bare.clone());
        assert_eq!((out.status.code, out.status.accepted), ("ok", 0));
        let mut relay = loaded(&db, &mut docs).expect("still loaded");
        assert_eq!(relay.get_heads(), local.get_heads());
        let (value, _) = relay.get(ROOT, "ghi_chú").unwrap().unwrap();
        assert_eq!(value.into_string().unwrap(), note);
        assert!(relay.get_changes(&[]).len() == 1);

        // The same message when the relay cannot write the sync state: the item fails and the
        // document is still loaded, whole, not left empty.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("ALTER TABLE sync_states RENAME TO sync_states_away")
            .unwrap();
        let out = item(&mut docs, &mut sessions, bare);
        assert_eq!(out.status.code, "internal");
        let mut relay = loaded(&db, &mut docs).expect("loaded after the failure");
        assert_eq!(relay.get_heads(), local.get_heads());
        let (value, _) = relay.get(ROOT, "ghi_chú").unwrap().unwrap();
        assert_eq!(value.into_string().unwrap(), note);
    }
}
