//! What a session sends: the documents it still owes the relay, the creations, the messages
//! (each document's next one), and how many fit in one request.

use std::collections::{HashMap, HashSet};

use automerge::sync::State;
use automerge::ChangeHash;
use tidemark_domain::document::RecordDoc;
use tidemark_store::heads_key;
use tidemark_sync_protocol::presume::presume_shared;
use tidemark_sync_protocol::DocMessage;

use super::{Session, IDS_PER_REQUEST, RECEIPTS_PER_SESSION, UNANSWERED_MAX};
use crate::records::heads_of;
use crate::signing;
use crate::sync::http::NewDoc;
use crate::sync::reply::awaiting_answer;
use crate::sync::sharing::new_doc;
use crate::sync::{keys, SyncError};

impl Session<'_> {
    /// The documents of requests whose answers were lost after the relay took them, as a
    /// session left them for this relay (cleared by the next session that completes).
    pub(super) fn unanswered(&self) -> Result<Vec<String>, SyncError> {
        let raw = self.client().store().meta(keys::UNANSWERED)?;
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Ok(Vec::new());
        };
        let parsed: Option<(String, Vec<String>)> = serde_json::from_str(&raw).ok();
        Ok(match parsed {
            Some((relay, ids)) if relay == self.relay() => ids,
            _ => Vec::new(),
        })
    }

    /// Adds `ids` to the documents whose answer was lost (at most [`UNANSWERED_MAX`]).
    pub(super) fn remember_unanswered(&self, ids: &[String]) -> Result<(), SyncError> {
        let mut all = self.unanswered()?;
        for id in ids {
            if all.len() >= UNANSWERED_MAX {
                break;
            }
            if !all.contains(id) {
                all.push(id.clone());
            }
        }
        let value = serde_json::to_string(&(self.relay(), &all))
            .map_err(|e| SyncError::internal(e.to_string()))?;
        self.client()
            .store_mut()
            .set_meta(keys::UNANSWERED, &value)?;
        Ok(())
    }

    /// Documents the feed announced this session whose relay heads are not all here.
    pub(super) fn behind(&self) -> Result<Vec<String>, SyncError> {
        let c = self.client();
        let mut out = Vec::new();
        for (id, heads) in &self.news {
            let store = c.store();
            if store.doc_heads(id)?.as_deref() == Some(heads_key(heads).as_str()) {
                continue;
            }
            // Refused documents are reported as such, not asked for again.
            if store
                .sync_row(self.relay(), id)?
                .is_some_and(|r| r.error.is_some())
            {
                continue;
            }
            let theirs: Vec<ChangeHash> = heads.iter().filter_map(|h| h.parse().ok()).collect();
            let here = match c.store().load_doc(id)? {
                Some(bytes) => RecordDoc::load(&bytes, &c.identity().actor)
                    .map(|mut d| d.has_heads(&theirs))
                    .unwrap_or(true),
                None => false,
            };
            if !here {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    /// Where this device's copy of the relay's key directory ends (0: it has none from this
    /// relay; a new enrolment starts again).
    pub(super) fn key_cursor(&self) -> Result<i64, SyncError> {
        let stored = self.client().store().meta(keys::KEY_CURSOR)?;
        Ok(stored
            .as_deref()
            .and_then(|v| v.rsplit_once(':'))
            .filter(|(relay, _)| *relay == self.relay())
            .and_then(|(_, at)| at.parse().ok())
            .unwrap_or(0))
    }

    /// Documents to ask receipts for: those awaiting the root unit's, unless this device is
    /// the root unit's (HQ does not wait for HQ).
    pub(super) fn receipt_ids(&self) -> Result<Vec<String>, SyncError> {
        if self.cfg.root_unit.as_deref() == Some(self.cfg.unit.as_str()) {
            return Ok(Vec::new());
        }
        Ok(self
            .client()
            .store()
            .docs_awaiting_root_receipt(self.relay(), RECEIPTS_PER_SESSION)?)
    }

    /// The next documents to create at the relay (each tried once a session).
    pub(super) fn next_creates(
        &self,
        tried: &mut HashSet<String>,
    ) -> Result<Vec<NewDoc>, SyncError> {
        let c = self.client();
        let ids = c
            .store()
            .unregistered_docs(self.relay(), IDS_PER_REQUEST + tried.len())?;
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= IDS_PER_REQUEST {
                break;
            }
            if !tried.insert(id.clone()) {
                continue;
            }
            if let Some(doc) = new_doc(&c, &id, &self.cfg.unit)? {
                out.push(doc);
            }
        }
        Ok(out)
    }

    /// Documents with changes the relay has not confirmed, not yet handled this session and
    /// known to the relay (or being created in this request).
    pub(super) fn pending_to_push(
        &self,
        seen: &HashSet<String>,
        creating: &HashSet<String>,
        limit: usize,
    ) -> Result<Vec<String>, SyncError> {
        let c = self.client();
        let store = c.store();
        let mut out = Vec::new();
        for id in store.pending_docs(self.relay(), limit + seen.len())? {
            if seen.contains(&id) {
                continue;
            }
            let registered = store
                .sync_row(self.relay(), &id)?
                .is_some_and(|r| r.registered);
            if registered || creating.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Registers this device's signing key with the relay once (a device enrolled before
    /// signed changes existed has none there yet).
    pub(super) async fn register_key(&mut self) -> Result<(), SyncError> {
        let (done, key) = {
            let c = self.client();
            (c.store().meta(keys::KEY_REGISTERED)?, c.sign_public_key()?)
        };
        if done.as_deref() == Some(self.cfg.device_id.as_str()) {
            return Ok(());
        }
        match self.http.register_key(&key).await {
            Ok(()) => {}
            Err(e) if e.code == "key_taken" => {
                // Nothing this device can do: its changes will be refused until an
                // administrator looks. Say so and carry on with what still works.
                tracing::error!("the relay holds another signing key for this device");
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let device = self.cfg.device_id.clone();
        self.client()
            .store_mut()
            .set_meta(keys::KEY_REGISTERED, &device)?;
        tracing::info!("signing key registered with the relay");
        Ok(())
    }

    /// The next message of each document that has one. A document's first message of the
    /// session is built as if the relay had said "I have what we last shared, nothing else", so
    /// it carries every local change after those heads at once (a new document goes whole);
    /// what the relay already had it ignores.
    pub(super) fn generate(
        &mut self,
        live: &mut HashMap<String, State>,
        ids: &[String],
    ) -> Result<Vec<DocMessage>, SyncError> {
        let c = self.client();
        let mut out = Vec::new();
        let mut loaded = std::mem::take(&mut self.loaded);
        for id in ids {
            let here = || c.store().doc_heads(id).ok().flatten();
            if live
                .get(id)
                .is_some_and(|state| awaiting_answer(state, here))
            {
                // Automerge would say nothing more (see `awaiting_answer`): the document is
                // done without loading it again.
                loaded.remove(id);
                live.remove(id);
                self.done += 1;
                continue;
            }
            // The copy the last answer left, unless the document changed here since.
            let kept = loaded.remove(id).and_then(|mut d| {
                let now = c.store().doc_heads(id).ok().flatten();
                (now.as_deref() == Some(heads_of(&mut d).as_str())).then_some(d)
            });
            let mut doc = match kept {
                Some(d) => d,
                None => match c.store().load_doc(id)? {
                    Some(bytes) => match RecordDoc::load(&bytes, &c.identity().actor) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::error!(doc = %id, error = %e, "stored document does not load");
                            continue;
                        }
                    },
                    None => RecordDoc::empty(&c.identity().actor),
                },
            };
            let state = match live.get_mut(id) {
                Some(state) => state,
                None => {
                    let mut state = c
                        .store()
                        .sync_row(self.relay(), id)?
                        .and_then(|r| State::decode(&r.state).ok())
                        .unwrap_or_default();
                    // Only this device's own writing is pushed unasked: changes it carries for
                    // others (a bundle's) may be in a document it only reads, where the relay
                    // refuses any change; for those, and after a refusal, the relay is asked
                    // first and answers as to a reader.
                    if !self.plain.contains(id) {
                        if let Some(to_send) =
                            own_news(&mut doc, &state.shared_heads, &c.identity().actor)
                        {
                            presume_shared(&mut state, to_send);
                        }
                    }
                    live.entry(id.clone()).or_insert(state)
                }
            };
            let before = state.sent_hashes.clone();
            match doc.generate_sync_message(state) {
                Some(m) => {
                    // The signatures of exactly the changes this message carries.
                    let sent: Vec<[u8; 32]> =
                        state.sent_hashes.difference(&before).map(|h| h.0).collect();
                    let signatures = signing::to_wire(c.store().signatures_for(&sent)?);
                    out.push(DocMessage {
                        doc_id: id.clone(),
                        message: m.encode(),
                        signatures,
                    });
                }
                None => {
                    live.remove(id);
                    self.done += 1;
                }
            }
        }
        Ok(out)
    }

    /// The messages of the next request: as many from the front of `outbox` as fit under the
    /// byte cap and the per-request count. A single message above the cap cannot be split
    /// (Automerge sends a document's missing changes together): it is refused here with a
    /// clear code rather than sent.
    pub(super) fn take_request(
        &mut self,
        outbox: &mut std::collections::VecDeque<DocMessage>,
    ) -> Vec<DocMessage> {
        let cap = self.opts.max_request_bytes;
        let mut out = Vec::new();
        let mut size = 16usize;
        while let Some(m) = outbox.front() {
            let item = m.doc_id.len() + m.message.len() + 20 + m.signatures.len() * 96;
            if item + 16 > cap {
                tracing::warn!(doc = %m.doc_id, bytes = item, cap, "sync message above the request cap");
                self.report
                    .refused
                    .push((m.doc_id.clone(), "too_large".into()));
                outbox.pop_front();
                continue;
            }
            if !out.is_empty() && (size + item > cap || out.len() >= self.opts.max_docs_per_request)
            {
                break;
            }
            size += item;
            if let Some(m) = outbox.pop_front() {
                out.push(m);
            }
        }
        out
    }
}

/// How many changes the document has after `shared`, when `actor` made any of them.
fn own_news(
    doc: &mut RecordDoc,
    shared: &[ChangeHash],
    actor: &automerge::ActorId,
) -> Option<usize> {
    let after = doc.automerge().get_changes_meta(shared);
    after
        .iter()
        .any(|c| c.actor.as_ref() == actor)
        .then_some(after.len())
}
