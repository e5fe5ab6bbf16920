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
use tidemark_sync_protocol::{decode_session, encode_response, encoded_len, DocMessage, Envelope};

use super::batch::{create_all, receipts_for, BatchResult, DocReceipt, MAX_BATCH};
use super::handlers::{feed_page, CreateDocument, FeedPage, KeysHeld, FEED_PAGE};
use super::offerframe::{ItemAt, SharedOffer};
use super::sync::{
    envelope_error, framed_with, run_items, session_name, sync_response, Framed, Spliced,
};
use super::{body, exchange, keyframe, AppState, Authed};
use crate::db::{Access, Db, Device};
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

/// An offered message, and what makes it the same for every device it goes to when it is a
/// first offer.
type Offered = (DocMessage, Option<SharedOffer>);

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
/// device did not send a message about (`asked`), within the device's byte budget, each with
/// what makes it the same for every such device when it is a first offer; first offers made
/// and reused are counted in `metrics`.
fn feed_with_offers(
    db: &Db,
    metrics: &Metrics,
    memory: &mut Memory<'_>,
    device: &Device,
    ask: &FeedAsk,
    asked: &HashSet<String>,
    accepted: &HashSet<&str>,
) -> Result<(FeedPage, Vec<Offered>), AppError> {
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
                let shared = (o.origin != Origin::Own).then(|| SharedOffer {
                    doc_id: doc.id.clone(),
                    version: o.version,
                    read_only: doc.access < Access::Write,
                });
                let message = DocMessage {
                    doc_id: doc.id.clone(),
                    message: o.message,
                    signatures: o.signatures,
                };
                offers.push((message, shared));
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
    let (status, replies, shared_offers) = state
        .with_db(move |db| {
            // For each reply, what makes it a first offer the same for every such device.
            let mut shared_offers: Vec<Option<SharedOffer>> = Vec::new();
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
                            shared_offers = vec![None; replies.len()];
                            for (message, shared) in offers {
                                replies.push(message);
                                shared_offers.push(shared);
                            }
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
            Ok((status, replies, shared_offers))
        })
        .await?;
    let offered = status.offered;
    let busy = state.busy();
    let out = answer(
        &state,
        &headers,
        &status,
        replies,
        shared_offers,
        &bytes,
        busy,
    )?;
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

/// The answer to a session request as it goes on the wire: `status` and `replies` (each with
/// what makes it a first offer the same for every such device, `shared`), compressed for a
/// client that takes zstd, with `request` for a dictionary when it asked for that. A large key
/// directory, and while the relay is `busy` the runs of first offers, go as frames compressed
/// once for every answer that carries them.
fn answer(
    state: &AppState,
    headers: &HeaderMap,
    status: &SessionStatus,
    replies: Vec<DocMessage>,
    shared: Vec<Option<SharedOffer>>,
    request: &[u8],
    busy: bool,
) -> Result<Framed, AppError> {
    let zstd = body::accepts_zstd(headers);
    // The directory alone, to find in the answer and compress once: only for a client that
    // takes zstd (the others get the answer as it is).
    let keys = match status.feed.as_ref().and_then(|f| f.keys.as_ref()) {
        Some(keys) if zstd => {
            serde_json::to_vec(keys).map_err(|e| AppError::Internal(e.to_string()))?
        }
        _ => Vec::new(),
    };
    let status = serde_json::to_vec(status).map_err(|e| AppError::Internal(e.to_string()))?;
    let replies = Envelope { items: replies };
    let body = encode_response(&status, &replies);
    // Where each reply's bytes are: the envelope's items are the answer's last bytes, in order.
    let mut start = body
        .len()
        .saturating_sub(replies.items.iter().map(encoded_len).sum::<usize>());
    let mut shared = shared.into_iter();
    let items_at: Vec<ItemAt> = replies
        .items
        .iter()
        .map(|reply| {
            let range = start..start + encoded_len(reply);
            start = range.end;
            (range, shared.next().flatten())
        })
        .collect();
    // The status JSON comes first, after a header of at most 16 bytes (magic, version, length).
    let status_end = (status.len() + 16).min(body.len());
    let level = super::sync::response_level(body.len(), busy);
    let failed = |e: std::io::Error| AppError::Internal(format!("zstd failed: {e}"));
    // The key directory, when large, goes as a frame compressed once for every answer that
    // carries the same directory.
    let key_frame = match (keys.len() >= keyframe::MIN_BYTES)
        .then(|| keyframe::find(&body[..status_end], &keys))
        .flatten()
    {
        Some(range) => Some((range, state.key_frames.frame(&keys, level).map_err(failed)?)),
        None => None,
    };
    // While others wait, runs of first offers go as frames compressed once for every device
    // that gets them.
    let runs = if busy && zstd {
        state
            .offer_frames
            .frames(&body, &items_at, level)
            .map_err(failed)?
    } else {
        Vec::new()
    };
    let spliced: Vec<Spliced<'_>> = key_frame
        .iter()
        .map(|(range, kept)| (range, kept.frame()))
        .chain(runs.iter().map(|(range, kept)| (range, kept.frame())))
        .map(|(range, frame)| Spliced {
            range: range.clone(),
            frame,
        })
        .collect();
    framed_with(headers, body, Some(request), busy, &spliced)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;
    use tidemark_sync_protocol::compression::DICTIONARY_HEADER;
    use tidemark_sync_protocol::{decode_response, Limits};

    use super::*;
    use crate::settings::Settings;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        })
        .unwrap();
        (dir, state)
    }

    fn status(offered: usize) -> SessionStatus {
        SessionStatus {
            items: Vec::new(),
            created: Vec::new(),
            feed: None,
            receipts: Vec::new(),
            offered,
        }
    }

    /// A device's reply to its own push, then first offers of 40 patrols of its station.
    fn replies(own: &str) -> (Vec<DocMessage>, Vec<Option<SharedOffer>>) {
        let mut replies = vec![DocMessage::new(own, b"\x42 own reply".to_vec())];
        let mut shared = vec![None];
        for i in 0..40 {
            let id = format!("patrol:TT:20260320:{i:02}");
            let note = format!("{id}: tuần tra cửa sông, kiểm tra {i} tàu cá, không vi phạm; ");
            replies.push(DocMessage::new(&id, note.repeat(30).into_bytes()));
            shared.push(Some(SharedOffer {
                doc_id: id,
                version: 1,
                read_only: false,
            }));
        }
        (replies, shared)
    }

    /// The zstd frames `wire` is made of.
    fn frames(mut wire: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let size = zstd::zstd_safe::find_frame_compressed_size(wire).unwrap();
            out.push(&wire[..size]);
            wire = &wire[size..];
        }
        out
    }

    /// While the relay is busy, two devices' answers carry the same frames for the runs of
    /// first offers they share, and each decodes (with its own request for a dictionary) to
    /// the very bytes of its plain answer; idle, an answer is one frame.
    #[test]
    fn busy_answers_share_the_frames_of_their_first_offers_and_decode_whole() {
        let (_dir, state) = state();
        let mut headers = HeaderMap::new();
        headers.insert("accept-encoding", HeaderValue::from_static("zstd"));
        headers.insert(DICTIONARY_HEADER, HeaderValue::from_static("request"));
        let mut seen = Vec::new();
        for device in ["Máy tuần tra số 1", "Máy tuần tra số 2"] {
            let own = format!("patrol:TT:own:{device}");
            let request = format!("yêu cầu của {device}: {own}")
                .repeat(10)
                .into_bytes();
            let (replies, shared) = replies(&own);
            let plain = encode_response(
                &serde_json::to_vec(&status(40)).unwrap(),
                &Envelope {
                    items: replies.clone(),
                },
            );
            let out = answer(
                &state,
                &headers,
                &status(40),
                replies,
                shared,
                &request,
                true,
            )
            .unwrap();
            assert!(out.dictionary);
            let mut decoded = Vec::new();
            let mut decoder =
                zstd::stream::read::Decoder::with_dictionary(&out.body[..], &request).unwrap();
            std::io::copy(&mut decoder, &mut decoded).unwrap();
            assert!(
                decoded == plain,
                "the answer decodes whole, frame after frame"
            );
            let (_, items) = decode_response(&decoded, &Limits::default()).unwrap();
            assert_eq!(items.items.len(), 41);
            let parts: Vec<Vec<u8>> = frames(&out.body).iter().map(|f| f.to_vec()).collect();
            assert!(parts.len() >= 3, "{} frames", parts.len());
            seen.push(parts);
        }
        // The runs' frames (all but the first and the last: the status with the device's own
        // reply, and the open run at the end) are the same bytes in both answers.
        let (a, b) = (&seen[0], &seen[1]);
        assert_eq!(a.len(), b.len());
        assert_eq!(a[1..a.len() - 1], b[1..b.len() - 1]);

        // Idle: one frame, at the idle level.
        let (replies, shared) = replies("patrol:TT:own:3");
        let out = answer(
            &state,
            &headers,
            &status(40),
            replies,
            shared,
            b"yeu cau",
            false,
        )
        .unwrap();
        assert_eq!(frames(&out.body).len(), 1);
    }
}
