//! `POST /v1/session`: everything a device needs from one request — create its new
//! documents, run its sync messages, read a page of the change feed with the relay's first
//! message for each document that has news, and answer which units hold what (receipts).
//!
//! A catch-up that used to take the feed, a document batch, two sync rounds and a receipts
//! request now takes two requests: this one, and a second one carrying the device's
//! acknowledgements (its new heads), which the other units' receipts are made of.
//!
//! Body: a `TMQ` frame (header JSON + envelope of sync messages); answer: a `TMR` frame (status
//! JSON + envelope of replies and offers). See `docs/protocol.md`.

use std::collections::HashSet;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tidemark_sync_protocol::{decode_session, encode_response, DocMessage, Envelope};

use super::batch::{create_all, receipts_for, BatchResult, DocReceipt, MAX_BATCH};
use super::handlers::{feed_page, CreateDocument, FeedPage, KeysHeld, FEED_PAGE};
use super::sync::{envelope_error, framed_with, run_items, session_name, sync_response, Spliced};
use super::{body, exchange, keyframe, AppState, Authed};
use crate::db::{Db, Device};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::sync::{offer, ItemStatus, Memory, Origin};

/// Most bytes of offered messages in one answer; documents past it are listed in the feed
/// page without a message and the device asks for them the usual way.
pub const OFFER_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionHeader {
    /// Read the feed after this point (absent: this request reads no feed).
    #[serde(default)]
    feed: Option<FeedAsk>,
    /// Documents to create before the messages run.
    #[serde(default)]
    create: Vec<CreateDocument>,
    /// Documents whose receipts the device wants, read after the messages run.
    #[serde(default)]
    receipts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedAsk {
    since: i64,
    /// How many signing keys the device holds (as `GET /v1/feed?keys=`): the whole directory
    /// comes when the relay holds more.
    #[serde(default)]
    keys: Option<i64>,
    /// The key-log position of the last key the device holds: only later keys come, with the
    /// new position (`key_cursor` in the answer). Takes precedence over `keys`.
    #[serde(default)]
    key_cursor: Option<i64>,
    /// Most bytes of offered messages the device wants in this answer (0: none; absent:
    /// [`OFFER_BYTES`]). Documents past it are listed without a message.
    #[serde(default)]
    max_bytes: Option<usize>,
    /// Most feed rows to read in this answer (absent, 0 or above the relay's page: its page,
    /// `FEED_PAGE`); the answer says `more` when rows are left.
    #[serde(default)]
    rows: Option<usize>,
}

#[derive(Debug, Serialize)]
struct SessionStatus {
    items: Vec<ItemStatus>,
    created: Vec<BatchResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed: Option<FeedPage>,
    receipts: Vec<DocReceipt>,
    /// How many feed documents came with the relay's message in the envelope.
    offered: usize,
}

/// The feed page `ask` reads, and the relay's first message for each of its documents the
/// device did not send a message about (`asked`), within the device's byte budget; first
/// offers made and reused are counted in `metrics`.
fn feed_with_offers(
    db: &Db,
    metrics: &Metrics,
    memory: &mut Memory<'_>,
    device: &Device,
    ask: &FeedAsk,
    asked: &HashSet<String>,
    accepted: &HashSet<&str>,
) -> Result<(FeedPage, Vec<DocMessage>), AppError> {
    let held = match (ask.key_cursor, ask.keys) {
        (Some(after), _) => Some(KeysHeld::After(after)),
        (None, Some(count)) => Some(KeysHeld::Count(count)),
        (None, None) => None,
    };
    let rows = ask
        .rows
        .filter(|r| *r > 0)
        .map_or(FEED_PAGE, |r| r.min(FEED_PAGE));
    let mut page = feed_page(db, device, ask.since, held, rows)?;
    // A document this request exchanged messages about is brought up to date by that exchange
    // (the relay's reply carries whatever else it has): listing it again, with its heads, would
    // only echo the device's own push back to it.
    page.documents.retain(|d| !accepted.contains(d.id.as_str()));
    let mut budget = ask.max_bytes.unwrap_or(OFFER_BYTES).min(OFFER_BYTES);
    let mut offers = Vec::new();
    let (mut made, mut reused) = (0, 0);
    for doc in &page.documents {
        if budget == 0 || asked.contains(&doc.id) {
            continue;
        }
        match offer(db, memory, device, &doc.id, doc.access) {
            Ok(Some(o)) => {
                match o.origin {
                    Origin::Made => made += 1,
                    Origin::Reused => reused += 1,
                    Origin::Own => {}
                }
                budget = budget.saturating_sub(o.message.len());
                offers.push(DocMessage {
                    doc_id: doc.id.clone(),
                    message: o.message,
                    signatures: o.signatures,
                });
            }
            Ok(None) => {}
            // The device asks for it the usual way.
            Err(e) => tracing::warn!(doc = %doc.id, code = e.0, "no offer for a feed document"),
        }
    }
    metrics.first_offers(made, reused);
    Ok((page, offers))
}

/// Handles one session request for the authenticated device; resumable when the device names
/// the exchange (see `exchange::resumable`).
pub async fn session(
    State(state): State<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let id = device.id.clone();
    exchange::resumable(
        state.clone(),
        &id,
        &headers,
        raw,
        move |raw, headers| async move {
            run(state, device, headers, raw)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        },
    )
    .await
}

/// Runs one session request over its whole body.
async fn run(
    state: AppState,
    device: Device,
    headers: HeaderMap,
    raw: Vec<u8>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let settings = state.settings().clone();
    let bytes = body::decoded(&headers, Bytes::from(raw), settings.max_request_bytes)?;
    let (header, env) = decode_session(&bytes, &settings.limits()).map_err(envelope_error)?;
    let header: SessionHeader = body::json(&header)?;
    if header.create.len() > MAX_BATCH || header.receipts.len() > MAX_BATCH {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_BATCH} documents to create and {MAX_BATCH} receipts in one request"
        )));
    }
    let session = session_name(&headers)?;
    let device_id = device.id.clone();
    let items = env.items.len();
    let max_doc_id = settings.limits().max_doc_id;
    let shared = state.clone();
    let (status, replies) = state
        .with_db(move |db| {
            let asked: HashSet<String> = env.items.iter().map(|m| m.doc_id.clone()).collect();
            let (created, statuses, replies, feed, offered) =
                shared.with_memory(session.as_deref(), |memory| {
                    // The new documents and the items' writes commit together: one sync to
                    // disk for the request, and neither is kept without the other.
                    let written = db.try_batch(|| {
                        let created = if header.create.is_empty() {
                            Vec::new()
                        } else {
                            create_all(db, &device, header.create, max_doc_id)?
                        };
                        let (statuses, replies) =
                            run_items(&shared, db, memory, &device, env.items)?;
                        Ok((created, statuses, replies))
                    });
                    let (created, statuses, mut replies) = written.inspect_err(|_| {
                        // Undone: documents loaded meanwhile may not match a version any more.
                        memory.docs.clear();
                    })?;
                    let (feed, offered) = match header.feed {
                        None => (None, 0),
                        Some(ask) => {
                            let accepted: HashSet<&str> = statuses
                                .iter()
                                .filter(|s| s.code == "ok")
                                .map(|s| s.doc_id.as_str())
                                .collect();
                            let (page, offers) = db.read(|| {
                                feed_with_offers(
                                    db,
                                    shared.metrics(),
                                    memory,
                                    &device,
                                    &ask,
                                    &asked,
                                    &accepted,
                                )
                            })?;
                            let offered = offers.len();
                            replies.extend(offers);
                            (Some(page), offered)
                        }
                    };
                    Ok((created, statuses, replies, feed, offered))
                })?;
            let receipts = if header.receipts.is_empty() {
                Vec::new()
            } else {
                receipts_for(db, &device, header.receipts)?
            };
            let status = SessionStatus {
                items: statuses,
                created,
                feed,
                receipts,
                offered,
            };
            Ok((status, replies))
        })
        .await?;
    let offered = status.offered;
    // The directory alone, to find in the answer and compress once: only for a client that
    // takes zstd (the others get the answer as it is).
    let keys = match status.feed.as_ref().and_then(|f| f.keys.as_ref()) {
        Some(keys) if body::accepts_zstd(&headers) => {
            serde_json::to_vec(keys).map_err(|e| AppError::Internal(e.to_string()))?
        }
        _ => Vec::new(),
    };
    let status = serde_json::to_vec(&status).map_err(|e| AppError::Internal(e.to_string()))?;
    let body = encode_response(&status, &Envelope { items: replies });
    // The status JSON comes first, after a header of at most 16 bytes (magic, version, length).
    let status_end = (status.len() + 16).min(body.len());
    // The key directory, when large, goes as a frame compressed once for every answer that
    // carries the same directory.
    let busy = state.busy();
    let worth = keys.len() >= keyframe::MIN_BYTES;
    let kept = match worth
        .then(|| keyframe::find(&body[..status_end], &keys))
        .flatten()
    {
        Some(range) => {
            let level = super::sync::response_level(body.len(), busy);
            let kept = state
                .key_frames
                .frame(&keys, level)
                .map_err(|e| AppError::Internal(format!("zstd failed: {e}")))?;
            Some((range, kept))
        }
        None => None,
    };
    let spliced: Vec<Spliced<'_>> = kept
        .iter()
        .map(|(range, kept)| Spliced {
            range: range.clone(),
            frame: kept.frame(),
        })
        .collect();
    let out = framed_with(&headers, body, Some(&bytes), busy, &spliced)?;
    state.metrics().sync_round(bytes.len(), out.body.len());
    tracing::info!(
        device = %device_id,
        items,
        offered,
        in_bytes = bytes.len(),
        out_bytes = out.body.len(),
        ms = started.elapsed().as_millis() as u64,
        "session request"
    );
    Ok(sync_response(out))
}
