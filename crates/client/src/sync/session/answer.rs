//! What a session does with an answer: everything in it applied in one transaction.

use std::collections::{HashMap, HashSet};

use automerge::sync::State;
use automerge::ChangeHash;
use tidemark_store::{heads_key, SignKey};
use tidemark_sync_protocol::DocMessage;

use super::Session;
use crate::now_secs;
use crate::records::persist_read;
use crate::signing;
use crate::sync::http::{SessionAnswer, SessionAsk};
use crate::sync::reply::{receive_reply, Applied, Received, Reception};
use crate::sync::{keys, SyncError};

impl Session<'_> {
    /// Applies one answer in one transaction: creations, the statuses of the messages sent,
    /// every reply and offer, the feed page and the receipts. Returns the feed's documents
    /// that are still behind the relay (no offer came for them).
    pub(super) fn apply(
        &mut self,
        live: &mut HashMap<String, State>,
        ask: &SessionAsk,
        sent: &[String],
        answer: SessionAnswer,
        replies: Vec<DocMessage>,
    ) -> Result<Vec<String>, SyncError> {
        let relay = self.relay().to_string();
        let now = now_secs();
        let mut c = self.client();
        let actor = c.identity().actor.clone();
        // Read before the transaction: the stored states of documents the relay spoke about
        // first (offers), and the local heads of the feed's documents.
        let mut stored: HashMap<String, State> = HashMap::new();
        for r in replies.iter().filter(|r| !live.contains_key(&r.doc_id)) {
            let state = c
                .store()
                .sync_row(&relay, &r.doc_id)?
                .and_then(|row| State::decode(&row.state).ok())
                .unwrap_or_default();
            stored.insert(r.doc_id.clone(), state);
        }
        let mut local_heads: HashMap<String, Option<String>> = HashMap::new();
        for doc in answer.feed.iter().flat_map(|p| &p.documents) {
            local_heads.insert(doc.id.clone(), c.store().doc_heads(&doc.id)?);
        }
        let tx = c.store_mut().begin()?;
        if answer.created.len() != ask.create.len() {
            return Err(SyncError::bad_response(
                "the relay answered a document batch with the wrong number of results",
            ));
        }
        let mut refused_create: HashSet<&str> = HashSet::new();
        for r in &answer.created {
            match r.code.as_str() {
                "created" | "exists" => {
                    if r.code == "created" {
                        self.report.created += 1;
                    }
                    tx.mark_registered(&relay, &r.id, now)?;
                }
                code => {
                    tracing::warn!(doc = %r.id, code, "relay refused to create a document");
                    self.report.refused.push((r.id.clone(), code.to_string()));
                    tx.mark_refused(&relay, &r.id, code, now)?;
                    refused_create.insert(r.id.as_str());
                }
            }
        }
        let statuses: HashMap<&str, &crate::sync::http::ItemStatus> = answer
            .items
            .iter()
            .map(|s| (s.doc_id.as_str(), s))
            .collect();
        for id in sent {
            let Some(status) = statuses.get(id.as_str()) else {
                // The relay did not mention it: try again in the next session.
                live.remove(id);
                continue;
            };
            if status.code != "ok" {
                tracing::warn!(doc = %id, code = %status.code, "relay refused a document");
                self.plain.insert(id.clone());
                self.report.refused.push((id.clone(), status.code.clone()));
                if refused_create.contains(id.as_str()) {
                    // Its creation was refused just now, which is why the relay does not know
                    // it: that refusal stands until the document changes here.
                } else if status.code == "not_found" {
                    // The relay does not have it (any more): create it again next session.
                    tx.forget_sync_state(&relay, id)?;
                } else {
                    tx.mark_refused(&relay, id, &status.code, now)?;
                }
                live.remove(id);
                self.done += 1;
                continue;
            }
            self.report.changes_sent += status.accepted;
        }
        let mut heard: HashSet<String> = HashSet::new();
        // Waves of distinct documents: a document the answer speaks about twice is applied
        // again after its first message is stored.
        let mut rest = replies;
        while !rest.is_empty() {
            let mut ids: HashSet<String> = HashSet::new();
            let (wave, later): (Vec<DocMessage>, Vec<DocMessage>) =
                rest.into_iter().partition(|r| ids.insert(r.doc_id.clone()));
            rest = later;
            // What each reply needs, read here; the Automerge work (loading, applying, reading
            // the record) runs on every core; what it leaves is stored below, in order.
            let mut incoming = Vec::with_capacity(wave.len());
            for reply in wave {
                let state = live
                    .remove(&reply.doc_id)
                    .or_else(|| stored.remove(&reply.doc_id))
                    .unwrap_or_default();
                let bytes = tx.load_doc(&reply.doc_id)?;
                incoming.push((reply, state, bytes));
            }
            let outcomes = crate::parallel::map(incoming, |(reply, state, bytes)| {
                receive_reply(reply, state, bytes, &actor)
            });
            for outcome in outcomes {
                let Received {
                    id,
                    signatures,
                    state,
                    result,
                } = outcome;
                // Kept whatever happens to the message: they are checked when shown.
                tx.put_signatures(&signing::from_wire(&signatures))?;
                let applied = match result {
                    Reception::Undecodable(e) => {
                        tracing::warn!(doc = %id, error = %e, "undecodable reply from the relay");
                        continue;
                    }
                    Reception::StoredUnreadable(e) => {
                        return Err(crate::ClientError::from(e).into())
                    }
                    Reception::DoesNotApply(e) => {
                        tracing::warn!(doc = %id, error = %e, "reply from the relay does not apply");
                        tx.mark_refused(&relay, &id, "bad_message", now)?;
                        continue;
                    }
                    Reception::Applied(applied) => *applied,
                };
                let Applied {
                    mut doc,
                    before,
                    received,
                    whole,
                    record,
                } = applied;
                if let Some(record) = record {
                    let Ok(record) = record else {
                        // Changes that do not make a record (yet): keep nothing, say so.
                        tracing::warn!(doc = %id, "relay sent changes that are not a record");
                        tx.mark_refused(&relay, &id, "bad_record", now)?;
                        continue;
                    };
                    persist_read(&tx, &mut doc, record, &before, false, whole)?;
                    self.report.changes_received += received;
                    if self.report.changed.len() < 1000 {
                        self.report.changed.push(id.clone());
                    }
                }
                let shared: Vec<String> = state
                    .shared_heads
                    .iter()
                    .map(ChangeHash::to_string)
                    .collect();
                tx.put_sync_state(&relay, &id, &state.encode(), &heads_key(&shared), now)?;
                live.insert(id.clone(), state);
                // Its acknowledgement is generated next, from this very copy.
                self.loaded.insert(id.clone(), doc);
                heard.insert(id);
            }
        }
        let mut lacking = Vec::new();
        if let Some(page) = &answer.feed {
            for doc in &page.documents {
                tx.mark_registered(&relay, &doc.id, now)?;
                if !doc.heads.is_empty() {
                    self.news.insert(doc.id.clone(), doc.heads.clone());
                }
                if doc.heads.is_empty() || heard.contains(&doc.id) || live.contains_key(&doc.id) {
                    continue;
                }
                let local = local_heads.get(&doc.id).cloned().flatten();
                if local.as_deref() != Some(heads_key(&doc.heads).as_str()) {
                    lacking.push(doc.id.clone());
                }
            }
            if let Some(keys) = &page.keys {
                let keys: Vec<SignKey> = keys
                    .iter()
                    .filter_map(|k| {
                        Some(SignKey {
                            actor: k.actor.to_ascii_lowercase(),
                            key: hex::decode(&k.key).ok()?,
                            device: k.device.clone(),
                            unit: k.unit.clone(),
                        })
                    })
                    .collect();
                tx.put_sign_keys(&keys)?;
            }
            if let Some(at) = page.key_cursor {
                tx.set_meta(keys::KEY_CURSOR, &format!("{relay}:{at}"))?;
            }
        }
        self.total += heard.len() + lacking.len();
        self.report.receipts += crate::sync::delivery::apply_receipts(
            &tx,
            &answer.receipts,
            &actor,
            &self.cfg.device_id,
            now,
        )?;
        tx.commit()?;
        Ok(lacking)
    }
}
