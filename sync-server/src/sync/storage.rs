//! A document as the relay stores it: loaded from its chunks, taken from the cache at a
//! version, and the chunk a sync adds (or the compacted save that replaces them).

use automerge::sync::{ChunkList, Message, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash, LoadOptions, TextEncoding};

use super::{ItemError, COMPACT_AFTER_CHUNKS};
use crate::cache::DocCache;
use crate::db::Db;

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
///
/// `as_sent`: the new changes exactly as the device sent them ([`receive`]), stored as they
/// are instead of saved again.
pub(crate) fn chunk_for(
    db: &Db,
    doc_id: &str,
    fork: &mut AutoCommit,
    before: &[ChangeHash],
    accepted: usize,
    stored: usize,
    as_sent: Option<Vec<u8>>,
) -> Result<Chunk, ItemError> {
    let compact = accepted > 0 && db.chunk_count(doc_id)? + 1 >= COMPACT_AFTER_CHUNKS;
    let bytes = match (accepted > 0, compact) {
        (false, _) => None,
        (true, false) => Some(as_sent.unwrap_or_else(|| fork.save_after(before))),
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

/// Applies a device's message to `fork`. When `fork` is empty (the relay holds nothing of the
/// document yet: a new record's first push, most of what stations send), the message's changes
/// are loaded strictly and their bytes come back, to be stored as they are: saving them again
/// cost about 4 % of the relay's CPU in S5's first wave.
///
/// Automerge would load them leniently (`OnPartialLoad::Ignore`: bytes after the first chunk
/// that does not parse are dropped); stored as sent, such bytes would make the relay's copy
/// fail to load, so here they are refused (`bad_message`) and nothing is applied. The sync state
/// ends as Automerge's own receiving would leave it: the shared heads become the new heads (as
/// it advances them from an empty document), the changes are taken out of the message it then
/// receives, and the heads last sent, which it sets only for a message without changes, are put
/// back (unless the device sent no heads, when Automerge clears them either way). When this
/// path fails, `state` and `fork` are as they were.
pub(super) fn receive(
    fork: &mut AutoCommit,
    state: &mut State,
    mut msg: Message,
) -> Result<Option<Vec<u8>>, ItemError> {
    let bad = |e: automerge::AutomergeError| {
        ItemError("bad_message", format!("cannot apply sync message: {e}"))
    };
    if msg.changes.is_empty() || state.read_only || !fork.get_heads().is_empty() {
        fork.sync().receive_sync_message(state, msg).map_err(bad)?;
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(msg.changes.iter().map(<[u8]>::len).sum());
    for chunk in msg.changes.iter() {
        bytes.extend_from_slice(chunk);
    }
    let options = LoadOptions::new()
        .text_encoding(TextEncoding::Utf8CodeUnit)
        .on_partial_load(automerge::OnPartialLoad::Error);
    let loaded = AutoCommit::load_with_options(&bytes, options).map_err(bad)?;
    let mut loaded = loaded.with_actor(fork.get_actor().clone());
    // Automerge advances the shared heads to the new heads plus the old shared ones still
    // heads; from an empty document those are all among the new, so the new heads it is.
    let mut shared = loaded.get_heads();
    shared.sort();
    let theirs_known = !msg.heads.is_empty();
    let mut trial = state.clone();
    trial.shared_heads = shared;
    msg.changes = ChunkList::empty();
    loaded
        .sync()
        .receive_sync_message(&mut trial, msg)
        .map_err(bad)?;
    if theirs_known {
        trial.last_sent_heads.clone_from(&state.last_sent_heads);
    }
    *state = trial;
    *fork = loaded;
    Ok(Some(bytes))
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
pub(super) fn take_doc_at(
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

/// Loads a document from its chunks (empty when it has none yet), strictly, with its stored
/// size.
pub(super) fn load(db: &Db, doc_id: &str) -> Result<(AutoCommit, usize), ItemError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ReadDoc, ROOT};

    use super::*;

    /// A station device's new patrol, in several changes.
    fn patrol() -> AutoCommit {
        let mut doc =
            AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(ActorId::random());
        doc.put(ROOT, "đơn_vị", "Đồn Biên phòng Cửa Tiểu").unwrap();
        doc.commit();
        doc.put(
            ROOT,
            "ghi_chú",
            "Tuần tra cửa sông, không phát hiện vi phạm",
        )
        .unwrap();
        doc.commit();
        let points = doc
            .put_object(ROOT, "lộ_trình", automerge::ObjType::List)
            .unwrap();
        for i in 0..40 {
            doc.insert(&points, i, format!("10.{i:04},106.{i:04}"))
                .unwrap();
        }
        doc.commit();
        doc
    }

    /// The relay's first message to a device about a document it holds nothing of, and the
    /// device's answer to it, carrying the whole document.
    fn first_push(device: &mut AutoCommit) -> (AutoCommit, State, Message) {
        let mut relay = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit);
        let mut relay_state = State::new();
        let mut device_state = State::new();
        let offer = relay
            .sync()
            .generate_sync_message(&mut relay_state)
            .unwrap();
        device
            .sync()
            .receive_sync_message(&mut device_state, offer)
            .unwrap();
        let push = device
            .sync()
            .generate_sync_message(&mut device_state)
            .unwrap();
        assert!(!push.changes.is_empty());
        (relay, relay_state, push)
    }

    /// Automerge's own receiving, for comparison.
    fn as_automerge_does(
        relay: &mut AutoCommit,
        state: &State,
        msg: Message,
    ) -> (AutoCommit, State) {
        let mut fork = relay.fork();
        let mut state = state.clone();
        fork.sync().receive_sync_message(&mut state, msg).unwrap();
        (fork, state)
    }

    #[test]
    fn a_first_push_is_kept_as_sent_and_leaves_the_state_automerge_would() {
        let mut device = patrol();
        let (mut relay, relay_state, push) = first_push(&mut device);
        let sent: Vec<u8> = push.changes.iter().flatten().copied().collect();
        // As the device sent it, and with no heads of its own (Automerge then clears what it
        // last sent to the device).
        let mut headless = push.clone();
        headless.heads.clear();
        for msg in [push, headless] {
            let (mut theirs, mut their_state) =
                as_automerge_does(&mut relay, &relay_state, msg.clone());
            let mut ours = relay.fork();
            let mut our_state = relay_state.clone();
            let kept = receive(&mut ours, &mut our_state, msg).unwrap();
            assert_eq!(kept.as_deref(), Some(sent.as_slice()));
            assert_eq!(ours.get_heads(), device.get_heads());
            assert_eq!(ours.get_heads(), theirs.get_heads());
            assert_eq!(our_state, their_state);
            // The same reply follows, and the kept bytes load strictly into the same document.
            let reply = |doc: &mut AutoCommit, state: &mut State| {
                doc.sync().generate_sync_message(state).map(Message::encode)
            };
            assert_eq!(
                reply(&mut ours, &mut our_state),
                reply(&mut theirs, &mut their_state)
            );
            let mut stored = AutoCommit::load(&sent).unwrap();
            let (value, _) = stored.get(ROOT, "đơn_vị").unwrap().unwrap();
            assert_eq!(value.into_string().unwrap(), "Đồn Biên phòng Cửa Tiểu");
            assert_eq!(stored.get_changes(&[]).len(), 3);
        }
    }

    #[test]
    fn a_first_push_with_bytes_that_do_not_load_is_refused_whole() {
        let mut device = patrol();
        let (mut relay, relay_state, mut push) = first_push(&mut device);
        let mut bytes: Vec<u8> = push.changes.iter().flatten().copied().collect();
        // A chunk's magic bytes, then nothing a chunk can be.
        bytes.extend_from_slice(&[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]);
        push.changes = ChunkList::from(bytes);
        // Automerge alone would take the document and drop the rest; stored as sent, those
        // bytes would not load.
        let (mut lenient, _) = as_automerge_does(&mut relay, &relay_state, push.clone());
        assert_eq!(lenient.get_heads(), device.get_heads());
        let mut ours = relay.fork();
        let mut our_state = relay_state.clone();
        let Err(e) = receive(&mut ours, &mut our_state, push) else {
            panic!("bytes that do not load were taken");
        };
        assert_eq!(e.0, "bad_message");
        assert!(ours.get_heads().is_empty());
        assert_eq!(our_state, relay_state);
    }

    #[test]
    fn a_push_to_a_document_the_relay_holds_is_applied_as_automerge_does() {
        let mut device = patrol();
        let (mut relay, relay_state, push) = first_push(&mut device);
        let mut state = relay_state.clone();
        receive(&mut relay, &mut state, push).unwrap();
        device.put(ROOT, "kết_quả", "Đã kiểm tra 2 tàu cá").unwrap();
        device.commit();
        let mut device_state = State::new();
        let msg = loop {
            let reply = relay.sync().generate_sync_message(&mut state).unwrap();
            device
                .sync()
                .receive_sync_message(&mut device_state, reply)
                .unwrap();
            let msg = device
                .sync()
                .generate_sync_message(&mut device_state)
                .unwrap();
            if !msg.changes.is_empty() {
                break msg;
            }
            receive(&mut relay, &mut state, msg).unwrap();
        };
        let (mut theirs, their_state) = as_automerge_does(&mut relay, &state, msg.clone());
        let kept = receive(&mut relay, &mut state, msg).unwrap();
        assert_eq!(kept, None);
        assert_eq!(relay.get_heads(), theirs.get_heads());
        assert_eq!(state, their_state);
    }
}
