//! Organisational units: HQ, its stations, the Party committees and partner forces.

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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

impl UnitKind {
    const ALL: [(UnitKind, &'static str); 5] = [
        (UnitKind::Hq, "hq"),
        (UnitKind::PartyCommittee, "party_committee"),
        (UnitKind::Station, "station"),
        (UnitKind::DistrictCommittee, "district_committee"),
        (UnitKind::Partner, "partner"),
    ];

    /// The interchange code (`district_committee`…).
    pub fn code(self) -> &'static str {
        UnitKind::ALL
            .iter()
            .find(|k| k.0 == self)
            .map_or("station", |k| k.1)
    }
}

/// Stored in the document as its interchange code, the same as on the wire.
impl Reconcile for UnitKind {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.code())
    }
}

impl Hydrate for UnitKind {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        UnitKind::ALL
            .iter()
            .find(|k| k.1 == s)
            .map(|k| k.0)
            .ok_or_else(|| HydrateError::unexpected("a unit kind code", s.to_string()))
    }
}
