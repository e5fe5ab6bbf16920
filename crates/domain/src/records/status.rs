//! Plan item status, accepting the interchange codes and their Vietnamese labels.

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Status of a plan item. "Overdue" is not stored: it is derived from the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanStatus {
    /// mới
    #[default]
    New,
    /// đang thực hiện
    InProgress,
    /// hoàn thành
    Done,
    /// tạm hoãn
    Postponed,
    /// hủy
    Cancelled,
}

const TABLE: [(PlanStatus, &str, &str, &str); 5] = [
    (PlanStatus::New, "new", "mới", "new"),
    (
        PlanStatus::InProgress,
        "in_progress",
        "đang thực hiện",
        "in progress",
    ),
    (PlanStatus::Done, "done", "hoàn thành", "done"),
    (PlanStatus::Postponed, "postponed", "tạm hoãn", "postponed"),
    (PlanStatus::Cancelled, "cancelled", "hủy", "cancelled"),
];

impl PlanStatus {
    /// The interchange code (`in_progress`…).
    pub fn code(self) -> &'static str {
        TABLE
            .iter()
            .find(|t| t.0 == self)
            .map(|t| t.1)
            .unwrap_or("new")
    }

    /// The Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        TABLE
            .iter()
            .find(|t| t.0 == self)
            .map(|t| t.2)
            .unwrap_or("mới")
    }

    /// Parses a code or a Vietnamese label; case, spacing and diacritics are forgiven
    /// ("hủy", "huỷ", "huy" all mean cancelled).
    pub fn parse(s: &str) -> Option<PlanStatus> {
        let folded = crate::fold::fold_for_search(s.trim());
        TABLE
            .iter()
            .find(|t| folded == t.1 || folded == crate::fold::fold_for_search(t.2) || folded == t.3)
            .map(|t| t.0)
    }

    /// Every accepted spelling, for error messages.
    pub fn accepted() -> String {
        TABLE
            .iter()
            .map(|t| format!("{} ({})", t.1, t.2))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Serialize for PlanStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for PlanStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PlanStatus::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown status `{s}`; use one of {}",
                PlanStatus::accepted()
            ))
        })
    }
}

/// Stored in the document as its interchange code (`in_progress`), the same as on the wire.
impl Reconcile for PlanStatus {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.code())
    }
}

impl Hydrate for PlanStatus {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        PlanStatus::parse(s)
            .ok_or_else(|| HydrateError::unexpected("a plan status code", s.to_string()))
    }
}
