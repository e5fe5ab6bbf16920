//! A session's unasked first message. Both ends of `POST /v1/session` open a document's
//! exchange by sending everything after the heads they last shared, without waiting to learn
//! the other side's heads: the device pushes its own writing, the relay offers its news. Both
//! do it by making the stored sync state say "the peer has exactly the shared heads and needs
//! nothing else", which this module writes once for the two of them.

use automerge::sync::{BloomFilter, Capability, Have, State};
use automerge::ChangeHash;

/// Changes beyond which the first message carries the whole compacted document (one save)
/// rather than the changes one by one. A few changes travel smaller as they are: the body's
/// zstd finds what they share with each other and with the rest of the request, which the
/// save's own DEFLATE columns hide from it (S1: six new records, 6.4 KB as saves, 5.5 KB as
/// changes, both zstd). Many changes (a plan edited all year) are smaller as one save.
pub const WHOLE_FROM: usize = 16;

/// Makes `state` (as loaded from storage: shared heads only) say that the peer holds exactly
/// `state.shared_heads` and needs nothing else, so the next message generated from it carries
/// every change after them. `to_send` is how many changes that is: from [`WHOLE_FROM`] on,
/// Automerge may send one compacted save instead.
pub fn presume_shared(state: &mut State, to_send: usize) {
    let shared: Vec<ChangeHash> = state.shared_heads.clone();
    state.their_heads = Some(shared.clone());
    state.their_need = Some(Vec::new());
    state.their_have = Some(vec![Have {
        last_sync: shared,
        bloom: BloomFilter::default(),
    }]);
    state.their_capabilities = Some(if to_send >= WHOLE_FROM {
        vec![Capability::MessageV1, Capability::MessageV2]
    } else {
        vec![Capability::MessageV1]
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use automerge::sync::SyncDoc;
    use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ROOT};

    fn doc_with(changes: usize) -> AutoCommit {
        let mut doc = AutoCommit::new();
        for i in 0..changes {
            doc.put(ROOT, "tên", format!("Tuần tra lần {i} — Đồn Biên phòng"))
                .unwrap();
            doc.commit();
        }
        doc
    }

    /// The first message brings a peer with nothing up to date in one go, as changes when
    /// they are few and as one save when they are many; and the peer's own next message then
    /// asks for nothing.
    #[test]
    fn first_message_carries_everything_after_the_shared_heads() {
        for n in [1, 3, WHOLE_FROM + 4] {
            let mut doc = doc_with(n);
            let mut state = State::new();
            presume_shared(&mut state, doc.get_changes(&[]).len());
            let msg = doc.sync().generate_sync_message(&mut state).unwrap();
            let whole = msg.version == automerge::sync::MessageVersion::V2;
            assert_eq!(whole, n >= WHOLE_FROM, "{n} changes");
            let mut peer = AutoCommit::new();
            let mut peer_state = State::new();
            peer.sync()
                .receive_sync_message(&mut peer_state, msg)
                .unwrap();
            assert_eq!(peer.get_heads(), doc.get_heads());
            let text = peer.get(ROOT, "tên").unwrap().unwrap().0.to_string();
            assert!(text.contains(&format!("lần {}", n - 1)), "{text}");
        }
    }

    /// After shared heads, only the changes past them travel.
    #[test]
    fn only_changes_after_the_shared_heads_travel() {
        let mut doc = doc_with(3);
        let mut state = State::new();
        state.shared_heads = doc.get_heads();
        doc.put(ROOT, "đội", "Đội tuần tra số 2").unwrap();
        doc.commit();
        let after = doc.get_changes(&state.shared_heads.clone()).len();
        assert_eq!(after, 1);
        presume_shared(&mut state, after);
        let msg = doc.sync().generate_sync_message(&mut state).unwrap();
        assert_eq!(msg.changes.len(), 1);
    }
}
