//! Sync with a relay: enrolment, batched `automerge::sync` sessions that survive cut
//! connections, a background engine with triggers and backoff, status events and delivery
//! receipts.
//!
//! The store is shared with the app's commands through [`SharedClient`]; sync takes the lock
//! only for short local steps and never across a network wait.

mod delivery;
mod engine;
mod files;
mod http;
mod reply;
mod session;
mod sharing;

pub use delivery::{Delivery, DeliveryStage, UnitDelivery};
pub use engine::{SyncEngine, SyncStatus};
pub use files::{Direction as FileDirection, FilesReport};
pub use http::{normalise_url, RelayHttp, RemoteAttachment, UploadState, WireCounters, WireTotals};
pub use session::{sync_once, SyncReport};
pub(crate) use sharing::sharing;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use crate::{Client, ClientError};

/// The client as sync shares it with the rest of the app.
pub type SharedClient = Arc<Mutex<Client>>;

/// Locks the shared client. A panic elsewhere while it was held does not make the store
/// unusable (every write is a SQLite transaction), so a poisoned lock is taken over.
pub(crate) fn lock(shared: &SharedClient) -> MutexGuard<'_, Client> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Metadata keys of the relay settings in the store.
pub(crate) mod keys {
    pub const URL: &str = "relay.url";
    pub const TOKEN: &str = "relay.token";
    pub const DEVICE: &str = "relay.device_id";
    pub const UNIT: &str = "relay.unit";
    pub const ROOT: &str = "relay.root_unit";
    pub const ENROLLED_AT: &str = "relay.enrolled_at";
    /// The relay device id under which this device's signing key is registered (a new
    /// enrolment is a new device id; a new URL for the same relay is not).
    pub const KEY_REGISTERED: &str = "relay.sign_key_registered";
    /// `RELAY_DEVICE_ID:N`: the position in that relay's key log of the last signing key this
    /// device holds from it.
    pub const KEY_CURSOR: &str = "relay.key_cursor";
    pub const CURSOR: &str = "sync.cursor";
    pub const LAST_OK: &str = "sync.last_ok";
    pub const LAST_ERROR: &str = "sync.last_error";
    pub const LAST_TOTALS: &str = "sync.last_totals";
    /// Documents of session requests the relay took but whose answers were lost, as JSON
    /// `[relay device id, [ids]]`: the next session asks about them before pushing again.
    pub const UNANSWERED: &str = "sync.unanswered";
}

/// Where this device syncs, as stored at enrolment.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Base URL.
    pub url: String,
    /// Bearer token (secret: never printed, never logged).
    pub token: String,
    /// The device id the relay gave this device.
    pub device_id: String,
    /// The relay's name of this device's unit.
    pub unit: String,
    /// The top of the relay's unit tree (HQ), if the relay said.
    pub root_unit: Option<String>,
}

impl RelayConfig {
    /// The key of this relay's sync states and receipts in the store: the device id the relay
    /// gave this device. It stays when the relay's address changes (a new name, a proxy) and
    /// differs for another relay.
    pub fn key(&self) -> &str {
        &self.device_id
    }
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("unit", &self.unit)
            .field("root_unit", &self.root_unit)
            .finish()
    }
}

/// Knobs of a sync session and of the background engine.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Largest request body, before compression. Larger first syncs are split into rounds.
    pub max_request_bytes: usize,
    /// Most documents in one request.
    pub max_docs_per_request: usize,
    /// Documents whose rounds run together (a batch runs to quiescence before the next).
    pub batch_docs: usize,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Wait after a local change before syncing, so a burst of edits is one sync.
    pub debounce: Duration,
    /// Sync this often even without local changes (to pull others' changes).
    pub period: Duration,
    /// First retry delay after a failure; doubles per failure (full jitter).
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Most rounds per batch before giving up (a guard against a peer that never settles).
    pub max_rounds: usize,
    /// How many times one request resumes after its connection broke (asking the relay how
    /// much it holds, sending or fetching only the rest) before the session gives up.
    pub resumes: u32,
    /// Most feed rows one answer reads (0: as many as the relay gives, 1,000 today). Smaller
    /// pages mean smaller answers and more of them.
    pub feed_rows: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_request_bytes: 1024 * 1024,
            max_docs_per_request: 500,
            batch_docs: 2000,
            request_timeout: Duration::from_secs(30),
            debounce: Duration::from_secs(2),
            period: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            max_rounds: 50,
            resumes: 8,
            feed_rows: 0,
        }
    }
}

/// A sync failure: a stable code, a sentence for the user, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct SyncError {
    /// Stable code: `offline`, `timeout`, `network`, `relay_error`, `rate_limited`,
    /// `bad_response` (retried); `unauthorized`, `forbidden`, `not_enrolled`, `config`,
    /// `store`, `internal`, or the relay's code (not retried).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// Whether the engine retries with backoff.
    pub retryable: bool,
}

impl SyncError {
    pub(crate) fn retry(code: &str, message: impl Into<String>) -> SyncError {
        SyncError {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }

    pub(crate) fn fatal(code: &str, message: impl Into<String>) -> SyncError {
        SyncError {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> SyncError {
        SyncError::fatal("config", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> SyncError {
        SyncError::fatal("internal", message)
    }

    pub(crate) fn bad_response(message: impl Into<String>) -> SyncError {
        // A cut or truncated response looks like this too: retry.
        SyncError::retry("bad_response", message)
    }

    fn not_enrolled() -> SyncError {
        SyncError::fatal(
            "not_enrolled",
            "this device is not enrolled with a relay; run `tidemark enroll --server URL --code CODE`",
        )
    }
}

impl From<ClientError> for SyncError {
    fn from(e: ClientError) -> Self {
        // A busy database clears by itself; a full disk or damage needs the user.
        let retry = matches!(e, ClientError::Store(tidemark_store::StoreError::Busy));
        SyncError {
            code: "store".into(),
            message: format!("the device store: {e}"),
            retryable: retry,
        }
    }
}

impl From<tidemark_store::StoreError> for SyncError {
    fn from(e: tidemark_store::StoreError) -> Self {
        SyncError::from(ClientError::Store(e))
    }
}

impl Client {
    /// The relay this device is enrolled with, if any.
    pub fn relay_config(&self) -> Result<Option<RelayConfig>, ClientError> {
        let s = self.store();
        let (Some(url), Some(token), Some(device_id), Some(unit)) = (
            s.meta(keys::URL)?,
            s.meta(keys::TOKEN)?,
            s.meta(keys::DEVICE)?,
            s.meta(keys::UNIT)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(RelayConfig {
            url,
            token,
            device_id,
            unit,
            root_unit: s.meta(keys::ROOT)?.filter(|r| !r.is_empty()),
        }))
    }

    /// The HQ unit name as far as this device knows: the relay's root unit, else a unit
    /// record of kind `hq`.
    pub fn hq_unit(&self) -> Result<Option<String>, ClientError> {
        if let Some(root) = self.store().meta(keys::ROOT)?.filter(|r| !r.is_empty()) {
            return Ok(Some(root));
        }
        Ok(self.store().hq_unit_name()?)
    }
}

/// What enrolment established.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    /// Relay URL.
    pub url: String,
    /// Device id at the relay.
    pub device_id: String,
    /// The relay's name of this device's unit.
    pub unit: String,
    /// HQ, if the relay said.
    pub root_unit: Option<String>,
    /// A warning when the relay's unit name differs from the store's.
    pub warning: Option<String>,
}

/// Enrols this device with the relay at `server` using a one-time `code`: registers the
/// device's Automerge actor and stores the relay URL and token in the device store.
pub async fn enroll(
    shared: &SharedClient,
    server: &str,
    code: &str,
    timeout: Duration,
) -> Result<Enrolled, SyncError> {
    let url = normalise_url(server)?;
    let (actor_hex, store_unit, sign_key) = {
        let c = lock(shared);
        (
            c.identity().actor.to_hex_string(),
            c.identity().unit.clone(),
            c.sign_public_key()?,
        )
    };
    let code = code.trim();
    if code.is_empty() {
        return Err(SyncError::config(
            "the enrolment code is empty; the administrator prints it with `tidemark-server device enroll`",
        ));
    }
    let http = RelayHttp::new(&url, None, timeout, Arc::new(WireCounters::default()))?;
    let answer = http
        .enroll(code, &actor_hex, &sign_key)
        .await
        .map_err(|e| {
            if e.code == "unauthorized" {
                SyncError::fatal(
                "unauthorized",
                "the relay did not accept this enrolment code (unknown, already used or expired); \
                 ask the administrator for a new one",
            )
            } else {
                e
            }
        })?;
    let unit = answer.unit.clone().unwrap_or_else(|| store_unit.clone());
    let root = answer.root_unit.clone().unwrap_or_default();
    let now = crate::now_secs().to_string();
    {
        let mut c = lock(shared);
        let previous = c.store().meta(keys::URL)?;
        let mut pairs: Vec<(&str, &str)> = vec![
            (keys::URL, &url),
            (keys::TOKEN, &answer.token),
            (keys::DEVICE, &answer.device_id),
            (keys::UNIT, &unit),
            (keys::ROOT, &root),
            (keys::ENROLLED_AT, &now),
            (keys::KEY_REGISTERED, &answer.device_id),
        ];
        // A different relay has a different feed: start reading it from the beginning.
        if previous.as_deref() != Some(url.as_str()) {
            pairs.push((keys::CURSOR, "0"));
        }
        c.store_mut().set_meta_many(&pairs)?;
    }
    tracing::info!(device = %answer.device_id, "enrolled with relay");
    let warning = (unit != store_unit).then(|| {
        format!(
            "the relay calls this device's unit “{unit}” but this store was set up for “{store_unit}”; \
             records this device creates are owned by the name in each record"
        )
    });
    Ok(Enrolled {
        url,
        device_id: answer.device_id,
        unit,
        root_unit: answer.root_unit,
        warning,
    })
}

/// The configured relay and an HTTP client for it, or `not_enrolled`.
pub(crate) fn connect(
    shared: &SharedClient,
    opts: &SyncOptions,
    counters: Arc<WireCounters>,
) -> Result<(RelayConfig, RelayHttp), SyncError> {
    let cfg = lock(shared)
        .relay_config()?
        .ok_or_else(SyncError::not_enrolled)?;
    let http = RelayHttp::new(
        &cfg.url,
        Some(cfg.token.clone()),
        opts.request_timeout,
        counters,
    )?
    .with_resumes(opts.resumes);
    Ok((cfg, http))
}

/// Hands a bundle file to the relay (`POST /v1/bundles`) and returns the relay's receipt
/// (JSON bytes). The relay applies the same access and authorship checks as sync.
pub async fn upload_bundle(shared: &SharedClient, bundle: &[u8]) -> Result<Vec<u8>, SyncError> {
    let opts = SyncOptions::default();
    let (_, http) = connect(shared, &opts, Arc::new(WireCounters::default()))?;
    http.upload_bundle(bundle).await
}

/// What `tidemark status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    /// The relay, if enrolled.
    pub relay: Option<String>,
    /// This device's id at the relay.
    pub device_id: Option<String>,
    /// The relay's name of this device's unit.
    pub unit: Option<String>,
    /// Last successful sync, seconds since the epoch.
    pub last_ok: Option<i64>,
    /// The last error (code and message) since then, if any.
    pub last_error: Option<serde_json::Value>,
    /// Documents with local changes the relay has not confirmed.
    pub pending: usize,
    /// Documents the relay refused at their current state, with the reason code.
    pub refused: Vec<(String, String)>,
    /// Bytes and round trips of the last successful sync.
    pub last_totals: Option<serde_json::Value>,
    /// Files (thumbnails included) here that the relay has not confirmed.
    pub files_to_send: usize,
    /// Files records refer to that are not on this device yet.
    pub files_to_fetch: usize,
}

impl Client {
    /// The state of sync, for `tidemark status` and the app's sync bar.
    pub fn sync_summary(&self) -> Result<SyncSummary, ClientError> {
        let cfg = self.relay_config()?;
        let s = self.store();
        let (pending, refused) = match &cfg {
            Some(c) => (s.pending_count(c.key())?, s.refused_docs(c.key())?),
            None => (s.doc_ids()?.len(), Vec::new()),
        };
        Ok(SyncSummary {
            relay: cfg.as_ref().map(|c| c.url.clone()),
            device_id: cfg.as_ref().map(|c| c.device_id.clone()),
            unit: cfg.as_ref().map(|c| c.unit.clone()),
            last_ok: s.meta(keys::LAST_OK)?.and_then(|v| v.parse().ok()),
            last_error: s
                .meta(keys::LAST_ERROR)?
                .and_then(|v| serde_json::from_str(&v).ok()),
            pending,
            refused,
            last_totals: s
                .meta(keys::LAST_TOTALS)?
                .and_then(|v| serde_json::from_str(&v).ok()),
            files_to_send: match &cfg {
                Some(c) => s.uploads_pending(c.key())?.len(),
                None => 0,
            },
            files_to_fetch: s.downloads_pending()?.len(),
        })
    }

    /// Changes the relay's address (it moved, or a proxy stands in front of it), keeping the
    /// token, the device id, the sync states and the feed position.
    pub fn set_relay_url(&mut self, url: &str) -> Result<(), ClientError> {
        let url = normalise_url(url).map_err(|e| ClientError::User(e.message))?;
        if self.relay_config()?.is_none() {
            return Err(ClientError::User(
                "this device is not enrolled; run `tidemark enroll --server URL --code CODE`"
                    .into(),
            ));
        }
        self.store.set_meta(keys::URL, &url)?;
        Ok(())
    }

    pub(crate) fn store_mut(&mut self) -> &mut tidemark_store::Store {
        &mut self.store
    }
}
