//! Delivery receipts of one record: saved on this device → at the relay → received by HQ.

use automerge::ChangeHash;
use serde::Serialize;
use tidemark_domain::document::RecordDoc;
use tidemark_store::{heads_key, split_heads, ReceiptRow};

use crate::records::heads_of;
use crate::{Client, ClientError};

/// How far a record's current state has travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStage {
    /// Only on this device (durably saved).
    SavedHere,
    /// The relay holds it.
    AtRelay,
    /// A device of HQ holds it.
    ReceivedByHq,
}

impl DeliveryStage {
    /// Words for the stage.
    pub fn label(self, lang: tidemark_domain::Lang) -> &'static str {
        use tidemark_domain::Lang::*;
        match (self, lang) {
            (DeliveryStage::SavedHere, Vi) => "đã lưu trên máy này",
            (DeliveryStage::SavedHere, En) => "saved on this device",
            (DeliveryStage::AtRelay, Vi) => "đã tới máy chủ trung chuyển",
            (DeliveryStage::AtRelay, En) => "at the relay",
            (DeliveryStage::ReceivedByHq, Vi) => "Bộ Chỉ huy đã nhận",
            (DeliveryStage::ReceivedByHq, En) => "received by HQ",
        }
    }
}

/// One unit known to hold some state of the record.
#[derive(Debug, Clone, Serialize)]
pub struct UnitDelivery {
    /// The unit.
    pub unit: String,
    /// `relay` or `bundle`.
    pub via: String,
    /// Whether it is HQ.
    pub hq: bool,
    /// Whether it holds the record's current state (not only an older one).
    pub current: bool,
    /// When this was learned.
    pub at: i64,
}

/// Delivery state of a record.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The furthest stage the current state has reached.
    pub stage: DeliveryStage,
    /// Whether this device is enrolled with a relay at all.
    pub enrolled: bool,
    /// Units known to hold it.
    pub units: Vec<UnitDelivery>,
}

fn hashes(key: &str) -> Vec<ChangeHash> {
    split_heads(key)
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect()
}

impl Client {
    /// Where the current state of record `id` has got to.
    pub fn delivery(&self, id: &str) -> Result<Delivery, ClientError> {
        let bytes = self
            .store()
            .load_doc(id)?
            .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
        let mut doc = RecordDoc::load(&bytes, &self.identity().actor)?;
        let ours = doc.heads();
        let cfg = self.relay_config()?;
        let mut stage = DeliveryStage::SavedHere;
        if let Some(cfg) = &cfg {
            if let Some(row) = self.store().sync_row(cfg.key(), id)? {
                if !row.shared_heads.is_empty() && doc.covers(&hashes(&row.shared_heads), &ours) {
                    stage = DeliveryStage::AtRelay;
                }
            }
        }
        let hq = self.hq_unit()?;
        let mut units = Vec::new();
        for r in self.store().receipts(id)? {
            let current = doc.covers(&hashes(&r.heads), &ours);
            let is_hq = r.root || hq.as_deref() == Some(r.unit.as_str());
            if is_hq && current {
                stage = DeliveryStage::ReceivedByHq;
            }
            units.push(UnitDelivery {
                unit: r.unit,
                via: r.via,
                hq: is_hq,
                current,
                at: r.at,
            });
        }
        Ok(Delivery {
            stage,
            enrolled: cfg.is_some(),
            units,
        })
    }
}

/// Records which units hold the current state of the documents in `answer`; returns how many
/// receipts it learned.
pub(super) fn apply_receipts(
    tx: &tidemark_store::Tx<'_>,
    answer: &[super::http::DocReceipts],
    actor: &automerge::ActorId,
    own_device: &str,
    now: i64,
) -> Result<usize, super::SyncError> {
    let mut learned = 0;
    for doc in answer {
        let Some(bytes) = tx.load_doc(&doc.id)? else {
            continue;
        };
        let Ok(mut d) = RecordDoc::load(&bytes, actor) else {
            continue;
        };
        let ours = d.heads();
        let ours_key = heads_of(&mut d);
        for unit in &doc.units {
            let mut best: Option<String> = None;
            for dev in &unit.devices {
                if dev.device_id == own_device {
                    continue;
                }
                let theirs: Vec<ChangeHash> =
                    dev.heads.iter().filter_map(|h| h.parse().ok()).collect();
                if d.covers(&theirs, &ours) {
                    best = Some(ours_key.clone());
                    break;
                }
                best.get_or_insert_with(|| heads_key(&dev.heads));
            }
            let Some(heads) = best else { continue };
            tx.put_receipt(
                &doc.id,
                &ReceiptRow {
                    unit: unit.unit.clone(),
                    via: "relay".into(),
                    root: unit.root,
                    heads,
                    at: now,
                },
            )?;
            learned += 1;
        }
    }
    Ok(learned)
}
