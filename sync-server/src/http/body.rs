//! Request bodies: the size cap (413 `too_large`), `Content-Encoding: zstd` or `gzip` with a cap
//! on the decompressed size, and JSON parsing with stable codes.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_ENCODING;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The raw body, or 413 / 400 with a code.
pub fn raw(body: Result<Bytes, BytesRejection>) -> Result<Bytes, AppError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge("request body exceeds the configured limit".into())
        } else {
            AppError::bad("bad_body", "request body could not be read")
        }
    })
}

/// The body after undoing its `Content-Encoding` (identity or zstd), at most `max` bytes.
pub fn decoded(headers: &HeaderMap, body: Bytes, max: usize) -> Result<Vec<u8>, AppError> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(body.to_vec()),
        Some("zstd") => {
            let decoder = zstd::stream::read::Decoder::new(&body[..])
                .map_err(|_| AppError::bad("bad_encoding", "body is not valid zstd"))?;
            capped(decoder, max)
        }
        Some("gzip") => capped(flate2::read::GzDecoder::new(&body[..]), max),
        Some(_) => Err(AppError::UnsupportedEncoding),
    }
}

/// Reads a decompressing reader to the end, refusing more than `max` bytes of output so that a
/// small compressed bomb cannot exhaust memory.
fn capped(decoder: impl Read, max: usize) -> Result<Vec<u8>, AppError> {
    let bad = || AppError::bad("bad_encoding", "compressed body does not decompress");
    let mut out = Vec::new();
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| bad())?;
    if out.len() > max {
        return Err(AppError::TooLarge(
            "decompressed body exceeds the configured limit".into(),
        ));
    }
    Ok(out)
}

/// Whether the client accepts a zstd response.
pub fn accepts_zstd(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.split(';').next().map(str::trim) == Some("zstd"))
}

/// Parses a JSON body into `T`, 400 `bad_json` when it does not fit.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| AppError::bad("bad_json", e.to_string()))
}
