//! Patrol (tuần tra, kiểm soát): a station's sea patrol with crew, track, inspections and violations.

use autosurgeon::{bytes::ByteVec, Hydrate, Reconcile, Text};
use serde::{Deserialize, Serialize};

use super::AttachmentRef;

use super::serde_text::{self, text_is_empty};

/// A sea patrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Patrol {
    /// Stable record id, e.g. `patrol:TT:20250101:01`.
    pub id: String,
    /// Name of the border station that ran the patrol.
    pub station: String,
    /// Short code of the station (`TT`, `KP`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_code: Option<String>,
    /// Start, ISO-8601 with offset.
    pub start: String,
    /// End, ISO-8601 with offset; absent while the patrol is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Sea area patrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sea_area: Option<String>,
    /// Vessel used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vessel: Option<String>,
    /// Patrol commander.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    /// Crew members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crew: Vec<String>,
    /// Joint forces (police, local military, militia).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joint_forces: Vec<String>,
    /// GPS track as compact encoded segments (see [`crate::track::codec`]).
    #[serde(
        rename = "route",
        default,
        with = "serde_text::route",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track: Vec<ByteVec>,
    /// Vessels inspected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vessels_inspected: Vec<Inspection>,
    /// Violations found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// Incidents during the patrol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
    /// Free-text notes, merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub notes: Text,
    /// Attached photos and files, by content address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<AttachmentRef>,
}

/// An administrative inspection of a vessel (kiểm tra hành chính).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Inspection {
    /// Registration number, e.g. `TG-93096-TS`.
    pub registration: String,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Captain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captain: Option<String>,
    /// People aboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crew_count: Option<u32>,
    /// Catch aboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch: Option<String>,
    /// Where, as `[lat, lon]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LatLon>,
    /// Outcome of the inspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Attached photos and files, by content address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<AttachmentRef>,
}

/// A violation found on a patrol and the action taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Violation {
    /// Registration number of the vessel.
    pub registration: String,
    /// What was violated (IUU fishing, smuggling, missing papers…).
    pub violation: String,
    /// Action taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Fine in VND.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_vnd: Option<u64>,
    /// Attached photos and files, by content address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<AttachmentRef>,
}

/// Something that happened on a patrol (rescue, breakdown, weather…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Incident {
    /// When, ISO-8601 with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// What happened.
    pub description: String,
}

/// A position as `[lat, lon]` in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct LatLon(pub f64, pub f64);
