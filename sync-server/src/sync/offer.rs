//! The relay's first message to a device about a document it has not spoken about yet.

use std::borrow::Cow;

use automerge::sync::{State, SyncDoc};

use super::storage::take_doc_at;
use super::{session_state, ItemError, Memory};
use crate::cache::FirstOffer;
use crate::db::{Access, Db, Device};
use crate::signing::signatures_to_send;
use tidemark_sync_protocol::presume::presume_shared;
use tidemark_sync_protocol::ChangeSignature;

/// An offered message (encoded), the signatures of its changes, and how it was come by.
pub(crate) struct Offer {
    pub message: Vec<u8>,
    pub signatures: Vec<ChangeSignature>,
    pub origin: Origin,
    /// The stored version a first offer (reused or made) was made from: every device of the
    /// same kind that holds none of the document gets these same bytes.
    pub version: i64,
}

/// Where an offer's message came from (counted in `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A first offer kept from an earlier device of the same kind (writer or reader), reused.
    Reused,
    /// A first offer made now, and kept for the next such device.
    Made,
    /// Made for this device from the state the relay holds for it.
    Own,
}

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
        // Kept for this kind of device; else made for the other kind already, which is the
        // same message but for one flag.
        let (offer, origin) = match memory.docs.first_offer(doc_id, version, read_only) {
            Some(kept) => (Some(Cow::Borrowed(kept)), Origin::Reused),
            None => (
                memory
                    .docs
                    .first_offer(doc_id, version, !read_only)
                    .and_then(FirstOffer::for_other_kind)
                    .map(Cow::Owned),
                Origin::Made,
            ),
        };
        if let Some(offer) = offer {
            let handed = Offer {
                message: offer.message.clone(),
                signatures: offer.signatures.clone(),
                origin,
                version,
            };
            let state = offer.state.clone();
            if let Cow::Owned(made) = offer {
                memory.docs.keep_first_offer(doc_id, made);
            }
            memory.sessions.put(doc_id, &device.id, session, state, now);
            return Ok(Some(handed));
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
        let kept = FirstOffer::new(
            version,
            read_only,
            m.clone(),
            state.clone(),
            signatures.clone(),
        );
        memory.docs.keep_first_offer(doc_id, kept);
    }
    memory.docs.put(doc_id, doc, stored, version, now);
    memory.sessions.put(doc_id, &device.id, session, state, now);
    let origin = if first { Origin::Made } else { Origin::Own };
    Ok(message.map(|message| Offer {
        message,
        signatures,
        origin,
        version,
    }))
}
