//! A session request as a resumable exchange (`tidemark_sync_protocol::resume`): when the link
//! breaks, the device asks the relay where the exchange stands and sends only the rest of the
//! request, or fetches only the rest of the answer.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use tidemark_sync_protocol::resume::{
    ANSWER_FROM_HEADER, EXCHANGE_HEADER, RECEIVED_HEADER, RESUME_FROM_HEADER, STATE_ANSWERED,
    STATE_HEADER, STATE_RECEIVED, STATE_RUNNING,
};

use super::{pack, Head, RelayHttp};
use crate::sync::SyncError;

impl RelayHttp {
    /// Sends `body` to `POST {path}` as a resumable exchange (`tidemark_sync_protocol::resume`)
    /// and returns the answer, decompressed. When the link breaks, the device asks the relay
    /// where the exchange stands and sends only the rest of the request, or fetches only the
    /// rest of the answer, up to `resumes` times; a cut costs a small request, not the
    /// whole transfer again. `headers` go on every post of the request.
    pub(super) async fn resumable(
        &self,
        path: &str,
        headers: &[(&'static str, &str)],
        body: &[u8],
        media: &str,
    ) -> Result<Vec<u8>, SyncError> {
        let (packed, zstd) = pack(body, true)?;
        let id = exchange_id();
        // The answer as far as it came, and its status and encoding.
        let mut answer = Vec::new();
        let mut head: Option<Head> = None;
        let mut next = Step::Post(0);
        let mut accepted = false;
        let mut last = SyncError::retry("network", "the connection failed");
        self.answer_lost.store(false, Ordering::Relaxed);
        for attempt in 0..=self.resumes {
            if attempt > 0 {
                self.counters.resumed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(resume_backoff(attempt)).await;
            }
            let req = match next {
                // The relay keeps the first post's headers for the exchange: a resumed upload
                // only names it and the offset (on a weak link every byte of a header counts).
                Step::Post(from) if from > 0 => self
                    .http
                    .post(self.url(path))
                    .header(EXCHANGE_HEADER, &id)
                    .header(RESUME_FROM_HEADER, from)
                    .body(packed[from..].to_vec()),
                Step::Post(_) => {
                    let mut req = self
                        .http
                        .post(self.url(path))
                        .header(CONTENT_TYPE, media)
                        .header(EXCHANGE_HEADER, &id)
                        .header(ACCEPT_ENCODING, "zstd");
                    for (name, value) in headers {
                        req = req.header(*name, *value);
                    }
                    if zstd {
                        req = req.header(CONTENT_ENCODING, "zstd");
                    }
                    req.body(packed.clone())
                }
                Step::Look => {
                    let req = self.http.get(self.url(&format!("/v1/exchanges/{id}")));
                    match answer.len() {
                        have if have > 0 && head.is_some() => req.header(ANSWER_FROM_HEADER, have),
                        _ => req,
                    }
                }
            };
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let sent = self.authed(req).send().await;
            // What a post sends counts once a connection took it (even if it broke mid-way).
            let opened = !sent.as_ref().is_err_and(|e| e.is_connect());
            if let (Step::Post(from), true) = (next, opened) {
                self.counters
                    .bytes_up
                    .fetch_add((packed.len() - from) as u64, Ordering::Relaxed);
            }
            let resp = match sent {
                Ok(resp) => resp,
                // No connection: nothing was sent, so the same step again (a question first
                // would only cost bytes).
                Err(e) if e.is_connect() => {
                    last = SyncError::from_reqwest(e);
                    continue;
                }
                Err(e) => {
                    last = SyncError::from_reqwest(e);
                    next = Step::Look;
                    continue;
                }
            };
            let h = Head::of(&resp);
            let state = header_str(&resp, STATE_HEADER).map(str::to_string);
            match state.as_deref() {
                Some(STATE_RECEIVED) => {
                    let held = header_offset(&resp, RECEIVED_HEADER)
                        .filter(|n| *n <= packed.len())
                        .ok_or_else(|| {
                            SyncError::bad_response("the relay holds an impossible offset")
                        })?;
                    next = Step::Post(held);
                    continue;
                }
                Some(STATE_RUNNING) => {
                    accepted = true;
                    next = Step::Look;
                    continue;
                }
                Some(STATE_ANSWERED) => {
                    let from = header_offset(&resp, ANSWER_FROM_HEADER).unwrap_or(0);
                    if from > answer.len() || (from > 0 && head != Some(h)) {
                        return Err(SyncError::bad_response(
                            "the relay resumed an answer from a byte the device does not hold",
                        ));
                    }
                    answer.truncate(from);
                }
                _ => match next {
                    // The look itself failed: the relay forgot the exchange (send it again,
                    // whole), or could not answer now (ask again).
                    Step::Look if h.status == StatusCode::NOT_FOUND => {
                        answer.clear();
                        head = None;
                        next = Step::Post(0);
                        continue;
                    }
                    Step::Look if h.retryable() => {
                        last = h.finish(&[], None).err().unwrap_or(last);
                        continue;
                    }
                    // The relay took a resumed upload for another offset: ask again.
                    Step::Post(from) if from > 0 && h.status == StatusCode::CONFLICT => {
                        next = Step::Look;
                        continue;
                    }
                    _ => answer.clear(),
                },
            }
            head = Some(h);
            accepted |= h.status.is_success();
            match self.read_into(resp, &mut answer).await {
                Ok(()) => {
                    self.answer_lost.store(false, Ordering::Relaxed);
                    return h.finish(&answer, Some(body));
                }
                Err(e) => {
                    last = e;
                    next = Step::Look;
                }
            }
        }
        self.answer_lost.store(accepted, Ordering::Relaxed);
        Err(last)
    }
}

/// Most resumptions of one exchange before the session gives up (and the engine retries it),
/// unless [`RelayHttp::with_resumes`] says otherwise.
pub(super) const RESUMES: u32 = 8;

/// The wait before resumption `attempt` (from 1): 100 ms, doubling, at most 2 s (about 9 s
/// over all [`RESUMES`]; a longer outage is the engine's to wait out, with its own backoff).
fn resume_backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.saturating_sub(1).min(5)).min(2_000))
}

/// A response header's value, when it is text.
fn header_str<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A response header holding a byte offset.
fn header_offset(resp: &reqwest::Response, name: &str) -> Option<usize> {
    header_str(resp, name).and_then(|v| v.parse().ok())
}

/// What a resumable exchange sends next.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The request's bytes from this offset on.
    Post(usize),
    /// Ask where the exchange stands.
    Look,
}

/// A fresh exchange id: 8 random bytes as 16 hex digits (ids are per device, kept minutes).
fn exchange_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}
