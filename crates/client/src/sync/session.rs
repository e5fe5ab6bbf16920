//! One sync session with the relay: read the change feed, create the documents the relay
//! lacks, run batched `automerge::sync` rounds until nothing is left to say, then ask which
//! units hold what (delivery receipts).
//!
//! Every reply is applied and its sync state persisted in one SQLite transaction per request,
//! so a connection cut at any point loses nothing: the next session starts from the persisted
//! states (the heads both sides are known to share), and Automerge ignores changes it already
//! has, so nothing is duplicated either.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use automerge::sync::{Message, State};
use automerge::ChangeHash;
use rand::RngCore;
use serde::Serialize;
use tidemark_domain::document::RecordDoc;
use tidemark_store::{heads_key, ReceiptRow, SignKey};
use tidemark_sync_protocol::{ChangeSignature, DocMessage};

use super::http::{NewDoc, RelayHttp, WireCounters, WireTotals};
use super::sharing::new_doc;
use super::{connect, keys, lock, RelayConfig, SharedClient, SyncError, SyncOptions, SyncStatus};
use crate::records::{heads_of, persist};
use crate::signing;
use crate::{now_secs, Client};

/// Most documents created, or asked about, per request.
const IDS_PER_REQUEST: usize = 1000;
/// Most documents whose receipts one session asks about.
const RECEIPTS_PER_SESSION: usize = 5000;

/// What one session did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Documents created at the relay.
    pub created: usize,
    /// Documents that took part in sync rounds.
    pub documents: usize,
    /// Changes the relay accepted from this device.
    pub changes_sent: usize,
    /// Changes received from the relay.
    pub changes_received: usize,
    /// Sync requests (rounds × requests per round).
    pub sync_requests: usize,
    /// Documents the relay (or this client) refused, with the reason code.
    pub refused: Vec<(String, String)>,
    /// Delivery receipts learned.
    pub receipts: usize,
    /// Records that changed here (changes received), at most 1,000 ids.
    pub changed: Vec<String>,
    /// Attachments moved after the records.
    pub files: super::FilesReport,
    /// Bytes and round trips on the wire.
    pub wire: WireTotals,
    /// Wall time in milliseconds.
    pub millis: u64,
}

/// Runs one complete session with the enrolled relay and reports progress through `progress`.
pub async fn sync_once(
    shared: &SharedClient,
    opts: &SyncOptions,
    progress: &(dyn Fn(SyncStatus) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let counters = Arc::new(WireCounters::default());
    let (cfg, http) = connect(shared, opts, counters.clone())?;
    let started = Instant::now();
    progress(SyncStatus::Connecting);
    let mut s = Session {
        shared,
        cfg: &cfg,
        http: &http,
        opts,
        progress,
        report: SyncReport::default(),
        name: session_name(),
        done: 0,
        total: 0,
    };
    let mut result = s.run().await;
    let mut report = s.report;
    // Files move only once the records referring to them are at the relay and here.
    if result.is_ok() {
        match super::files::transfer(shared, &cfg, &http, progress).await {
            Ok(files) => report.files = files,
            Err(e) => result = Err(e),
        }
    }
    report.wire = counters.totals();
    report.millis = started.elapsed().as_millis() as u64;
    let mut c = lock(shared);
    match result {
        Ok(cursor) => {
            let totals = serde_json::to_string(&report.wire).unwrap_or_default();
            c.store_mut().set_meta_many(&[
                (keys::CURSOR, &cursor.to_string()),
                (keys::LAST_OK, &now_secs().to_string()),
                (keys::LAST_ERROR, ""),
                (keys::LAST_TOTALS, &totals),
            ])?;
            tracing::info!(
                documents = report.documents,
                sent = report.changes_sent,
                received = report.changes_received,
                requests = report.wire.requests,
                bytes_up = report.wire.bytes_up,
                bytes_down = report.wire.bytes_down,
                millis = report.millis,
                "sync session done"
            );
            Ok(report)
        }
        Err(e) => {
            let err = serde_json::json!({"code": e.code, "message": e.message, "at": now_secs()});
            // Recording the error is best effort: the error itself is what matters.
            let _ = c.store_mut().set_meta(keys::LAST_ERROR, &err.to_string());
            tracing::warn!(code = %e.code, retryable = e.retryable, "sync session failed");
            Err(e)
        }
    }
}

fn session_name() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("s-{}", hex::encode(b))
}

struct Session<'a> {
    shared: &'a SharedClient,
    cfg: &'a RelayConfig,
    http: &'a RelayHttp,
    opts: &'a SyncOptions,
    progress: &'a (dyn Fn(SyncStatus) + Send + Sync),
    report: SyncReport,
    name: String,
    done: usize,
    total: usize,
}

/// A document in a batch: its sync state for this session.
struct Live {
    state: State,
}

impl<'a> Session<'a> {
    fn client(&self) -> std::sync::MutexGuard<'a, Client> {
        lock(self.shared)
    }

    /// The key of this relay's sync states: the device id it gave us (stable when the
    /// relay's address changes, different for another relay).
    fn relay(&self) -> &str {
        self.cfg.key()
    }

    fn tick(&self) {
        let w = self.http.totals();
        (self.progress)(SyncStatus::Syncing {
            docs_done: self.done.min(self.total),
            docs_total: self.total,
            bytes_up: w.bytes_up,
            bytes_down: w.bytes_down,
        });
    }

    /// The whole session; returns the feed cursor to store.
    async fn run(&mut self) -> Result<i64, SyncError> {
        let (cursor, from_feed) = self.read_feed().await?;
        self.register_key().await?;
        self.register().await?;
        self.sync_documents(from_feed).await?;
        self.receipts().await?;
        Ok(cursor)
    }

    /// Reads the feed from the stored cursor; returns the new cursor and the documents whose
    /// relay heads this device lacks.
    async fn read_feed(&mut self) -> Result<(i64, BTreeSet<String>), SyncError> {
        let mut cursor: i64 = self
            .client()
            .store()
            .meta(keys::CURSOR)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut need = BTreeSet::new();
        loop {
            let held = self.client().store().sign_key_count()?;
            let page = self.http.feed(cursor, held).await?;
            {
                let mut c = self.client();
                let relay = self.relay().to_string();
                let now = now_secs();
                let store = c.store_mut();
                let mut missing = Vec::new();
                for doc in &page.documents {
                    if doc.heads.is_empty() {
                        continue;
                    }
                    let local = store.doc_heads(&doc.id)?;
                    if local.as_deref() != Some(heads_key(&doc.heads).as_str()) {
                        missing.push(doc.id.clone());
                    }
                }
                let tx = store.begin()?;
                for doc in &page.documents {
                    tx.mark_registered(&relay, &doc.id, now)?;
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
                tx.commit()?;
                need.extend(missing);
            }
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        Ok((cursor, need))
    }

    /// Registers this device's signing key with the relay once (a device enrolled before
    /// signed changes existed has none there yet).
    async fn register_key(&mut self) -> Result<(), SyncError> {
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

    /// Creates at the relay every local document it does not know yet.
    async fn register(&mut self) -> Result<(), SyncError> {
        loop {
            let batch: Vec<NewDoc> = {
                let c = self.client();
                let ids = c.store().unregistered_docs(self.relay(), IDS_PER_REQUEST)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(doc) = new_doc(&c, &id, &self.cfg.unit)? {
                        out.push(doc);
                    }
                }
                out
            };
            if batch.is_empty() {
                return Ok(());
            }
            let results = self.http.create_batch(&batch).await?;
            let mut c = self.client();
            let relay = self.relay().to_string();
            let now = now_secs();
            let tx = c.store_mut().begin()?;
            let mut progressed = false;
            for r in &results {
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
                    }
                }
                progressed = true;
            }
            tx.commit()?;
            if !progressed {
                return Err(SyncError::bad_response(
                    "the relay answered a document batch with no results",
                ));
            }
        }
    }

    /// Runs sync rounds for every document with unconfirmed local changes and every document
    /// the feed says has news, batch by batch.
    async fn sync_documents(&mut self, from_feed: BTreeSet<String>) -> Result<(), SyncError> {
        let pending = self.client().store().pending_count(self.relay())?;
        self.total = pending + from_feed.len();
        self.tick();
        let mut seen: HashSet<String> = HashSet::new();
        let mut feed: Vec<String> = from_feed.into_iter().collect();
        loop {
            let mut batch: Vec<String> = Vec::new();
            while batch.len() < self.opts.batch_docs {
                match feed.pop() {
                    Some(id) if seen.insert(id.clone()) => batch.push(id),
                    Some(_) => {}
                    None => break,
                }
            }
            if batch.len() < self.opts.batch_docs {
                let more = self
                    .client()
                    .store()
                    .pending_docs(self.relay(), self.opts.batch_docs + seen.len())?;
                for id in more {
                    if batch.len() >= self.opts.batch_docs {
                        break;
                    }
                    if seen.insert(id.clone()) {
                        batch.push(id);
                    }
                }
            }
            if batch.is_empty() {
                return Ok(());
            }
            self.report.documents += batch.len();
            self.run_batch(batch).await?;
        }
    }

    /// Rounds for one batch of documents until none has anything to send.
    async fn run_batch(&mut self, ids: Vec<String>) -> Result<(), SyncError> {
        let mut live: HashMap<String, Live> = HashMap::new();
        {
            let c = self.client();
            for id in &ids {
                let state = c
                    .store()
                    .sync_row(self.relay(), id)?
                    .and_then(|r| State::decode(&r.state).ok())
                    .unwrap_or_default();
                live.insert(id.clone(), Live { state });
            }
        }
        let mut active: Vec<String> = ids;
        for _round in 0..self.opts.max_rounds {
            let messages = self.generate(&mut live, &active)?;
            let quiet = active.len() - messages.len();
            self.done += quiet;
            if messages.is_empty() {
                self.tick();
                return Ok(());
            }
            active = messages.iter().map(|m| m.doc_id.clone()).collect();
            for request in self.pack(messages) {
                self.round(&mut live, request).await?;
                self.tick();
            }
        }
        tracing::warn!(
            documents = active.len(),
            "documents still exchanging after the round limit"
        );
        Ok(())
    }

    /// The next message of every active document that has one.
    fn generate(
        &mut self,
        live: &mut HashMap<String, Live>,
        active: &[String],
    ) -> Result<Vec<DocMessage>, SyncError> {
        let c = self.client();
        let mut out = Vec::new();
        for id in active {
            let Some(l) = live.get_mut(id) else { continue };
            let mut doc = match c.store().load_doc(id)? {
                Some(bytes) => match RecordDoc::load(&bytes, &c.identity().actor) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(doc = %id, error = %e, "stored document does not load");
                        continue;
                    }
                },
                None => RecordDoc::empty(&c.identity().actor),
            };
            let before = l.state.sent_hashes.clone();
            if let Some(m) = doc.generate_sync_message(&mut l.state) {
                // The signatures of exactly the changes this message carries.
                let sent: Vec<[u8; 32]> = l
                    .state
                    .sent_hashes
                    .difference(&before)
                    .map(|h| h.0)
                    .collect();
                let signatures = signing::to_wire(c.store().signatures_for(&sent)?);
                out.push(DocMessage {
                    doc_id: id.clone(),
                    message: m.encode(),
                    signatures,
                });
            }
        }
        Ok(out)
    }

    /// Splits messages into requests no larger than the cap. A single message above the cap
    /// cannot be split (Automerge sends a document's missing changes together): it is refused
    /// here with a clear code rather than sent.
    fn pack(&mut self, messages: Vec<DocMessage>) -> Vec<Vec<DocMessage>> {
        let cap = self.opts.max_request_bytes;
        let mut out: Vec<Vec<DocMessage>> = Vec::new();
        let mut current: Vec<DocMessage> = Vec::new();
        let mut size = 16usize;
        for m in messages {
            let item = m.doc_id.len() + m.message.len() + 20;
            if item + 16 > cap {
                tracing::warn!(doc = %m.doc_id, bytes = item, cap, "sync message above the request cap");
                self.report
                    .refused
                    .push((m.doc_id.clone(), "too_large".into()));
                continue;
            }
            if !current.is_empty()
                && (size + item > cap || current.len() >= self.opts.max_docs_per_request)
            {
                out.push(std::mem::take(&mut current));
                size = 16;
            }
            size += item;
            current.push(m);
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    /// One request: send, then apply every reply and persist every state in one transaction.
    async fn round(
        &mut self,
        live: &mut HashMap<String, Live>,
        request: Vec<DocMessage>,
    ) -> Result<(), SyncError> {
        let ids: Vec<String> = request.iter().map(|m| m.doc_id.clone()).collect();
        self.report.sync_requests += 1;
        let (statuses, replies) = self.http.sync(&self.name, request).await?;
        let statuses: HashMap<String, super::http::ItemStatus> = statuses
            .into_iter()
            .map(|s| (s.doc_id.clone(), s))
            .collect();
        let mut replies: HashMap<String, (Vec<u8>, Vec<ChangeSignature>)> = replies
            .into_iter()
            .map(|m| (m.doc_id, (m.message, m.signatures)))
            .collect();
        let relay = self.relay().to_string();
        let now = now_secs();
        let mut c = self.client();
        let actor = c.identity().actor.clone();
        let tx = c.store_mut().begin()?;
        for id in &ids {
            let Some(l) = live.get_mut(id) else { continue };
            let Some(status) = statuses.get(id) else {
                // The relay did not mention it: try again in the next session.
                live.remove(id);
                continue;
            };
            if status.code != "ok" {
                tracing::warn!(doc = %id, code = %status.code, "relay refused a document");
                self.report.refused.push((id.clone(), status.code.clone()));
                if status.code == "not_found" {
                    // The relay does not have it (any more): create it again next session.
                    tx.forget_sync_state(&relay, id)?;
                } else {
                    tx.mark_refused(&relay, id, &status.code, now)?;
                }
                live.remove(id);
                continue;
            }
            self.report.changes_sent += status.accepted;
            let Some((bytes, signatures)) = replies.remove(id) else {
                continue;
            };
            // Kept whatever happens to the message: they are checked when shown.
            tx.put_signatures(&signing::from_wire(&signatures))?;
            let message = match Message::decode(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(doc = %id, error = %e, "undecodable reply from the relay");
                    live.remove(id);
                    continue;
                }
            };
            let mut doc = match tx.load_doc(id)? {
                Some(b) => RecordDoc::load(&b, &actor).map_err(crate::ClientError::from)?,
                None => RecordDoc::empty(&actor),
            };
            let before = doc.heads();
            let mut state = l.state.clone();
            let received = match doc.receive_sync_message(&mut state, message) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(doc = %id, error = %e, "reply from the relay does not apply");
                    tx.mark_refused(&relay, id, "bad_message", now)?;
                    live.remove(id);
                    continue;
                }
            };
            if doc.heads() != before {
                if doc.read().is_err() {
                    // Changes that do not make a record (yet): keep nothing, say so.
                    tracing::warn!(doc = %id, "relay sent changes that are not a record");
                    tx.mark_refused(&relay, id, "bad_record", now)?;
                    live.remove(id);
                    continue;
                }
                persist(&tx, &mut doc, &before, false)?;
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
            tx.put_sync_state(&relay, id, &state.encode(), &heads_key(&shared), now)?;
            l.state = state;
        }
        tx.commit()?;
        Ok(())
    }

    /// Asks the relay which units hold the current state of recently changed documents and
    /// records the answers.
    async fn receipts(&mut self) -> Result<(), SyncError> {
        // HQ's own device does not wait for HQ to receive anything.
        if self.cfg.root_unit.as_deref() == Some(self.cfg.unit.as_str()) {
            return Ok(());
        }
        let ids = self
            .client()
            .store()
            .docs_awaiting_root_receipt(self.relay(), RECEIPTS_PER_SESSION)?;
        for chunk in ids.chunks(IDS_PER_REQUEST) {
            let answer = self.http.receipts(chunk).await?;
            let now = now_secs();
            let mut c = self.client();
            let actor = c.identity().actor.clone();
            let tx = c.store_mut().begin()?;
            for doc in answer {
                let Some(bytes) = tx.load_doc(&doc.id)? else {
                    continue;
                };
                let Ok(mut d) = RecordDoc::load(&bytes, &actor) else {
                    continue;
                };
                let ours = d.heads();
                let ours_key = heads_of(&mut d);
                for unit in doc.units {
                    let mut best: Option<String> = None;
                    for dev in &unit.devices {
                        if dev.device_id == self.cfg.device_id {
                            continue;
                        }
                        let theirs: Vec<ChangeHash> =
                            dev.heads.iter().filter_map(|h| h.parse().ok()).collect();
                        if d.covers(&theirs, &ours) {
                            best = Some(ours_key.clone());
                            break;
                        }
                        best.get_or_insert_with(|| heads_key(&dev.heads));
                    }
                    let Some(heads) = best else { continue };
                    tx.put_receipt(
                        &doc.id,
                        &ReceiptRow {
                            unit: unit.unit,
                            via: "relay".into(),
                            root: unit.root,
                            heads,
                            at: now,
                        },
                    )?;
                    self.report.receipts += 1;
                }
            }
            tx.commit()?;
        }
        Ok(())
    }
}
