//! `/v1/attachments/{hash}`: start or resume an upload (`POST`), send its chunks (`PUT
//! …/chunks/{index}`), read its manifest (`GET`) and its content (`GET …/content`, one optional
//! byte range). See the protocol document, "Attachments".
//!
//! A unit reads an attachment when it may read a document referring to it, and uploads it
//! when it may write one. Logs carry a prefix of the address, indexes and sizes only.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tidemark_sync_protocol::attachment::{is_hash, sha256_hex, Manifest, CHUNK_SIZE};

use super::{body, AppState, Authed};
use crate::db::{Access, ChunkState, Device, StoredAttachment, UploadState};
use crate::error::AppError;

/// Largest body of `PUT …/chunks/{index}`: one chunk, with room to spare so that an oversized
/// chunk is answered `chunk_mismatch` rather than cut off.
pub const CHUNK_BODY_LIMIT: usize = CHUNK_SIZE as usize + 64 * 1024;

/// The answer of `GET /v1/attachments/{hash}`: the manifest and whether every chunk is in.
#[derive(Debug, Serialize)]
pub struct AttachmentInfo {
    #[serde(flatten)]
    manifest: Manifest,
    complete: bool,
}

/// `POST /v1/attachments/{hash}` with a manifest → which chunks the relay holds.
pub async fn begin(
    State(state): State<AppState>,
    Authed(device): Authed,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadState>, AppError> {
    let hash = address(path.map(|Path(h)| h).unwrap_or_default())?;
    allowed(&state, &device, &hash, Access::Write).await?;
    let settings = state.settings();
    let bytes = body::decoded(&headers, body::raw(raw)?, settings.max_request_bytes)?;
    let manifest = manifest(&bytes, settings.max_attachment_bytes)?;
    let quota = settings.attachment_quota_bytes;
    let (short, size, chunks) = (prefix(&hash), manifest.size, manifest.chunks.len());
    let up = state
        .with_db(move |db| db.begin_attachment(&device, &hash, &manifest, quota))
        .await?;
    tracing::info!(
        attachment = short,
        size,
        chunks,
        have = up.have.len(),
        complete = up.complete,
        "attachment upload begun"
    );
    Ok(Json(up))
}

/// `PUT /v1/attachments/{hash}/chunks/{index}` with the chunk's bytes → how many are in.
pub async fn put_chunk(
    State(state): State<AppState>,
    Authed(device): Authed,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<ChunkState>, AppError> {
    let (hash, index) = path.map(|Path(p)| p).unwrap_or_default();
    let hash = address(hash)?;
    let index: u64 = index
        .parse()
        .map_err(|_| AppError::NotFound { what: "chunk" })?;
    allowed(&state, &device, &hash, Access::Write).await?;
    let bytes = body::decoded(&headers, body::raw(raw)?, CHUNK_SIZE as usize)?;
    let (short, len) = (prefix(&hash), bytes.len());
    let digest = sha256_hex(&bytes);
    let result = state
        .with_db(move |db| db.put_attachment_chunk(&hash, index, &bytes, &digest))
        .await;
    match &result {
        Ok(s) => {
            state.metrics().chunk_received(len);
            tracing::debug!(attachment = short, index, bytes = len, "attachment chunk");
            if s.complete {
                tracing::info!(
                    attachment = short,
                    chunks = s.received,
                    "attachment complete"
                );
            }
        }
        Err(e @ AppError::Unprocessable { .. }) => {
            state.metrics().chunk_refused();
            tracing::info!(
                attachment = short,
                index,
                code = e.code(),
                "attachment chunk refused"
            );
        }
        Err(_) => {}
    }
    result.map(Json)
}

/// `GET /v1/attachments/{hash}` → the manifest plus `complete`.
pub async fn info(
    State(state): State<AppState>,
    Authed(device): Authed,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AttachmentInfo>, AppError> {
    let hash = address(path.map(|Path(h)| h).unwrap_or_default())?;
    allowed(&state, &device, &hash, Access::Read).await?;
    let s = stored(&state, &hash).await?;
    Ok(Json(AttachmentInfo {
        manifest: s.manifest,
        complete: s.complete,
    }))
}

/// `GET /v1/attachments/{hash}/content`: the whole file (200), or one `Range` of it (206).
pub async fn content(
    State(state): State<AppState>,
    Authed(device): Authed,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let hash = address(path.map(|Path(h)| h).unwrap_or_default())?;
    allowed(&state, &device, &hash, Access::Read).await?;
    let s = stored(&state, &hash).await?;
    if !s.complete {
        return Err(AppError::Conflict {
            code: "incomplete",
            message: "not every chunk of this attachment is in yet; ask again after its \
                      uploader has synced"
                .into(),
        });
    }
    let size = s.manifest.size;
    let range = headers
        .get(RANGE)
        .map(|v| parse_range(v, size))
        .transpose()?;
    let (start, end) = range.unwrap_or((0, size));
    let short = prefix(&hash);
    let bytes = state
        .with_db(move |db| db.attachment_bytes_range(&hash, size, start, end))
        .await?;
    state.metrics().attachment_served(bytes.len());
    tracing::debug!(attachment = short, start, end, "attachment content served");
    let status = match range {
        Some(_) => StatusCode::PARTIAL_CONTENT,
        None => StatusCode::OK,
    };
    let mut response = (status, bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if range.is_some() {
        let value = format!("bytes {start}-{}/{size}", end - 1);
        h.insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&value).map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    Ok(response)
}

/// The `{hash}` of a path, when it is a content address (400 `bad_hash` otherwise; a path
/// that does not decode arrives empty).
fn address(hash: String) -> Result<String, AppError> {
    if is_hash(&hash) {
        return Ok(hash);
    }
    Err(AppError::bad(
        "bad_hash",
        "an attachment is named by the SHA-256 of the file, as 64 lowercase hex digits",
    ))
}

/// The first characters of an address, enough to follow it in logs.
fn prefix(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// Refuses (403) a unit that may not do `need` with any document referring to `hash`.
async fn allowed(
    state: &AppState,
    device: &Device,
    hash: &str,
    need: Access,
) -> Result<(), AppError> {
    let (unit, h) = (device.unit.clone(), hash.to_string());
    let access = state
        .with_db(move |db| db.attachment_access(&unit, &h))
        .await?;
    if access >= need {
        return Ok(());
    }
    let verb = if need == Access::Write {
        "write"
    } else {
        "read"
    };
    Err(AppError::Forbidden(format!(
        "this unit may not {verb} any document referring to this attachment (or none does yet: \
         sync the record before its files)"
    )))
}

/// The attachment, or 404 when no upload of it was started.
async fn stored(state: &AppState, hash: &str) -> Result<StoredAttachment, AppError> {
    let h = hash.to_string();
    state
        .with_db(move |db| db.attachment(&h))
        .await?
        .ok_or(AppError::NotFound {
            what: "attachment upload",
        })
}

/// Parses and checks a manifest: 400 `bad_manifest` for its shape, 413 `too_large` above
/// `max` bytes.
fn manifest(bytes: &[u8], max: u64) -> Result<Manifest, AppError> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad(
            "bad_manifest",
            format!("send a manifest {{size, mime, chunk_size, chunks}}: {e}"),
        )
    })?;
    manifest
        .check()
        .map_err(|e| AppError::bad("bad_manifest", e.to_string()))?;
    if manifest.size > max {
        return Err(AppError::TooLarge(format!(
            "the file is {} bytes; this relay takes attachments of at most {max} bytes",
            manifest.size
        )));
    }
    Ok(manifest)
}

/// Parses one `Range: bytes=START-END` or `bytes=START-` into `[start, end)` of a file of
/// `size` bytes: 400 `bad_range` when malformed, 416 when it starts past the end.
fn parse_range(value: &HeaderValue, size: u64) -> Result<(u64, u64), AppError> {
    let bad = || {
        AppError::bad(
            "bad_range",
            "ask for one range: Range: bytes=START-END or bytes=START-",
        )
    };
    let spec = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .ok_or_else(bad)?;
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .ok_or_else(bad)
    };
    let start = number(first)?;
    let last = match last {
        "" => None,
        l => Some(number(l)?),
    };
    if last.is_some_and(|l| l < start) {
        return Err(bad());
    }
    if start >= size {
        return Err(AppError::RangeNotSatisfiable { size });
    }
    Ok((start, last.map_or(size, |l| l.saturating_add(1).min(size))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<(u64, u64), &'static str> {
        parse_range(&HeaderValue::from_str(v).map_err(|_| "header")?, size).map_err(|e| e.code())
    }

    #[test]
    fn ranges_parse_clamp_and_refuse() {
        assert_eq!(range("bytes=0-9", 100), Ok((0, 10)));
        assert_eq!(range("bytes=90-", 100), Ok((90, 100)));
        assert_eq!(range("bytes=90-500", 100), Ok((90, 100)));
        assert_eq!(range("bytes=99-99", 100), Ok((99, 100)));
        let past = parse_range(&HeaderValue::from_static("bytes=100-"), 100);
        assert!(matches!(
            past,
            Err(AppError::RangeNotSatisfiable { size: 100 })
        ));
        for bad in [
            "bytes=5-1",
            "bytes=-5",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=",
        ] {
            assert_eq!(range(bad, 100), Err("bad_range"), "{bad}");
        }
    }
}
