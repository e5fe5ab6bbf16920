//! The small JSON endpoints: health, enrolment, document creation, the change feed.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{body, AppState, Authed};
use crate::db::{access_rule, Access, Grant, NewDocument};
use crate::error::AppError;

/// `GET /v1/health`: no authentication.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "protocol": tidemark_sync_protocol::VERSION}))
}

/// `GET /metrics`: counters in the Prometheus text format (no authentication; counts only).
pub async fn metrics(State(state): State<AppState>) -> String {
    state.metrics().render()
}

/// Unknown routes: 404 with a code.
pub async fn not_found() -> AppError {
    AppError::NotFound { what: "route" }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollRequest {
    code: String,
    actor_hex: String,
    /// Hex Ed25519 public key that signs the device's changes (devices from before signed
    /// changes send none and may register one later with `POST /v1/keys`).
    #[serde(default)]
    sign_key: Option<String>,
}

/// A hex Ed25519 public key, checked: 32 bytes that make a valid point.
fn parse_sign_key(hex_key: &str) -> Result<Vec<u8>, AppError> {
    let bytes = hex::decode(hex_key)
        .ok()
        .filter(|b| b.len() == tidemark_sync_protocol::signature::PUBLIC_KEY_LEN)
        .filter(|b| tidemark_sync_protocol::signature::is_valid_key(b))
        .ok_or_else(|| {
            AppError::bad(
                "bad_sign_key",
                "sign_key must be a 32-byte Ed25519 public key in hex",
            )
        })?;
    Ok(bytes)
}

#[derive(Debug, Serialize)]
struct EnrollResponse {
    device_id: String,
    token: String,
    unit: String,
    root_unit: String,
}

/// `POST /v1/enroll {code, actor_hex, sign_key?}` → `{device_id, token, unit, root_unit}`: the
/// device's unit and the top-most ancestor of that unit.
pub async fn enroll(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ip = super::client_ip(&extensions);
    let now = std::time::Instant::now();
    if state.enrolments.blocked(ip, now) {
        return Err(AppError::RateLimited);
    }
    state.enrolments.record(ip, now);
    let bytes = body::decoded(
        &headers,
        body::raw(raw)?,
        state.settings().max_request_bytes,
    )?;
    let req: EnrollRequest = body::json(&bytes)?;
    let actor_ok = !req.actor_hex.is_empty()
        && req.actor_hex.len() <= 64
        && req.actor_hex.len().is_multiple_of(2)
        && req.actor_hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !actor_ok {
        return Err(AppError::bad(
            "bad_actor",
            "actor_hex must be 1 to 32 bytes of hex",
        ));
    }
    let actor = req.actor_hex.to_ascii_lowercase();
    let sign_key = req.sign_key.as_deref().map(parse_sign_key).transpose()?;
    let e = state
        .with_db(move |db| db.redeem(&req.code, &actor, sign_key.as_deref()))
        .await?;
    tracing::info!(device = %e.device_id, "device enrolled");
    Ok(Json(
        serde_json::to_value(EnrollResponse {
            device_id: e.device_id,
            token: e.token,
            unit: e.unit,
            root_unit: e.root_unit,
        })
        .map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

/// The body of `POST /v1/documents`, and one item of `POST /v1/documents/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateDocument {
    pub(super) id: String,
    owner_unit: String,
    /// Record kind (`patrol`, `info_exchange`, `plan`…): chooses the default grants.
    #[serde(default)]
    kind: Option<String>,
    /// Exchange recipients or plan parties: the units the defaults grant to.
    #[serde(default)]
    parties: Vec<String>,
    #[serde(default)]
    grants: Vec<Grant>,
}

/// `POST /v1/documents {id, owner_unit, kind?, parties?, grants?}` → 201; `kind` and
/// `parties` add the default grants of [`crate::defaults`].
pub async fn create_document(
    State(state): State<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let bytes = body::decoded(
        &headers,
        body::raw(raw)?,
        state.settings().max_request_bytes,
    )?;
    let req: CreateDocument = body::json(&bytes)?;
    let doc = req.checked(state.settings().limits().max_doc_id)?;
    let id = doc.id.clone();
    state
        .with_db(move |db| db.create_document(&device, &doc.id, &doc.owner, &doc.grants))
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))))
}

impl CreateDocument {
    /// The document to create, once its id and kind are checked (`bad_doc_id`, `bad_kind`),
    /// with the default grants of its kind.
    pub(super) fn checked(self, max_doc_id: usize) -> Result<NewDocument, AppError> {
        if self.id.is_empty() || self.id.len() > max_doc_id {
            return Err(AppError::bad(
                "bad_doc_id",
                "document id is empty or too long",
            ));
        }
        let grants = crate::defaults::grants(self.kind.as_deref(), &self.parties, &self.grants)?;
        Ok(NewDocument {
            id: self.id,
            owner: self.owner_unit,
            grants,
        })
    }
}

/// Query of `GET /v1/feed`.
#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    since: i64,
    /// How many signing keys the device holds: when the relay has more, the page carries the
    /// whole key directory.
    #[serde(default)]
    keys: Option<i64>,
}

/// One document of a feed page.
#[derive(Debug, Serialize)]
pub(super) struct FeedDoc {
    pub(super) id: String,
    pub(super) heads: Vec<String>,
    pub(super) access: Access,
}

/// One page of the change feed.
#[derive(Debug, Serialize)]
pub(super) struct FeedPage {
    pub(super) cursor: i64,
    pub(super) more: bool,
    pub(super) documents: Vec<FeedDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) keys: Option<Keys>,
    /// Position in the key log of the last key registered, when the device reads the keys by
    /// position (session requests); it sends it back next time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key_cursor: Option<i64>,
}

/// Keys in a feed page: the whole directory, or those after the device's position in the log
/// (the same JSON array either way).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Keys {
    Directory(Vec<crate::db::KeyEntry>),
    After(crate::db::KeysAfter),
}

/// How a device says which signing keys it already holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeysHeld {
    /// A count (`GET /v1/feed?keys=K`): the whole directory when the relay holds more.
    Count(i64),
    /// A position in the key log: only the keys registered after it.
    After(i64),
}

/// Feed rows scanned per request; a client with more to catch up asks again from `cursor`.
pub(super) const FEED_PAGE: usize = 1000;

/// `GET /v1/feed?since=N[&keys=K]` → `{cursor, more, documents:[{id, heads, access}],
/// keys?:[{actor, key, device, unit}]}`: documents this device may read that changed after `N`,
/// each once with its latest heads, and the key directory when the relay holds more than `K`
/// keys.
pub async fn feed(
    State(state): State<AppState>,
    Authed(device): Authed,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let Query(q) = query.map_err(|_| AppError::bad("bad_query", "since must be an integer"))?;
    let page = state
        .with_db(move |db| feed_page(db, &device, q.since, q.keys.map(KeysHeld::Count), FEED_PAGE))
        .await?;
    Ok(Json(
        serde_json::to_value(page).map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

/// The feed page after `since` for `device` (shared by `GET /v1/feed` and the session request).
pub(super) fn feed_page(
    db: &crate::db::Db,
    device: &crate::db::Device,
    since: i64,
    keys_held: Option<KeysHeld>,
    limit: usize,
) -> Result<FeedPage, AppError> {
    let (keys, key_cursor) = match keys_held {
        Some(KeysHeld::Count(held)) if db.sign_key_count()? > held => {
            (Some(Keys::Directory(db.sign_keys()?)), None)
        }
        Some(KeysHeld::After(after)) => {
            let (keys, last) = db.sign_keys_after(after)?;
            ((!keys.is_empty()).then_some(Keys::After(keys)), Some(last))
        }
        _ => (None, None),
    };
    let (rows, cursor) = db.feed_after(since, limit, &device.unit)?;
    let more = rows.len() == limit;
    let mut latest: BTreeMap<i64, FeedDoc> = BTreeMap::new();
    let mut at: HashMap<String, i64> = HashMap::new();
    for row in rows {
        let a = access_rule(&device.unit, &row.owner, row.granted, || Ok(row.inherited))?;
        if a == Access::None {
            continue;
        }
        if let Some(old) = at.insert(row.doc_id.clone(), row.seq) {
            latest.remove(&old);
        }
        let doc = FeedDoc {
            id: row.doc_id,
            heads: row.heads,
            access: a,
        };
        latest.insert(row.seq, doc);
    }
    Ok(FeedPage {
        cursor,
        more,
        documents: latest.into_values().collect(),
        keys,
        key_cursor,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    sign_key: String,
}

/// `POST /v1/keys {sign_key}` → `{registered: true}`: registers the signing key of a device
/// enrolled before signed changes. Set once: another key later is 409 `key_taken`.
pub async fn register_key(
    State(state): State<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let bytes = body::decoded(
        &headers,
        body::raw(raw)?,
        state.settings().max_request_bytes,
    )?;
    let req: KeyRequest = body::json(&bytes)?;
    let key = parse_sign_key(&req.sign_key)?;
    let id = device.id.clone();
    state
        .with_db(move |db| db.register_sign_key(&device.id, &key))
        .await?;
    tracing::info!(device = %id, "signing key registered");
    Ok(Json(serde_json::json!({"registered": true})))
}

/// `GET /v1/keys` → `[{actor, key, device, unit}]`: every registered signing key.
pub async fn list_keys(
    State(state): State<AppState>,
    Authed(_device): Authed,
) -> Result<Json<serde_json::Value>, AppError> {
    let keys = state.with_db(|db| db.sign_keys()).await?;
    Ok(Json(
        serde_json::to_value(keys).map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

/// `GET /v1/documents/{id}` → `{id, owner_unit, grants, access}`; 403 when this device's unit
/// may not read it, 404 when unknown.
pub async fn document_info(
    State(state): State<AppState>,
    Authed(device): Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let doc_id = id.clone();
    let (meta, access) = state
        .with_db(move |db| {
            let meta = db
                .doc_meta(&doc_id)?
                .ok_or(AppError::NotFound { what: "document" })?;
            let access = db.access(&device.unit, &meta)?;
            Ok((meta, access))
        })
        .await?;
    if access == Access::None {
        return Err(AppError::Forbidden(
            "this unit may not read this document".into(),
        ));
    }
    Ok(Json(serde_json::json!({
        "id": id,
        "owner_unit": meta.owner,
        "grants": meta.grants,
        "access": access,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareRequest {
    grants: Vec<Grant>,
}

/// `POST /v1/documents/{id}/grants {grants:[{unit, access}]}`: adds or changes grants
/// (`"access": "none"` removes one). Only the owner unit and its ancestors may share.
pub async fn share_document(
    State(state): State<AppState>,
    Authed(device): Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let bytes = body::decoded(
        &headers,
        body::raw(raw)?,
        state.settings().max_request_bytes,
    )?;
    let req: ShareRequest = body::json(&bytes)?;
    let doc_id = id.clone();
    state
        .with_db(move |db| db.share(&device, &doc_id, &req.grants))
        .await?;
    Ok(Json(serde_json::json!({"id": id})))
}
