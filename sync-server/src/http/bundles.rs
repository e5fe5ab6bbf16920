//! `POST /v1/bundles`: a device uploads a file bundle it carried (USB), the relay imports it
//! document by document ([`crate::import`]) and answers with the receipt.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use tidemark_sync_protocol::{bundle_sha256_hex, decode_bundle, Receipt};

use super::{body, AppState, Authed};
use crate::error::AppError;
use crate::import::{import_bundle, Importer};

/// Decodes the uploaded bundle (400 `bad_bundle` with the bundle's own sentence and code when
/// it is damaged; nothing is stored) and imports it for the authenticated device.
pub async fn upload(
    State(state): State<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, AppError> {
    let started = std::time::Instant::now();
    let settings = state.settings().clone();
    let bytes = body::decoded(&headers, body::raw(raw)?, settings.max_bundle_bytes)?;
    let size = bytes.len();
    let limits = settings.bundle_limits();
    // Hashing and parsing up to hundreds of MiB: off the async workers, before the database
    // lock is taken.
    let (bundle, sha256) = tokio::task::spawn_blocking(move || {
        let sha = bundle_sha256_hex(&bytes);
        decode_bundle(&bytes, &limits).map(|b| (b, sha))
    })
    .await
    .map_err(|e| AppError::Internal(format!("bundle task failed: {e}")))?
    .map_err(|e| AppError::bad("bad_bundle", format!("{e} ({})", e.code())))?;
    let docs = bundle.docs.len();
    let max_doc_id = settings.limits().max_doc_id;
    let memory = state.clone();
    let device_id = device.id.clone();
    let receipt = state
        .with_db(move |db| {
            // Lock order: database (held by `with_db`), then cache.
            let mut cache = memory
                .cache
                .lock()
                .map_err(|_| AppError::Internal("memory lock poisoned".into()))?;
            let importer = Importer::Device(&device);
            import_bundle(db, &mut cache, importer, &bundle, &sha256, max_doc_id)
        })
        .await?;
    tracing::info!(
        device = %device_id,
        docs,
        bytes = size,
        ms = started.elapsed().as_millis() as u64,
        "bundle uploaded"
    );
    Ok(Json(receipt))
}
