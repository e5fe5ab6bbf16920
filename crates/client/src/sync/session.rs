//! One sync session with the relay: `POST /v1/session` requests until nothing is left to say.
//! Each carries what is left of: the change feed to read (the relay answers each document with
//! news with its first sync message straight away), the documents the relay lacks (created
//! first, then pushed whole in the same request), batched `automerge::sync` messages (a
//! document's first message pushes everything after the heads last shared), and delivery
//! receipts to read (which units hold what).
//!
//! Every reply is applied and its sync state persisted in one SQLite transaction per request,
//! so a connection cut at any point loses nothing: the next session starts from the persisted
//! states (the heads both sides are known to share), and Automerge ignores changes it already
//! has, so nothing is duplicated either.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use automerge::sync::State;
use automerge::ChangeHash;
use rand::RngCore;
use serde::Serialize;
use tidemark_domain::document::RecordDoc;
use tidemark_store::{heads_key, SignKey};
use tidemark_sync_protocol::presume::presume_shared;
use tidemark_sync_protocol::DocMessage;

use super::http::{
    FeedAsk, NewDoc, RelayHttp, SessionAnswer, SessionAsk, WireCounters, WireTotals,
};
use super::reply::{awaiting_answer, receive_reply, Applied, Received, Reception};
use super::sharing::new_doc;
use super::{connect, keys, lock, RelayConfig, SharedClient, SyncError, SyncOptions, SyncStatus};
use crate::records::{heads_of, persist_read};
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
        plain: HashSet::new(),
        news: HashMap::new(),
        loaded: HashMap::new(),
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
                (keys::UNANSWERED, ""),
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

/// Most documents remembered from requests whose answers were lost; beyond them a document is
/// simply pushed again, as before.
const UNANSWERED_MAX: usize = 5_000;

fn session_name() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("s-{}", hex::encode(b))
}

/// What the rounds of one session carry from one request to the next.
#[derive(Default)]
struct Rounds {
    /// Where the feed was read up to.
    cursor: i64,
    /// Whether the feed has more after `cursor`.
    feed_open: bool,
    /// Where the relay's key directory was read up to, once an answer said.
    key_cursor: Option<i64>,
    /// Documents whose receipts are still to ask about.
    receipts: Vec<String>,
    /// Documents whose creation was tried this session.
    tried_create: HashSet<String>,
    /// Sync states of the documents exchanging this session.
    live: HashMap<String, State>,
    /// Documents whose next message goes in the next request, and the same as a set.
    todo: Vec<String>,
    queued: HashSet<String>,
    /// Documents that took part this session.
    seen: HashSet<String>,
    /// Messages generated per document this session.
    rounds: HashMap<String, usize>,
    /// Messages generated and not sent yet.
    outbox: std::collections::VecDeque<DocMessage>,
}

impl Rounds {
    /// Queues `id` for the next request (once).
    fn queue(&mut self, id: String) {
        if self.queued.insert(id.clone()) {
            self.todo.push(id);
        }
    }
}

/// A request on its way while the answer before it is applied.
struct Ahead {
    ask: SessionAsk,
    /// The documents its messages are about.
    sent: Vec<String>,
    answer: AbortOnDrop<Result<(SessionAnswer, Vec<DocMessage>), SyncError>>,
}

/// A spawned request that stops when the session does (an error applying the answer before it
/// ends the session; the relay then sees a request cut off, which it is built to survive).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
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
    /// Documents whose messages are not to push changes unasked (the relay refused one).
    plain: HashSet<String>,
    /// The relay's heads of every document the feed listed this session.
    news: HashMap<String, Vec<String>>,
    /// Documents as the last answer left them, kept for their next message so that a pull
    /// loads each once, not once to apply and again to acknowledge.
    loaded: HashMap<String, RecordDoc>,
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
    ///
    /// Every request is a `POST /v1/session` carrying whatever is left to say: the next page
    /// of the feed to read (the relay answers it with its first message for each document with
    /// news), documents to create, sync messages (a document's first message of the session
    /// pushes every change after the heads last shared with the relay, without waiting to be
    /// asked), and receipts to read. A station's catch-up is two requests: everything, then its
    /// acknowledgements.
    async fn run(&mut self) -> Result<i64, SyncError> {
        self.register_key().await?;
        // Documents whose last push the relay took but whose answer never came: ask about them
        // before pushing again (the relay most likely has it all).
        let unanswered = self.unanswered()?;
        if !unanswered.is_empty() {
            tracing::info!(
                documents = unanswered.len(),
                "asking before pushing again what an unanswered request carried"
            );
        }
        self.plain.extend(unanswered);
        let cursor: i64 = self
            .client()
            .store()
            .meta(keys::CURSOR)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        self.total = self.client().store().pending_count(self.relay())?;
        self.tick();
        let mut l = Rounds {
            cursor,
            feed_open: true,
            receipts: self.receipt_ids()?,
            ..Rounds::default()
        };
        let start_cursor = cursor;
        let mut retried = false;
        // The next request, sent while the last answer is applied (see below).
        let mut ahead: Option<Ahead> = None;
        loop {
            let (ask, sent, result) = match ahead.take() {
                Some(a) => {
                    let result = match a.answer.await {
                        Ok(result) => result,
                        Err(e) => Err(SyncError::internal(format!("session request: {e}"))),
                    };
                    (a.ask, a.sent, result)
                }
                None => {
                    let Some((ask, items)) = self.next_request(&mut l, &HashSet::new())? else {
                        let behind = self.behind()?;
                        if !behind.is_empty() && !retried {
                            // A document the feed announced did not arrive: ask for it once
                            // more, from the relay's own account of what this device holds.
                            retried = true;
                            tracing::warn!(
                                documents = behind.len(),
                                "feed documents still behind; asking again"
                            );
                            for id in behind {
                                l.live.remove(&id);
                                l.rounds.remove(&id);
                                self.plain.insert(id.clone());
                                l.queue(id);
                            }
                            continue;
                        }
                        self.done = self.total;
                        self.tick();
                        if !behind.is_empty() {
                            // Keep the cursor where the session found it, so the next session
                            // reads these documents from the feed again rather than forgetting
                            // them.
                            tracing::warn!(
                                documents = behind.len(),
                                "feed documents still behind after the session"
                            );
                            return Ok(start_cursor);
                        }
                        return Ok(l.cursor);
                    };
                    let sent: Vec<String> = items.iter().map(|m| m.doc_id.clone()).collect();
                    self.report.sync_requests += 1;
                    let result = self.http.session(&self.name, &ask, items).await;
                    (ask, sent, result)
                }
            };
            let (answer, replies) = match result {
                Ok(answer) => answer,
                Err(e) => {
                    if self.http.take_answer_lost() {
                        self.remember_unanswered(&sent)?;
                    }
                    return Err(e);
                }
            };
            if let Some(page) = &answer.feed {
                l.cursor = page.cursor;
                l.feed_open = page.more;
                l.key_cursor = page.key_cursor.or(l.key_cursor);
            }
            if l.feed_open {
                // More of the feed to read: the next request asks for it now, while this
                // answer is applied, so that the relay prepares the next page while this device
                // stores this one (a bulk pull's two halves overlap instead of taking turns).
                // Its messages leave out the documents this answer speaks about; they go in the
                // request after, from the state this answer leaves.
                let busy: HashSet<String> = sent
                    .iter()
                    .cloned()
                    .chain(replies.iter().map(|r| r.doc_id.clone()))
                    .collect();
                if let Some((next_ask, items)) = self.next_request(&mut l, &busy)? {
                    let next_sent: Vec<String> = items.iter().map(|m| m.doc_id.clone()).collect();
                    self.report.sync_requests += 1;
                    let http = self.http.clone();
                    let name = self.name.clone();
                    let body = next_ask.clone();
                    ahead = Some(Ahead {
                        ask: next_ask,
                        sent: next_sent,
                        answer: AbortOnDrop(tokio::spawn(async move {
                            http.session(&name, &body, items).await
                        })),
                    });
                }
            }
            let lacking = self.apply(&mut l.live, &ask, &sent, answer, replies)?;
            // Every document that heard from the relay (to acknowledge) and every feed document
            // still behind: their next message goes in the next request.
            let live: Vec<String> = l.live.keys().cloned().collect();
            for id in lacking.into_iter().chain(live) {
                l.queue(id);
            }
            self.tick();
        }
    }

    /// The next request of the session, or `None` when nothing is left to say: documents to
    /// create, the next messages (of documents not in `busy`, which stay queued), the next page
    /// of the feed while it has more, and receipts to ask about.
    fn next_request(
        &mut self,
        l: &mut Rounds,
        busy: &HashSet<String>,
    ) -> Result<Option<(SessionAsk, Vec<DocMessage>)>, SyncError> {
        let create = self.next_creates(&mut l.tried_create)?;
        let creating: HashSet<String> = create.iter().map(|d| d.id.clone()).collect();
        if l.outbox.is_empty() {
            // New documents go with their creation; then what the last answers call for; then
            // documents with changes the relay has not confirmed.
            let mut ids: Vec<String> = Vec::new();
            let mut picked: HashSet<String> = HashSet::new();
            let (wait, go): (Vec<String>, Vec<String>) =
                l.todo.drain(..).partition(|id| busy.contains(id));
            l.todo = wait;
            for id in create.iter().map(|d| d.id.clone()).chain(go) {
                l.queued.remove(&id);
                if picked.insert(id.clone()) {
                    ids.push(id);
                }
            }
            if ids.len() < self.opts.batch_docs {
                let more = self.pending_to_push(&l.seen, &creating, self.opts.batch_docs)?;
                for id in more {
                    if ids.len() >= self.opts.batch_docs {
                        break;
                    }
                    if !busy.contains(&id) && picked.insert(id.clone()) {
                        ids.push(id);
                    }
                }
            }
            ids.retain(|id| {
                let n = l.rounds.entry(id.clone()).or_insert(0);
                *n += 1;
                if *n > self.opts.max_rounds {
                    tracing::warn!(doc = %id, "document still exchanging after the round limit");
                    return false;
                }
                true
            });
            for id in &ids {
                if l.seen.insert(id.clone()) {
                    self.report.documents += 1;
                }
            }
            let messages = self.generate(&mut l.live, &ids)?;
            l.outbox.extend(messages);
        }
        let items = self.take_request(&mut l.outbox);
        let feed = if l.feed_open {
            Some(FeedAsk {
                since: l.cursor,
                key_cursor: match l.key_cursor {
                    Some(at) => at,
                    None => self.key_cursor()?,
                },
                max_bytes: self.opts.max_request_bytes,
                rows: (self.opts.feed_rows > 0).then_some(self.opts.feed_rows),
            })
        } else {
            None
        };
        let receipts: Vec<String> = l
            .receipts
            .drain(..l.receipts.len().min(IDS_PER_REQUEST))
            .collect();
        if items.is_empty() && create.is_empty() && feed.is_none() && receipts.is_empty() {
            return Ok(None);
        }
        Ok(Some((
            SessionAsk {
                feed,
                create,
                receipts,
            },
            items,
        )))
    }

    /// The documents of requests whose answers were lost after the relay took them, as a
    /// session left them for this relay (cleared by the next session that completes).
    fn unanswered(&self) -> Result<Vec<String>, SyncError> {
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
    fn remember_unanswered(&self, ids: &[String]) -> Result<(), SyncError> {
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
    fn behind(&self) -> Result<Vec<String>, SyncError> {
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
    fn key_cursor(&self) -> Result<i64, SyncError> {
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
    fn receipt_ids(&self) -> Result<Vec<String>, SyncError> {
        if self.cfg.root_unit.as_deref() == Some(self.cfg.unit.as_str()) {
            return Ok(Vec::new());
        }
        Ok(self
            .client()
            .store()
            .docs_awaiting_root_receipt(self.relay(), RECEIPTS_PER_SESSION)?)
    }

    /// The next documents to create at the relay (each tried once a session).
    fn next_creates(&self, tried: &mut HashSet<String>) -> Result<Vec<NewDoc>, SyncError> {
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
    fn pending_to_push(
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

    /// The next message of each document that has one. A document's first message of the
    /// session is built as if the relay had said "I have what we last shared, nothing else", so
    /// it carries every local change after those heads at once (a new document goes whole);
    /// what the relay already had it ignores.
    fn generate(
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
    fn take_request(
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

    /// Applies one answer in one transaction: creations, the statuses of the messages sent,
    /// every reply and offer, the feed page and the receipts. Returns the feed's documents
    /// that are still behind the relay (no offer came for them).
    fn apply(
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
        let statuses: HashMap<&str, &super::http::ItemStatus> = answer
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
        self.report.receipts += super::delivery::apply_receipts(
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
