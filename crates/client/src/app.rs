//! Reads and writes the desktop app needs beyond the CLI's: a patrol's decoded track, an
//! exchange acknowledgement, the HQ dashboard, the unit list, remembered preferences.

use serde::Serialize;
use tidemark_domain::records::{track_points, Acknowledgement, Record, RecordKind};
use tidemark_store::ListFilter;

use crate::sync::DeliveryStage;
use crate::{Client, ClientError, WriteOutcome};

/// A unit as the app lists it.
#[derive(Debug, Clone, Serialize)]
pub struct UnitInfo {
    /// Record id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Short code.
    pub code: Option<String>,
    /// Kind code (`hq`, `station`, `district_committee`…).
    pub kind: String,
    /// Parent unit name.
    pub parent: Option<String>,
}

/// Records by kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindCount {
    /// Record kind.
    pub kind: String,
    /// How many.
    pub count: usize,
}

/// A record row with its delivery stage.
#[derive(Debug, Clone, Serialize)]
pub struct StagedRow {
    /// The row.
    #[serde(flatten)]
    pub row: tidemark_store::RecordRow,
    /// How far it has travelled.
    pub stage: DeliveryStage,
}

/// One unit on the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct UnitSummary {
    /// Unit name.
    pub unit: String,
    /// Records in the filter.
    pub count: usize,
    /// Its latest records.
    pub latest: Vec<StagedRow>,
}

/// The HQ dashboard: counts and each unit's latest records.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Records by kind.
    pub counts: Vec<KindCount>,
    /// Per unit.
    pub units: Vec<UnitSummary>,
}

/// Latest records shown per unit.
const LATEST_PER_UNIT: usize = 5;

impl Client {
    /// The decoded GPS track of a patrol as (lat, lon, unix seconds); empty for other kinds.
    pub fn track(&self, id: &str) -> Result<Vec<(f64, f64, i64)>, ClientError> {
        let json = self
            .store()
            .record_json(id)?
            .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
        let record: Record = serde_json::from_str(&json)
            .map_err(|e| ClientError::User(format!("record {id} does not read back: {e}")))?;
        Ok(match record {
            Record::Patrol(p) => track_points(&p.track)
                .0
                .into_iter()
                .map(|p| (p.lat, p.lon, p.time))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Acknowledges an information exchange for this device's unit (đã nhận).
    pub fn acknowledge(&mut self, id: &str) -> Result<WriteOutcome, ClientError> {
        let unit = self.identity().unit.clone();
        let user = self.identity().user.clone();
        let meta = self.meta("acknowledge");
        let at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        self.mutate(id, true, |doc| {
            let Record::InfoExchange(mut x) = doc.read()? else {
                return Err(ClientError::User(format!(
                    "{id} is not an information exchange"
                )));
            };
            if !x.to_units.iter().any(|u| u == &unit) {
                return Err(ClientError::User(format!(
                    "“{unit}” is not a recipient of {id}"
                )));
            }
            if x.acknowledgements.contains_key(&unit) {
                return Ok(());
            }
            x.acknowledgements
                .insert(unit.clone(), Acknowledgement { at, by: Some(user) });
            doc.write(&Record::InfoExchange(x), &meta)?;
            Ok(())
        })
    }

    /// Every unit the store knows.
    pub fn units(&self) -> Result<Vec<UnitInfo>, ClientError> {
        let f = ListFilter {
            kind: Some(RecordKind::Unit),
            limit: 0,
            ..ListFilter::default()
        };
        let (rows, _) = self.store().list(&f)?;
        let mut out = Vec::new();
        for row in rows {
            let Some(json) = self.store().record_json(&row.id)? else {
                continue;
            };
            if let Ok(Record::Unit(u)) = serde_json::from_str::<Record>(&json) {
                out.push(UnitInfo {
                    id: u.id,
                    name: u.name,
                    code: u.code,
                    kind: u.kind.code().to_string(),
                    parent: u.parent,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Counts by kind and each unit's latest records with their delivery stage, for records
    /// matching `filter` (its limit and offset are ignored).
    pub fn dashboard(&self, filter: &ListFilter) -> Result<Dashboard, ClientError> {
        let all = ListFilter {
            limit: 0,
            offset: 0,
            ..filter.clone()
        };
        let (rows, _) = self.store().list(&all)?;
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        let mut units: std::collections::BTreeMap<String, UnitSummary> = Default::default();
        for row in rows {
            if row.kind == "unit" {
                continue;
            }
            *counts.entry(row.kind.clone()).or_default() += 1;
            let entry = units
                .entry(row.unit.clone())
                .or_insert_with(|| UnitSummary {
                    unit: row.unit.clone(),
                    count: 0,
                    latest: Vec::new(),
                });
            entry.count += 1;
            // Rows come newest first.
            if entry.latest.len() < LATEST_PER_UNIT {
                let stage = self.delivery(&row.id)?.stage;
                entry.latest.push(StagedRow { row, stage });
            }
        }
        Ok(Dashboard {
            counts: counts
                .into_iter()
                .map(|(kind, count)| KindCount { kind, count })
                .collect(),
            units: units.into_values().collect(),
        })
    }

    /// A remembered preference (`ui.lang`…).
    pub fn pref(&self, key: &str) -> Result<Option<String>, ClientError> {
        Ok(self.store().meta(&format!("pref.{key}"))?)
    }

    /// Remembers a preference.
    pub fn set_pref(&mut self, key: &str, value: &str) -> Result<(), ClientError> {
        self.store_mut().set_meta(&format!("pref.{key}"), value)?;
        Ok(())
    }
}
