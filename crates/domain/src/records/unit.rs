//! Organisational units: HQ, its stations, the Party committees and partner forces.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// A unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Unit {
    /// Stable record id, e.g. `unit:TT`.
    pub id: String,
    /// Full name, e.g. `Đồn Biên phòng Tân Thành`.
    pub name: String,
    /// Short code, e.g. `TT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Kind of unit.
    #[serde(default)]
    pub kind: UnitKind,
    /// Name of the parent unit (HQ above its stations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Kinds of unit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Provincial Border Guard command.
    Hq,
    /// A Party committee.
    PartyCommittee,
    /// A border station.
    #[default]
    Station,
    /// A district Party committee.
    DistrictCommittee,
    /// Partner force (police, local military).
    Partner,
}
