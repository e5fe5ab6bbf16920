//! `POST /v1/sync`: a v2 envelope (v1 read) in, a `TMR` response (status JSON + reply envelope) out.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tidemark_sync_protocol::compression::{self, DICTIONARY_HEADER};
use tidemark_sync_protocol::{decode, encode_response, DocMessage, Envelope, EnvelopeError};

use super::{body, AppState, Authed};
use crate::db::{Db, Device};
use crate::error::AppError;
use crate::sync::{sync_item, ItemStatus, Memory};

/// Request header naming the client's sync session (see [`crate::session`]).
pub const SESSION_HEADER: &str = "tidemark-session";

/// Media type of sync requests and responses.
pub const SYNC_MEDIA_TYPE: &str = "application/x-tidemark-sync";

/// Handles one batched sync round for the authenticated device.
pub async fn sync(
    State(state): State<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let settings = state.settings().clone();
    let bytes = body::decoded(&headers, body::raw(raw)?, settings.max_request_bytes)?;
    let env = decode(&bytes, &settings.limits()).map_err(envelope_error)?;
    let items = env.items.len();
    let device_id = device.id.clone();
    let session = session_name(&headers)?;
    let metrics_state = state.clone();
    let (statuses, replies) = state
        .with_db(move |db| {
            metrics_state.with_memory(session.as_deref(), |memory| {
                run_items(&metrics_state, db, memory, &device, env.items)
            })
        })
        .await?;
    let status = serde_json::to_vec(&serde_json::json!({ "items": statuses }))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let out = framed(
        &headers,
        encode_response(&status, &Envelope { items: replies }),
        None,
        state.busy(),
    )?;
    state.metrics().sync_round(bytes.len(), out.body.len());
    tracing::info!(
        device = %device_id,
        items,
        in_bytes = bytes.len(),
        out_bytes = out.body.len(),
        ms = started.elapsed().as_millis() as u64,
        "sync round"
    );
    Ok(sync_response(out))
}

/// The `Tidemark-Session` header, checked.
pub(super) fn session_name(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers.get(SESSION_HEADER) {
        None => Ok(None),
        Some(v) => Ok(Some(
            v.to_str()
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .ok_or_else(|| {
                    AppError::bad("bad_header", "Tidemark-Session is 1 to 64 characters")
                })?
                .to_string(),
        )),
    }
}

/// Runs every item of a request in order: statuses, and the replies that have a message.
pub(super) fn run_items(
    state: &AppState,
    db: &Db,
    memory: &mut Memory<'_>,
    device: &Device,
    items: Vec<DocMessage>,
) -> Result<(Vec<ItemStatus>, Vec<DocMessage>), AppError> {
    let ran = db.batch(|| {
        let mut statuses = Vec::with_capacity(items.len());
        let mut replies = Vec::new();
        for item in items {
            let out = sync_item(
                db,
                memory,
                device,
                &item.doc_id,
                &item.message,
                &item.signatures,
            );
            state.metrics().item(out.status.code, out.loaded);
            if let Some(message) = out.reply {
                replies.push(DocMessage {
                    doc_id: item.doc_id,
                    message,
                    signatures: out.signatures,
                });
            }
            statuses.push(out.status);
        }
        (statuses, replies)
    });
    if ran.is_err() {
        // The items' writes are undone, and their versions may be written again with other
        // content: documents loaded meanwhile cannot be trusted to match a version any more.
        memory.docs.clear();
    }
    ran
}

/// Larger requests are not used as a dictionary: loading one costs about what compressing it
/// does, and the bodies it pays off for (a station's day on a weak link) are small.
const DICTIONARY_MAX: usize = 128 * 1024;

/// A response body as it goes on the wire.
pub(super) struct Framed {
    pub body: Vec<u8>,
    pub(super) zstd: bool,
    pub(super) dictionary: bool,
}

/// The response body, zstd-compressed when the client takes it; with `request` for a
/// dictionary when the client asked for that; with less effort when the relay is `busy`
/// (see [`response_level`]).
pub(super) fn framed(
    headers: &HeaderMap,
    out: Vec<u8>,
    request: Option<&[u8]>,
    busy: bool,
) -> Result<Framed, AppError> {
    framed_with(headers, out, request, busy, &[])
}

/// Bytes of an answer sent as a zstd frame made beforehand: where they are in the answer, and
/// the frame (see [`super::keyframe`] and [`super::offerframe`]).
pub(super) struct Spliced<'a> {
    pub(super) range: std::ops::Range<usize>,
    pub(super) frame: &'a [u8],
}

/// [`framed`], with each of `spliced`'s bytes sent as its frame, and the bytes before, between
/// and after them as frames of their own, when the answer is compressed. `spliced` is in the
/// order of the answer; one that overlaps the one before, or lies outside the answer, is
/// compressed with the rest instead.
pub(super) fn framed_with(
    headers: &HeaderMap,
    out: Vec<u8>,
    request: Option<&[u8]>,
    busy: bool,
    spliced: &[Spliced<'_>],
) -> Result<Framed, AppError> {
    if !body::accepts_zstd(headers) {
        return Ok(Framed {
            body: out,
            zstd: false,
            dictionary: false,
        });
    }
    let failed = |e: std::io::Error| AppError::Internal(format!("zstd failed: {e}"));
    let wants_dictionary = headers
        .get(DICTIONARY_HEADER)
        .is_some_and(|v| compression::names_request(v.as_bytes()));
    let dictionary = match request {
        Some(dict) if wants_dictionary && !dict.is_empty() && dict.len() <= DICTIONARY_MAX => dict,
        _ => &[],
    };
    let level = response_level(out.len(), busy);
    // The answer's pieces in order: bytes to compress here, or a frame made beforehand.
    let mut pieces: Vec<(bool, &[u8])> = Vec::new();
    let mut done = 0;
    for s in spliced {
        if s.range.start < done || s.range.start >= s.range.end || s.range.end > out.len() {
            continue;
        }
        if s.range.start > done {
            pieces.push((true, &out[done..s.range.start]));
        }
        pieces.push((false, s.frame));
        done = s.range.end;
    }
    if done < out.len() || done == 0 {
        pieces.push((true, &out[done..]));
    }
    let raw: Vec<&[u8]> = pieces.iter().filter(|p| p.0).map(|p| p.1).collect();
    let mut compressed = compress_all(&raw, level, dictionary)
        .map_err(failed)?
        .into_iter();
    let mut body = Vec::new();
    for (raw, bytes) in pieces {
        match raw {
            true => body.extend(compressed.next().unwrap_or_default()),
            false => body.extend_from_slice(bytes),
        }
    }
    Ok(Framed {
        body,
        zstd: true,
        dictionary: !dictionary.is_empty(),
    })
}

/// The zstd level of an answer of `len` bytes. Idle, the protocol's level by size: small
/// bodies squeezed hard, as a weak link pays for every byte. While other requests wait for the
/// database, effort yields to level 3 whatever the size: the strong levels build binary trees
/// over the whole dictionary (the request) and search them, and every millisecond spent there
/// is a millisecond the queue waits. S5's burst: relay CPU 6.4 s -> 5.8 s, for 3.6 % more bytes
/// down (the levels above 6 for small answers were a fifth of the relay's CPU in its first
/// wave). An idle relay, as in S1 and S6, keeps the protocol's levels.
pub(super) fn response_level(len: usize, busy: bool) -> i32 {
    let level = compression::zstd_level(len);
    if busy {
        level.min(BUSY_LEVEL)
    } else {
        level
    }
}

/// The most effort on an answer while the relay is busy.
const BUSY_LEVEL: i32 = 3;

thread_local! {
    /// Each thread's zstd context, kept between responses: a new one allocated its tables
    /// afresh for every answer, and zeroing those pages was an eighth of the relay's CPU under
    /// 200 devices (S5).
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `out` compressed at `level` with `dictionary` (empty: none), in this thread's context.
pub(super) fn compress(out: &[u8], level: i32, dictionary: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(compress_all(&[out], level, dictionary)?
        .pop()
        .unwrap_or_default())
}

/// Each of `parts` compressed as a frame of its own at `level` with `dictionary` (empty: none),
/// in this thread's context, the dictionary loaded once for them all.
fn compress_all(parts: &[&[u8]], level: i32, dictionary: &[u8]) -> std::io::Result<Vec<Vec<u8>>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(zstd::bulk::Compressor::new(level)?),
        };
        // Loading a dictionary (none: clearing it) sets the level too.
        let frames = compressor.set_dictionary(level, dictionary).and_then(|()| {
            parts
                .iter()
                .map(|part| compressor.compress(part))
                .collect::<std::io::Result<Vec<_>>>()
        });
        if frames.is_err() {
            // A context that failed is not trusted again.
            *slot = None;
        }
        frames
    })
}

/// A sync response around a body from [`framed`].
pub(super) fn sync_response(framed: Framed) -> Response {
    let mut response = ([(CONTENT_TYPE, SYNC_MEDIA_TYPE)], framed.body).into_response();
    if framed.zstd {
        response.headers_mut().insert(
            CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("zstd"),
        );
    }
    if framed.dictionary {
        response.headers_mut().insert(
            DICTIONARY_HEADER,
            axum::http::HeaderValue::from_static(compression::DICTIONARY_REQUEST),
        );
    }
    response
}

pub(super) fn envelope_error(e: EnvelopeError) -> AppError {
    match e {
        EnvelopeError::TooLarge(what) => AppError::TooLarge(what.to_string()),
        other => AppError::bad("bad_envelope", format!("{} ({})", other, other.code())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod compression_tests {
    use super::*;

    /// Several parts with the dictionary loaded once: each the frame a fresh context makes of
    /// it alone with that dictionary, and decoding their concatenation gives the parts'.
    #[test]
    fn parts_compressed_with_one_loading_of_the_dictionary_are_frames_of_their_own() {
        let dict = sample(200);
        let parts = [sample(50), sample(300), b"TMR ".to_vec()];
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let frames = compress_all(&refs, 3, &dict).expect("compressed");
        assert_eq!(frames.len(), 3);
        for (frame, part) in frames.iter().zip(&parts) {
            let fresh = zstd::bulk::Compressor::with_dictionary(3, &dict)
                .and_then(|mut c| c.compress(part))
                .expect("fresh");
            assert_eq!(frame, &fresh);
        }
        let mut decoded = Vec::new();
        let wire = frames.concat();
        let mut decoder = zstd::stream::read::Decoder::with_dictionary(&wire[..], &dict).unwrap();
        std::io::copy(&mut decoder, &mut decoded).unwrap();
        assert_eq!(decoded, parts.concat());
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                format!(
                    "patrol:TT:2026{:04}:{:02} Đồn Biên phòng Tân Thành ",
                    i % 365,
                    i % 4
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    /// The kept context gives what a fresh one gives, with a dictionary and then without (the
    /// dictionary does not stay behind).
    #[test]
    fn a_kept_context_compresses_as_a_fresh_one() {
        let dict = sample(200);
        let body = sample(300);
        for _ in 0..3 {
            let with = compress(&body, 19, &dict).expect("with a dictionary");
            let fresh = zstd::bulk::Compressor::with_dictionary(19, &dict)
                .and_then(|mut c| c.compress(&body))
                .expect("fresh");
            assert_eq!(with, fresh);
            let back = zstd::bulk::Decompressor::with_dictionary(&dict)
                .and_then(|mut d| d.decompress(&with, body.len()))
                .expect("decompresses with the dictionary");
            assert_eq!(back, body);

            let plain = compress(&body, 6, &[]).expect("without");
            assert_eq!(plain, zstd::bulk::compress(&body, 6).expect("fresh"));
            assert_eq!(
                zstd::bulk::decompress(&plain, body.len()).expect("no dictionary needed"),
                body
            );
        }
    }

    #[test]
    fn effort_yields_while_busy() {
        // Idle: the protocol's levels.
        assert_eq!(response_level(800, false), 19);
        assert_eq!(response_level(30_000, false), 12);
        assert_eq!(response_level(1 << 20, false), 3);
        // Busy: the fast level, whatever the size.
        assert_eq!(response_level(800, true), BUSY_LEVEL);
        assert_eq!(response_level(30_000, true), BUSY_LEVEL);
        assert_eq!(response_level(1 << 20, true), 3);
    }
}
