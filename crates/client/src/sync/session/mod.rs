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

mod answer;
mod outbox;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use automerge::sync::State;
use rand::RngCore;
use serde::Serialize;
use tidemark_domain::document::RecordDoc;
use tidemark_sync_protocol::DocMessage;

use super::http::{FeedAsk, RelayHttp, SessionAnswer, SessionAsk, WireCounters, WireTotals};
use super::{connect, keys, lock, RelayConfig, SharedClient, SyncError, SyncOptions, SyncStatus};
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
}
