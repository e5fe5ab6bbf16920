//! Who owns a record at the relay and who takes part in it: what the relay needs to create
//! its document with the default grants of its kind, and what a bundle says about it.

use tidemark_domain::records::Record;

use super::http::NewDoc;
use super::SyncError;
use crate::Client;

/// Who owns a record at the relay and who else takes part in it.
#[derive(Debug, Clone)]
pub(crate) struct Sharing {
    /// The owning unit (a station for its patrols, the sender of an exchange…).
    pub owner: String,
    /// Recipients, plan parties, meeting units (never the owner).
    pub parties: Vec<String>,
}

/// The owner and parties of a record, with a plan item's plan's parties included.
pub(crate) fn sharing(c: &Client, record: &Record, own_unit: &str) -> Result<Sharing, SyncError> {
    let mut parties: Vec<String> = match record {
        Record::Plan(p) => p.parties.clone(),
        Record::PlanItem(p) => {
            let mut v = vec![p.responsible_unit.clone()];
            v.extend(p.supporting_units.iter().cloned());
            if let Some(plan) = &p.plan {
                if let Some(Record::Plan(plan)) = c
                    .store()
                    .record_json(plan)?
                    .and_then(|j| serde_json::from_str::<Record>(&j).ok())
                {
                    v.extend(plan.parties);
                }
            }
            v
        }
        Record::InfoExchange(e) => e.to_units.clone(),
        Record::ReviewMeeting(m) => m.units.clone(),
        _ => Vec::new(),
    };
    let mut owner = record.owner_unit().trim().to_string();
    if owner.is_empty() {
        owner = own_unit.to_string();
    }
    parties.retain(|p| !p.trim().is_empty() && *p != owner);
    parties.sort();
    parties.dedup();
    Ok(Sharing { owner, parties })
}

/// What the relay needs to create a document: owner, kind, parties and, when this device's
/// unit is not the owner, a write grant for it.
pub(crate) fn new_doc(c: &Client, id: &str, own_unit: &str) -> Result<Option<NewDoc>, SyncError> {
    let Some(json) = c.store().record_json(id)? else {
        return Ok(None);
    };
    let Ok(record) = serde_json::from_str::<Record>(&json) else {
        tracing::warn!(doc = id, "indexed record does not parse; not shared");
        return Ok(None);
    };
    let Sharing { owner, parties } = sharing(c, &record, own_unit)?;
    let grants = if owner == own_unit {
        Vec::new()
    } else {
        vec![serde_json::json!({"unit": own_unit, "access": "write"})]
    };
    Ok(Some(NewDoc {
        id: id.to_string(),
        owner_unit: owner,
        kind: record.kind().as_str().to_string(),
        parties,
        grants,
    }))
}
