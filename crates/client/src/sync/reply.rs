//! What an answer's replies and the session's next messages need from Automerge alone, away
//! from the store: applying a reply to its document (so that an answer's replies can be applied
//! on every core), and telling, from a sync state, that a document has nothing to say.

use automerge::sync::{Message, State};
use automerge::ChangeHash;
use tidemark_domain::document::RecordDoc;
use tidemark_store::heads_key;
use tidemark_sync_protocol::DocMessage;

/// Whether `generate_sync_message` would return nothing for `state`, known without loading
/// the document: its last message went out (`in_flight`, which only a message received clears
/// and a reset message never sets) with the heads the document still has here. Automerge then
/// waits for the relay's answer (automerge 0.12, `sync.rs`: unchanged heads, responded and in
/// flight is `None`). After a pull, each document acknowledged in the last request is in this
/// state when the relay had nothing more to say; loading it only to learn that was a sixth of
/// the pulling device's CPU.
/// `here` gives the document's stored heads (asked only when it matters).
pub(super) fn awaiting_answer(state: &State, here: impl FnOnce() -> Option<String>) -> bool {
    if !state.in_flight || !state.have_responded || state.needs_reset {
        return false;
    }
    let sent: Vec<String> = state
        .last_sent_heads
        .iter()
        .map(ChangeHash::to_string)
        .collect();
    !sent.is_empty() && here().as_deref() == Some(heads_key(&sent).as_str())
}

/// One reply from the relay, applied to its document away from the store.
pub(super) struct Received {
    pub(super) id: String,
    pub(super) signatures: Vec<tidemark_sync_protocol::ChangeSignature>,
    pub(super) state: State,
    pub(super) result: Reception,
}

pub(super) enum Reception {
    /// The message does not decode.
    Undecodable(String),
    /// The document stored here does not load.
    StoredUnreadable(tidemark_domain::DomainError),
    /// The message decodes but does not apply.
    DoesNotApply(tidemark_domain::DomainError),
    Applied(Box<Applied>),
}

pub(super) struct Applied {
    pub(super) doc: RecordDoc,
    /// The document's heads before the message.
    pub(super) before: Vec<ChangeHash>,
    /// Changes new here.
    pub(super) received: usize,
    /// What to store for the new changes when they are exactly the message's bytes.
    pub(super) whole: Option<Vec<u8>>,
    /// The record as it reads now, when the message changed the document.
    pub(super) record:
        Option<Result<tidemark_domain::records::Record, tidemark_domain::DomainError>>,
}

/// Applies `reply` to the document stored as `bytes` (none: new here) with its sync `state`:
/// the part of storing a reply that needs no store, so that it can run on several threads.
pub(super) fn receive_reply(
    reply: DocMessage,
    mut state: State,
    bytes: Option<Vec<u8>>,
    actor: &automerge::ActorId,
) -> Received {
    let DocMessage {
        doc_id: id,
        message,
        signatures,
    } = reply;
    let result = (|| {
        let message = match Message::decode(&message) {
            Ok(m) => m,
            Err(e) => return Reception::Undecodable(e.to_string()),
        };
        // A document new here is stored as the relay sent it (a whole saved document, or its
        // changes), not encoded again, when all of it applies.
        let whole: Option<Vec<u8>> = bytes
            .is_none()
            .then(|| message.changes.iter().flatten().copied().collect());
        let mut doc = match bytes {
            Some(b) => match RecordDoc::load(&b, actor) {
                Ok(d) => d,
                Err(e) => return Reception::StoredUnreadable(e),
            },
            None => RecordDoc::empty(actor),
        };
        let before = doc.heads();
        let received = match doc.receive_sync_message(&mut state, message) {
            Ok(n) => n,
            Err(e) => return Reception::DoesNotApply(e),
        };
        let complete = doc.automerge().get_missing_deps(&[]).is_empty();
        if !complete {
            // Changes whose dependencies are not here stay queued only in this loaded copy,
            // which is not kept: the relay, which counts them as sent, must be told to forget
            // what it sent, or it would never send them again.
            state.needs_reset = true;
        }
        let record = (doc.heads() != before).then(|| doc.read());
        Reception::Applied(Box::new(Applied {
            doc,
            before,
            received,
            whole: whole.filter(|w| complete && !w.is_empty()),
            record,
        }))
    })();
    Received {
        id,
        signatures,
        state,
        result,
    }
}

#[cfg(test)]
mod tests {
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    fn heads(d: &mut AutoCommit) -> Option<String> {
        let hex: Vec<String> = d.get_heads().iter().map(ChangeHash::to_string).collect();
        Some(heads_key(&hex))
    }

    /// Whenever `awaiting_answer` says a document has nothing to say, Automerge agrees; and it
    /// says so in the case it is for (a message out, no answer yet, nothing changed here).
    #[test]
    fn awaiting_answer_holds_only_when_automerge_would_say_nothing() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "tên", "Đồn Biên phòng Tân Thành").expect("put");
        let mut b = AutoCommit::new();
        let (mut sa, mut sb) = (State::new(), State::new());
        let mut claims = 0;
        let mut check = |d: &mut AutoCommit, s: &mut State| {
            let h = heads(d);
            let claim = awaiting_answer(s, || h);
            let m = d.sync().generate_sync_message(s);
            if claim {
                claims += 1;
                assert!(m.is_none(), "claimed nothing to say, Automerge said {m:?}");
            }
            m
        };
        // Nothing sent yet: no claim.
        assert!(!awaiting_answer(&sa, || heads(&mut a)));
        let m1 = check(&mut a, &mut sa).expect("first message");
        // Out and unanswered: claimed, and Automerge waits.
        assert!(check(&mut a, &mut sa).is_none());
        b.sync()
            .receive_sync_message(&mut sb, m1)
            .expect("b receives");
        let m2 = check(&mut b, &mut sb).expect("b answers");
        a.sync()
            .receive_sync_message(&mut sa, m2)
            .expect("a receives");
        // Answered: no claim until the next message is out.
        assert!(!awaiting_answer(&sa, || heads(&mut a)));
        let m3 = check(&mut a, &mut sa).expect("a sends its changes");
        assert!(check(&mut a, &mut sa).is_none());
        // A change here: no claim, a message goes.
        a.put(ROOT, "ghi chú", "Gió cấp 4").expect("put");
        assert!(!awaiting_answer(&sa, || heads(&mut a)));
        let m4 = check(&mut a, &mut sa).expect("a sends the new change");
        for m in [m3, m4] {
            b.sync()
                .receive_sync_message(&mut sb, m)
                .expect("b receives");
        }
        // Run to quiet, checking every step.
        for _ in 0..10 {
            if let Some(m) = check(&mut b, &mut sb) {
                a.sync()
                    .receive_sync_message(&mut sa, m)
                    .expect("a receives");
            }
            if let Some(m) = check(&mut a, &mut sa) {
                b.sync()
                    .receive_sync_message(&mut sb, m)
                    .expect("b receives");
            }
        }
        assert_eq!(a.get_heads(), b.get_heads());
        assert!(claims >= 2, "the case it is for never came up ({claims})");
    }
}
