//! Review meeting (hội nghị sơ kết / tổng kết).

use autosurgeon::{Hydrate, Reconcile, Text};
use serde::{Deserialize, Serialize};

use super::serde_text::{self, text_is_empty};

/// A review meeting over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ReviewMeeting {
    /// Stable record id.
    pub id: String,
    /// Day, `YYYY-MM-DD`.
    pub date: String,
    /// Place.
    #[serde(default)]
    pub location: String,
    /// Attending units.
    #[serde(default)]
    pub units: Vec<String>,
    /// First day of the period reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_from: Option<String>,
    /// Last day of the period reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_to: Option<String>,
    /// Conclusions, merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub conclusions: Text,
}
