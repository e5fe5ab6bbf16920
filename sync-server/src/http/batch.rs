//! Endpoints over many documents at once: `POST /v1/documents/batch` (create up to 1000 in
//! one transaction) and `POST /v1/receipts` (which devices of which units hold which heads).

use std::collections::HashMap;

use automerge::sync::State;
use automerge::ChangeHash;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::handlers::CreateDocument;
use super::{body, AppState, Authed};
use crate::db::{Access, Db, Device, NewDocument, SyncAck};
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
    // Each acknowledging device's unit (`None`: a device the relay does not know), looked up
    // the first time it appears: the devices that acknowledge these documents, not every
    // device enrolled.
    let mut units_of: HashMap<String, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for id in ids {
        let Some(meta) = db.doc_meta(&id)? else {
            continue;
        };
        if db.access(&device.unit, &meta)? == Access::None {
            continue;
        }
        let acks = db.sync_acks(&id)?;
        for ack in acks.iter() {
            if !units_of.contains_key(&ack.device_id) {
                let unit = db.device_unit(&ack.device_id)?;
                units_of.insert(ack.device_id.clone(), unit);
            }
        }
        let mut units = Vec::new();
        for (unit, devices) in by_unit(&acks, &units_of, &device.id) {
            let root = match roots.get(&unit) {
                Some(r) => *r,
                None => {
                    let r = db.unit_parent(&unit)?.is_none();
                    roots.insert(unit.clone(), r);
                    r
                }
            };
            units.push(UnitReceipt {
                unit,
                root,
                devices,
            });
        }
        out.push(DocReceipt { id, units });
    }
    Ok(out)
}

/// One device's acknowledgement, its heads still binary (sorted) until it is kept.
struct Acknowledged {
    device_id: String,
    heads: Vec<ChangeHash>,
    at: Option<i64>,
}

/// The acknowledgements of one document by devices other than `caller`, grouped by unit (in
/// unit order, each unit's devices in id order): one entry per distinct set of heads in a unit,
/// from the device that acknowledged it last. A device whose unit is unknown is left out.
fn by_unit(
    acks: &[SyncAck],
    units_of: &HashMap<String, Option<String>>,
    caller: &str,
) -> Vec<(String, Vec<DeviceReceipt>)> {
    let mut acks: Vec<(&str, &SyncAck)> = acks
        .iter()
        .filter(|a| a.device_id != caller)
        .filter_map(|a| Some((units_of.get(&a.device_id)?.as_deref()?, a)))
        .collect();
    acks.sort_by(|(u1, a1), (u2, a2)| u1.cmp(u2).then_with(|| a1.device_id.cmp(&a2.device_id)));
    let mut units: Vec<(&str, Vec<Acknowledged>)> = Vec::new();
    for (unit, ack) in acks {
        // A state that does not decode acknowledges nothing.
        let mut heads = State::decode(&ack.state)
            .map(|s| s.shared_heads)
            .unwrap_or_default();
        heads.sort();
        let entry = Acknowledged {
            device_id: ack.device_id.clone(),
            heads,
            at: ack.updated_at,
        };
        match units.last_mut().filter(|(u, _)| *u == unit) {
            Some((_, devices)) => match devices.iter_mut().find(|d| d.heads == entry.heads) {
                // The same state again: keep the latest acknowledgement only.
                Some(same) if same.at < entry.at => *same = entry,
                Some(_) => {}
                None => devices.push(entry),
            },
            None => units.push((unit, vec![entry])),
        }
    }
    // Hex only for what is sent (sorted bytes are sorted hex).
    units
        .into_iter()
        .map(|(unit, devices)| {
            let devices = devices
                .into_iter()
                .map(|d| DeviceReceipt {
                    device_id: d.device_id,
                    heads: d.heads.iter().map(ToString::to_string).collect(),
                    at: d.at,
                })
                .collect();
            (unit.to_string(), devices)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn state(heads: &[u8]) -> Vec<u8> {
        let mut s = State::new();
        s.shared_heads = heads.iter().map(|&b| ChangeHash([b; 32])).collect();
        s.encode()
    }

    fn ack(device: &str, heads: &[u8], at: i64) -> SyncAck {
        SyncAck {
            device_id: device.into(),
            state: state(heads),
            updated_at: Some(at),
        }
    }

    #[test]
    fn acknowledgements_group_by_unit_one_entry_per_distinct_heads_the_latest_kept() {
        let units_of: HashMap<String, Option<String>> = [
            ("hq-1", "HQ"),
            ("tt-1", "Đồn Tân Thành"),
            ("tt-2", "Đồn Tân Thành"),
            ("tt-3", "Đồn Tân Thành"),
            ("tt-me", "Đồn Tân Thành"),
        ]
        .into_iter()
        .map(|(d, u)| (d.to_string(), Some(u.to_string())))
        .collect();
        let acks = vec![
            // Read by device id, as the database gives them; a device of no known unit and the
            // caller itself are left out.
            ack("hq-1", &[0x01, 0xab], 50),
            ack("stranger", &[0x01], 60),
            ack("tt-1", &[0x01], 10),
            ack("tt-2", &[0x02], 20),
            ack("tt-3", &[0x01], 30),
            ack("tt-me", &[0x03], 40),
            SyncAck {
                device_id: "tt-2".into(),
                state: b"not a state".to_vec(),
                updated_at: None,
            },
        ];
        let grouped = by_unit(&acks, &units_of, "tt-me");
        let hex = |b: u8| format!("{b:02x}").repeat(32);
        let units: Vec<&str> = grouped.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(units, ["HQ", "Đồn Tân Thành"], "in unit order");
        // Heads in order, as hex.
        assert_eq!(grouped[0].1[0].heads, [hex(0x01), hex(0xab)]);
        let station: Vec<(&str, Vec<String>, Option<i64>)> = grouped[1]
            .1
            .iter()
            .map(|d| (d.device_id.as_str(), d.heads.clone(), d.at))
            .collect();
        assert_eq!(
            station,
            [
                // tt-1 and tt-3 acknowledged the same heads: the later one stands for both.
                ("tt-3", vec![hex(0x01)], Some(30)),
                ("tt-2", vec![hex(0x02)], Some(20)),
                // A state that does not decode acknowledges nothing.
                ("tt-2", vec![], None),
            ]
        );
    }
}
