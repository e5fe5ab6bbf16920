//! The relay's HTTP API as the client uses it: one method per endpoint, bodies zstd-compressed,
//! every byte counted, every failure classified (retry or tell the user).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tidemark_sync_protocol::compression::{self, DICTIONARY_HEADER};
use tidemark_sync_protocol::{decode_response, encode_session, DocMessage, Envelope, Limits};

use super::SyncError;

mod attachments;
mod resume;
mod wire;

pub use attachments::{RemoteAttachment, UploadState};
pub use wire::{DocReceipts, EnrollAnswer, FeedAsk, ItemStatus, NewDoc, SessionAnswer, SessionAsk};

/// Media type of sync requests.
const SYNC_MEDIA_TYPE: &str = "application/x-tidemark-sync";
/// Bodies smaller than this are sent as they are: compressing them saves nothing.
const COMPRESS_FROM: usize = 256;

/// Bytes and requests on the wire, shared by every clone of a [`RelayHttp`].
#[derive(Debug, Default)]
pub struct WireCounters {
    /// Request bytes sent (as sent: compressed when compressed).
    pub bytes_up: AtomicU64,
    /// Response bytes received (as received).
    pub bytes_down: AtomicU64,
    /// HTTP requests made (each a round trip).
    pub requests: AtomicU64,
    /// Of those, requests that resumed a cut exchange (asked where it stood, sent the rest of
    /// an upload, fetched the rest of an answer).
    pub resumed: AtomicU64,
}

/// Totals from [`WireCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WireTotals {
    /// Request bytes sent.
    pub bytes_up: u64,
    /// Response bytes received.
    pub bytes_down: u64,
    /// HTTP round trips.
    pub requests: u64,
    /// Of those, round trips that resumed a cut exchange.
    pub resumed: u64,
}

impl WireCounters {
    /// The totals now.
    pub fn totals(&self) -> WireTotals {
        WireTotals {
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
        }
    }
}

/// An HTTP client for one relay, authenticated as this device.
#[derive(Clone)]
pub struct RelayHttp {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    counters: Arc<WireCounters>,
    /// Set when the last request's answer was lost after the relay had accepted the request
    /// (its status arrived, its body did not): the relay did the work, the device never heard.
    answer_lost: Arc<std::sync::atomic::AtomicBool>,
    /// How many times a resumable exchange resumes before giving up.
    resumes: u32,
}

impl std::fmt::Debug for RelayHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs or debug output.
        f.debug_struct("RelayHttp")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl RelayHttp {
    /// A client for the relay at `base` (`http(s)://host:port`), with `token` if enrolled.
    pub fn new(
        base: &str,
        token: Option<String>,
        timeout: Duration,
        counters: Arc<WireCounters>,
    ) -> Result<RelayHttp, SyncError> {
        let base = normalise_url(base)?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("tidemark/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::config(format!("cannot build the HTTP client: {e}")))?;
        Ok(RelayHttp {
            http,
            base,
            token,
            counters,
            answer_lost: Arc::default(),
            resumes: resume::RESUMES,
        })
    }

    /// The same client, resuming a cut exchange at most `resumes` times (0: never).
    pub fn with_resumes(mut self, resumes: u32) -> RelayHttp {
        self.resumes = resumes;
        self
    }

    /// The relay's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the last request's answer was lost after the relay had accepted the request
    /// (a success status came, then the connection broke); reading it clears it.
    pub fn take_answer_lost(&self) -> bool {
        self.answer_lost.swap(false, Ordering::Relaxed)
    }

    /// Wire totals so far.
    pub fn totals(&self) -> WireTotals {
        self.counters.totals()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            None => req,
        }
    }

    /// Sends a request with an optional body (compressed when worth it) and returns the
    /// response body, decompressed, or a classified error.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        body: Option<(&[u8], &str)>,
    ) -> Result<Vec<u8>, SyncError> {
        self.send_body(req, body, true).await
    }

    /// [`Self::send`], compressing the body only if `compress` (photos are compressed already:
    /// zstd would only spend time).
    async fn send_body(
        &self,
        req: reqwest::RequestBuilder,
        body: Option<(&[u8], &str)>,
        compress: bool,
    ) -> Result<Vec<u8>, SyncError> {
        let mut req = self.authed(req).header(ACCEPT_ENCODING, "zstd");
        if let Some((bytes, media)) = body {
            let (packed, zstd) = pack(bytes, compress)?;
            self.counters
                .bytes_up
                .fetch_add(packed.len() as u64, Ordering::Relaxed);
            req = req.header(CONTENT_TYPE, media);
            if zstd {
                req = req.header(CONTENT_ENCODING, "zstd");
            }
            req = req.body(packed);
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.answer_lost.store(false, Ordering::Relaxed);
        let resp = req.send().await.map_err(SyncError::from_reqwest)?;
        let head = Head::of(&resp);
        let mut raw = Vec::new();
        if let Err(e) = self.read_into(resp, &mut raw).await {
            if head.status.is_success() {
                self.answer_lost.store(true, Ordering::Relaxed);
            }
            return Err(e);
        }
        head.finish(&raw, body.map(|(b, _)| b))
    }

    /// Reads a response's body onto `into`, counting bytes as they come; when the connection
    /// breaks, what came stays in `into`.
    async fn read_into(
        &self,
        mut resp: reqwest::Response,
        into: &mut Vec<u8>,
    ) -> Result<(), SyncError> {
        while let Some(chunk) = resp.chunk().await.map_err(SyncError::from_reqwest)? {
            self.counters
                .bytes_down
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            into.extend_from_slice(&chunk);
        }
        Ok(())
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        body: Option<&serde_json::Value>,
    ) -> Result<T, SyncError> {
        let encoded = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| SyncError::internal(e.to_string()))?;
        let bytes = self
            .send(req, encoded.as_deref().map(|b| (b, "application/json")))
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::bad_response(format!("unexpected answer from the relay: {e}")))
    }

    /// `GET /v1/health`: a cheap probe that the relay is reachable.
    pub async fn health(&self) -> Result<(), SyncError> {
        let _: serde_json::Value = self
            .json(self.http.get(self.url("/v1/health")), None)
            .await?;
        Ok(())
    }

    /// `POST /v1/enroll`.
    pub async fn enroll(
        &self,
        code: &str,
        actor_hex: &str,
        sign_key: &[u8; 32],
    ) -> Result<EnrollAnswer, SyncError> {
        let body = serde_json::json!({
            "code": code,
            "actor_hex": actor_hex,
            "sign_key": hex::encode(sign_key),
        });
        self.json(self.http.post(self.url("/v1/enroll")), Some(&body))
            .await
    }

    /// `POST /v1/keys`: registers the signing key of a device enrolled before signed changes.
    pub async fn register_key(&self, sign_key: &[u8; 32]) -> Result<(), SyncError> {
        let body = serde_json::json!({"sign_key": hex::encode(sign_key)});
        let _: serde_json::Value = self
            .json(self.http.post(self.url("/v1/keys")), Some(&body))
            .await?;
        Ok(())
    }

    /// `POST /v1/session`: creations, sync messages, a feed page with the relay's offers, and
    /// receipts, in one request.
    pub async fn session(
        &self,
        session: &str,
        ask: &SessionAsk,
        items: Vec<DocMessage>,
    ) -> Result<(SessionAnswer, Vec<DocMessage>), SyncError> {
        let header = serde_json::to_vec(ask).map_err(|e| SyncError::internal(e.to_string()))?;
        let body = encode_session(&header, &Envelope { items });
        let headers = [
            ("tidemark-session", session),
            (DICTIONARY_HEADER, compression::DICTIONARY_REQUEST),
        ];
        let bytes = self
            .resumable("/v1/session", &headers, &body, SYNC_MEDIA_TYPE)
            .await?;
        let (status, env) = decode_response(&bytes, &Limits::default())
            .map_err(|e| SyncError::bad_response(format!("malformed session response: {e}")))?;
        let answer: SessionAnswer = serde_json::from_slice(&status)
            .map_err(|e| SyncError::bad_response(format!("malformed session status: {e}")))?;
        Ok((answer, env.items))
    }

    /// `POST /v1/bundles`: hands a bundle to the relay; returns its receipt (JSON bytes).
    pub async fn upload_bundle(&self, bundle: &[u8]) -> Result<Vec<u8>, SyncError> {
        self.send(
            self.http.post(self.url("/v1/bundles")),
            Some((bundle, "application/x-tidemark-bundle")),
        )
        .await
    }
}

/// A request body as sent: zstd-compressed when `compress` and worth it.
fn pack(bytes: &[u8], compress: bool) -> Result<(Vec<u8>, bool), SyncError> {
    if compress && bytes.len() >= COMPRESS_FROM {
        let packed = zstd::bulk::compress(bytes, compression::zstd_level(bytes.len()))
            .map_err(|e| SyncError::internal(format!("compressing a request: {e}")))?;
        Ok((packed, true))
    } else {
        Ok((bytes.to_vec(), false))
    }
}

/// What a response said before its body: its status and how the body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: StatusCode,
    zstd: bool,
    /// Compressed with the request's body for a dictionary.
    dictionary: bool,
}

impl Head {
    fn of(resp: &reqwest::Response) -> Head {
        let headers = resp.headers();
        Head {
            status: resp.status(),
            zstd: headers
                .get(CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("zstd")),
            dictionary: headers
                .get(DICTIONARY_HEADER)
                .is_some_and(|v| compression::names_request(v.as_bytes())),
        }
    }

    fn retryable(&self) -> bool {
        matches!(self.status.as_u16(), 408 | 429 | 500..=599)
    }

    /// The body `raw` decompressed (with `request` for the dictionary when the relay used
    /// it), or the relay's error as a classified [`SyncError`].
    fn finish(&self, raw: &[u8], request: Option<&[u8]>) -> Result<Vec<u8>, SyncError> {
        let bytes = if self.zstd {
            decode_zstd(raw, request.filter(|_| self.dictionary))
                .map_err(|e| SyncError::bad_response(format!("undecodable response: {e}")))?
        } else {
            raw.to_vec()
        };
        if self.status.is_success() {
            return Ok(bytes);
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes).ok();
        let (code, message) = match detail {
            Some(d) => (d.error.code, d.error.message),
            None => (
                format!("http_{}", self.status.as_u16()),
                self.status.to_string(),
            ),
        };
        Err(SyncError::from_status(self.status, code, message))
    }
}

/// Decodes a zstd body, with `dictionary` when the relay compressed it with one.
fn decode_zstd(raw: &[u8], dictionary: Option<&[u8]>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match dictionary {
        Some(dict) => {
            let mut decoder = zstd::stream::read::Decoder::with_dictionary(raw, dict)?;
            std::io::copy(&mut decoder, &mut out)?;
        }
        None => {
            zstd::stream::copy_decode(raw, &mut out)?;
        }
    }
    Ok(out)
}

/// Checks and normalises a relay URL: `http` or `https`, no trailing slash.
pub fn normalise_url(url: &str) -> Result<String, SyncError> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u).map_err(|e| {
        SyncError::config(format!(
            "`{u}` is not a relay address ({e}); give one like https://relay.example.vn:8443"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(SyncError::config(format!(
            "`{u}` is not a relay address; give one like https://relay.example.vn:8443"
        )));
    }
    Ok(u.to_string())
}

impl SyncError {
    fn from_reqwest(e: reqwest::Error) -> SyncError {
        if e.is_timeout() {
            SyncError::retry("timeout", "the relay did not answer in time")
        } else if e.is_connect() {
            SyncError::retry("offline", "cannot reach the relay")
        } else {
            SyncError::retry("network", format!("the connection failed: {e}"))
        }
    }

    fn from_status(status: StatusCode, code: String, message: String) -> SyncError {
        match status.as_u16() {
            401 => SyncError::fatal(
                "unauthorized",
                format!(
                    "the relay does not accept this device ({message}); ask the administrator \
                     for a new enrolment code and run `tidemark enroll` again"
                ),
            ),
            403 => SyncError::fatal(
                "forbidden",
                format!("the relay refused: {message}; ask the administrator for access"),
            ),
            408 | 429 | 500..=599 => SyncError::retry(
                if status.as_u16() == 429 {
                    "rate_limited"
                } else {
                    "relay_error"
                },
                format!("the relay answered {status} ({code}): {message}"),
            ),
            _ => SyncError::fatal(
                if code.is_empty() {
                    "http_error"
                } else {
                    code.as_str()
                },
                format!("the relay answered {status}: {message}"),
            ),
        }
    }
}
