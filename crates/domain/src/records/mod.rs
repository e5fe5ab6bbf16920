//! The record kinds of `design/product.md` and the [`Record`] sum type over them.
//!
//! Each kind is one struct that derives both serde (for the interchange format) and
//! autosurgeon (for its Automerge document). Free text is [`autosurgeon::Text`], merged
//! character by character; GPS tracks are compact encoded byte segments.

mod activity;
mod attachment;
mod exchange;
mod meeting;
mod patrol;
mod plan;
pub(crate) mod serde_text;
pub use serde_text::decode_segments as track_points;
mod status;
mod unit;

pub use activity::CommunityActivity;
pub use attachment::{clean_name as clean_attachment_name, AttachmentRef, MAX_NAME_BYTES};
pub use exchange::{Acknowledgement, InfoExchange};
pub use meeting::ReviewMeeting;
pub use patrol::{Incident, Inspection, LatLon, Patrol, Violation};
pub use plan::{Plan, PlanItem, PlanSection};
pub use status::PlanStatus;
pub use unit::{Unit, UnitKind};

use serde::{Deserialize, Serialize};

/// Where in a record a file hangs: on the record itself, or on one of a patrol's inspections or
/// violations (numbered from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "on", content = "index", rename_all = "snake_case")]
pub enum AttachPlace {
    /// The record itself.
    Record,
    /// A patrol's inspection.
    Inspection(usize),
    /// A patrol's violation.
    Violation(usize),
}

impl AttachPlace {
    /// The field path of the list, e.g. `violations[1].attachments`.
    pub fn field(self) -> String {
        match self {
            AttachPlace::Record => "attachments".into(),
            AttachPlace::Inspection(i) => format!("vessels_inspected[{i}].attachments"),
            AttachPlace::Violation(i) => format!("violations[{i}].attachments"),
        }
    }
}

/// Why a file cannot hang at a place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachPlaceError {
    /// The record kind takes no files there.
    #[error("a {} record takes no files at {}", .0.as_str(), .1.field())]
    NotHere(RecordKind, AttachPlace),
    /// The patrol has fewer inspections or violations.
    #[error("the patrol has no {} (it has {})", .0.field().trim_end_matches(".attachments"), .1)]
    NoSuchEntry(AttachPlace, usize),
}

/// The kind of a record; also the `type` field of the interchange format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// An organisational unit.
    Unit,
    /// A sea patrol.
    Patrol,
    /// A coordination plan.
    Plan,
    /// One item of a coordination plan.
    PlanItem,
    /// An information exchange between units.
    InfoExchange,
    /// A community (dân vận) activity.
    CommunityActivity,
    /// A review meeting.
    ReviewMeeting,
}

impl RecordKind {
    /// Every kind, in display order.
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Unit,
        RecordKind::Patrol,
        RecordKind::Plan,
        RecordKind::PlanItem,
        RecordKind::InfoExchange,
        RecordKind::CommunityActivity,
        RecordKind::ReviewMeeting,
    ];

    /// The interchange `type` name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Unit => "unit",
            RecordKind::Patrol => "patrol",
            RecordKind::Plan => "plan",
            RecordKind::PlanItem => "plan_item",
            RecordKind::InfoExchange => "info_exchange",
            RecordKind::CommunityActivity => "community_activity",
            RecordKind::ReviewMeeting => "review_meeting",
        }
    }

    /// Parses an interchange `type` name.
    pub fn parse(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any record. Serialises with a `type` tag, exactly as one interchange line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Record {
    Unit(Unit),
    Patrol(Patrol),
    Plan(Plan),
    PlanItem(PlanItem),
    InfoExchange(InfoExchange),
    CommunityActivity(CommunityActivity),
    ReviewMeeting(ReviewMeeting),
}

/// Calls `$body` with `$r` bound to the inner struct, whatever the kind.
macro_rules! with_inner {
    ($rec:expr, $r:ident => $body:expr) => {
        match $rec {
            Record::Unit($r) => $body,
            Record::Patrol($r) => $body,
            Record::Plan($r) => $body,
            Record::PlanItem($r) => $body,
            Record::InfoExchange($r) => $body,
            Record::CommunityActivity($r) => $body,
            Record::ReviewMeeting($r) => $body,
        }
    };
}
pub(crate) use with_inner;

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Unit(_) => RecordKind::Unit,
            Record::Patrol(_) => RecordKind::Patrol,
            Record::Plan(_) => RecordKind::Plan,
            Record::PlanItem(_) => RecordKind::PlanItem,
            Record::InfoExchange(_) => RecordKind::InfoExchange,
            Record::CommunityActivity(_) => RecordKind::CommunityActivity,
            Record::ReviewMeeting(_) => RecordKind::ReviewMeeting,
        }
    }

    /// The record's stable id.
    pub fn id(&self) -> &str {
        with_inner!(self, r => &r.id)
    }

    /// The unit that owns the record (station, sender, lead unit…); for a unit, its own name.
    pub fn owner_unit(&self) -> &str {
        match self {
            Record::Unit(r) => &r.name,
            Record::Patrol(r) => &r.station,
            Record::Plan(r) => r.parties.first().map(String::as_str).unwrap_or(""),
            Record::PlanItem(r) => &r.responsible_unit,
            Record::InfoExchange(r) => &r.from_unit,
            Record::CommunityActivity(r) => &r.station,
            Record::ReviewMeeting(r) => r.units.first().map(String::as_str).unwrap_or(""),
        }
    }

    /// The record's main date as `YYYY-MM-DD` (start day, sent day, deadline…), if it has one.
    pub fn date(&self) -> Option<String> {
        let day = |s: &str| s.get(..10).map(str::to_string);
        match self {
            Record::Unit(_) => None,
            Record::Patrol(r) => day(&r.start),
            Record::Plan(r) => day(&r.period_from),
            Record::PlanItem(r) => r.deadline.as_deref().and_then(day),
            Record::InfoExchange(r) => day(&r.sent_at),
            Record::CommunityActivity(r) => day(&r.date),
            Record::ReviewMeeting(r) => day(&r.date),
        }
    }

    /// A one-line title for lists.
    pub fn title(&self) -> String {
        match self {
            Record::Unit(r) => r.name.clone(),
            Record::Patrol(r) => match &r.sea_area {
                Some(area) if !area.is_empty() => format!("{} — {}", r.station, area),
                _ => r.station.clone(),
            },
            Record::Plan(r) => r.title.clone(),
            Record::PlanItem(r) => r.title.clone(),
            Record::InfoExchange(r) => r.subject.clone(),
            Record::CommunityActivity(r) => format!("{} — {}", r.kind, r.location),
            Record::ReviewMeeting(r) => format!("{} — {}", r.date, r.location),
        }
    }

    /// Every file the record refers to, with where it hangs.
    pub fn attachments(&self) -> Vec<(AttachPlace, &AttachmentRef)> {
        let mut out = Vec::new();
        match self {
            Record::Patrol(p) => {
                out.extend(p.attachments.iter().map(|a| (AttachPlace::Record, a)));
                for (i, v) in p.vessels_inspected.iter().enumerate() {
                    out.extend(
                        v.attachments
                            .iter()
                            .map(|a| (AttachPlace::Inspection(i), a)),
                    );
                }
                for (i, v) in p.violations.iter().enumerate() {
                    out.extend(v.attachments.iter().map(|a| (AttachPlace::Violation(i), a)));
                }
            }
            Record::InfoExchange(x) => {
                out.extend(x.attachments.iter().map(|a| (AttachPlace::Record, a)))
            }
            Record::CommunityActivity(r) => {
                out.extend(r.attachments.iter().map(|a| (AttachPlace::Record, a)))
            }
            _ => {}
        }
        out
    }

    /// The list of attachments at `place`, or why there is none: the kind takes no files, or
    /// the patrol has no inspection or violation with that number.
    pub fn attachments_mut(
        &mut self,
        place: AttachPlace,
    ) -> Result<&mut Vec<AttachmentRef>, AttachPlaceError> {
        let kind = self.kind();
        match (self, place) {
            (Record::Patrol(p), AttachPlace::Record) => Ok(&mut p.attachments),
            (Record::Patrol(p), AttachPlace::Inspection(i)) => {
                let n = p.vessels_inspected.len();
                p.vessels_inspected
                    .get_mut(i)
                    .map(|v| &mut v.attachments)
                    .ok_or(AttachPlaceError::NoSuchEntry(place, n))
            }
            (Record::Patrol(p), AttachPlace::Violation(i)) => {
                let n = p.violations.len();
                p.violations
                    .get_mut(i)
                    .map(|v| &mut v.attachments)
                    .ok_or(AttachPlaceError::NoSuchEntry(place, n))
            }
            (Record::InfoExchange(x), AttachPlace::Record) => Ok(&mut x.attachments),
            (Record::CommunityActivity(a), AttachPlace::Record) => Ok(&mut a.attachments),
            _ => Err(AttachPlaceError::NotHere(kind, place)),
        }
    }

    /// Every unit name the record refers to (for unknown-unit checks and access rules).
    pub fn referenced_units(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        match self {
            Record::Unit(r) => {
                if let Some(p) = &r.parent {
                    out.push(("parent", p));
                }
            }
            Record::Patrol(r) => out.push(("station", &r.station)),
            Record::Plan(r) => out.extend(r.parties.iter().map(|u| ("parties", u.as_str()))),
            Record::PlanItem(r) => {
                out.push(("responsible_unit", &r.responsible_unit));
                out.extend(
                    r.supporting_units
                        .iter()
                        .map(|u| ("supporting_units", u.as_str())),
                );
            }
            Record::InfoExchange(r) => {
                out.push(("from_unit", &r.from_unit));
                out.extend(r.to_units.iter().map(|u| ("to_units", u.as_str())));
            }
            Record::CommunityActivity(r) => out.push(("station", &r.station)),
            Record::ReviewMeeting(r) => out.extend(r.units.iter().map(|u| ("units", u.as_str()))),
        }
        out
    }

    /// All searchable text of the record, joined (not yet folded).
    pub fn search_text(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut out = String::new();
        collect_strings(&value, &mut out);
        out
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "route")
            .for_each(|(_, i)| collect_strings(i, out)),
        _ => {}
    }
}
