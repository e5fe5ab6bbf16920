//! Endpoints over many documents at once: `POST /v1/documents/batch` (create up to 1000 in
//! one transaction) and `POST /v1/receipts` (which devices of which units hold which heads).

use std::collections::HashMap;

use automerge::sync::State;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::handlers::CreateDocument;
use super::{body, AppState, Authed};
use crate::db::{Access, Db, Device, NewDocument};
use crate::error::AppError;

/// Most documents in one batch request.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    documents: Vec<CreateDocument>,
}

#[derive(Debug, Serialize)]
pub(super) struct BatchResult {
    pub(super) id: String,
    pub(super) code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// `POST /v1/documents/batch {documents:[...]}` → `{results:[{id, code, message?}]}` in request
/// order, `code` one of `created`, `exists`, `forbidden`, `not_found`, `bad_kind`,
/// `bad_doc_id`. A refused item never fails the others.
pub async fn create_documents(
    AxumState(state): AxumState<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let max = state.settings().max_request_bytes;
    let req: BatchRequest = body::json(&body::decoded(&headers, body::raw(raw)?, max)?)?;
    if req.documents.len() > MAX_BATCH {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_BATCH} documents in one batch"
        )));
    }
    let max_doc_id = state.settings().limits().max_doc_id;
    let total = req.documents.len();
    let results = state
        .with_db(move |db| create_all(db, &device, req.documents, max_doc_id))
        .await?;
    let created = results.iter().filter(|r| r.code == "created").count();
    tracing::info!(documents = total, created, "document batch");
    Ok(Json(serde_json::json!({ "results": results })))
}

/// Creates `documents` for `device` in one transaction; one result each, in order.
pub(super) fn create_all(
    db: &Db,
    device: &Device,
    documents: Vec<CreateDocument>,
    max_doc_id: usize,
) -> Result<Vec<BatchResult>, AppError> {
    let checked: Vec<(String, Result<NewDocument, AppError>)> = documents
        .into_iter()
        .map(|d| (d.id.clone(), d.checked(max_doc_id)))
        .collect();
    let valid: Vec<NewDocument> = checked
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().cloned())
        .collect();
    let mut created = db.create_documents(device, &valid)?.into_iter();
    let mut out = Vec::with_capacity(checked.len());
    for (id, r) in checked {
        let outcome = match r {
            Ok(_) => created
                .next()
                .unwrap_or(Err(AppError::Internal("batch results out of step".into()))),
            Err(e) => Err(e),
        };
        out.push(result(id, outcome));
    }
    Ok(out)
}

fn result(id: String, outcome: Result<(), AppError>) -> BatchResult {
    match outcome {
        Ok(()) => BatchResult {
            id,
            code: "created",
            message: None,
        },
        Err(e) => BatchResult {
            id,
            code: e.code(),
            message: Some(if e.status().is_server_error() {
                "internal error".into()
            } else {
                e.to_string()
            }),
        },
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptsRequest {
    ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct DocReceipt {
    id: String,
    units: Vec<UnitReceipt>,
}

#[derive(Debug, Serialize)]
struct UnitReceipt {
    unit: String,
    root: bool,
    devices: Vec<DeviceReceipt>,
}

#[derive(Debug, Serialize)]
struct DeviceReceipt {
    device_id: String,
    heads: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
}

/// `POST /v1/receipts {ids:[...]}` → `{documents:[{id, units:[{unit, root, devices:[{device_id,
/// heads, at?}]}]}]}`: for each document the caller's unit may read (others are left out),
/// the heads the devices of each unit have acknowledged (the shared heads of their persisted
/// sync states): one entry per distinct set of heads in a unit (the device that acknowledged
/// it last), and never the calling device's own. A document synced by many devices of a unit
/// to the same state costs one entry, not one per device.
pub async fn receipts(
    AxumState(state): AxumState<AppState>,
    Authed(device): Authed,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let max = state.settings().max_request_bytes;
    let req: ReceiptsRequest = body::json(&body::decoded(&headers, body::raw(raw)?, max)?)?;
    if req.ids.len() > MAX_BATCH {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_BATCH} documents in one request"
        )));
    }
    let docs = state
        .with_db(move |db| receipts_for(db, &device, req.ids))
        .await?;
    Ok(Json(serde_json::json!({ "documents": docs })))
}

/// The receipts of `ids` that `device`'s unit may read (shared by `POST /v1/receipts` and the
/// session request).
pub(super) fn receipts_for(
    db: &Db,
    device: &Device,
    ids: Vec<String>,
) -> Result<Vec<DocReceipt>, AppError> {
    let mut roots: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::new();
    for id in ids {
        let Some(meta) = db.doc_meta(&id)? else {
            continue;
        };
        if db.access(&device.unit, &meta)? == Access::None {
            continue;
        }
        let units = unit_receipts(db, &id, &device.id, &mut roots)?;
        out.push(DocReceipt { id, units });
    }
    Ok(out)
}

/// Every unit with a persisted sync state for `doc_id` by a device other than `caller`, with
/// the distinct heads its devices acknowledged.
fn unit_receipts(
    db: &Db,
    doc_id: &str,
    caller: &str,
    roots: &mut HashMap<String, bool>,
) -> Result<Vec<UnitReceipt>, AppError> {
    let mut units: Vec<UnitReceipt> = Vec::new();
    for ack in db.sync_acks(doc_id)? {
        if ack.device_id == caller {
            continue;
        }
        // A state that does not decode acknowledges nothing.
        let mut heads: Vec<String> = State::decode(&ack.state)
            .map(|s| s.shared_heads.iter().map(|h| h.to_string()).collect())
            .unwrap_or_default();
        heads.sort();
        let entry = DeviceReceipt {
            device_id: ack.device_id,
            heads,
            at: ack.updated_at,
        };
        if let Some(last) = units.last_mut().filter(|u| u.unit == ack.unit) {
            match last.devices.iter_mut().find(|d| d.heads == entry.heads) {
                // The same state again: keep the latest acknowledgement only.
                Some(same) if same.at < entry.at => *same = entry,
                Some(_) => {}
                None => last.devices.push(entry),
            }
            continue;
        }
        let root = match roots.get(&ack.unit) {
            Some(r) => *r,
            None => {
                let r = db.unit_parent(&ack.unit)?.is_none();
                roots.insert(ack.unit.clone(), r);
                r
            }
        };
        units.push(UnitReceipt {
            unit: ack.unit,
            root,
            devices: vec![entry],
        });
    }
    Ok(units)
}
