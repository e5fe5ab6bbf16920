//! Coordination plan (kế hoạch phối hợp) and its items, edited by several units at once.

use autosurgeon::{Hydrate, Reconcile, Text};
use serde::{Deserialize, Serialize};

use super::serde_text::{self, text_is_empty};
use super::PlanStatus;

/// A yearly coordination plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Plan {
    /// Stable record id, e.g. `plan:2023-2024`.
    pub id: String,
    /// Title.
    pub title: String,
    /// First day of the plan period, `YYYY-MM-DD`.
    pub period_from: String,
    /// Last day of the plan period, `YYYY-MM-DD`.
    pub period_to: String,
    /// Units party to the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// Sections of rich text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<PlanSection>,
}

/// One section of a plan's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct PlanSection {
    /// Heading.
    pub heading: String,
    /// Body, merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub body: Text,
}

/// One item of a coordination plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct PlanItem {
    /// Stable record id.
    pub id: String,
    /// Id of the plan; absent means the current plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Short title.
    pub title: String,
    /// Content (nội dung), merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub content: Text,
    /// Measures (biện pháp).
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub measures: Text,
    /// Lead unit (đơn vị chủ trì).
    pub responsible_unit: String,
    /// Supporting units (đơn vị phối hợp).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting_units: Vec<String>,
    /// Deadline, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: PlanStatus,
    /// Progress notes.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub progress_notes: Text,
}
