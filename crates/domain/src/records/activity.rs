//! Community activity (dân vận): legal-awareness sessions, medical visits, support to households.

use autosurgeon::{Hydrate, Reconcile, Text};
use serde::{Deserialize, Serialize};

use super::AttachmentRef;

use super::serde_text::{self, text_is_empty};

/// A community activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct CommunityActivity {
    /// Stable record id.
    pub id: String,
    /// Organising station or unit.
    pub station: String,
    /// Day, `YYYY-MM-DD`.
    pub date: String,
    /// Kind (Tuyên truyền pháp luật, Khám chữa bệnh…).
    pub kind: String,
    /// Place (commune, hamlet).
    #[serde(default)]
    pub location: String,
    /// People reached.
    #[serde(default)]
    pub participants: u32,
    /// Officers taking part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub officers: Vec<String>,
    /// Other participating units.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participating_units: Vec<String>,
    /// Description, merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub description: Text,
    /// Attached photos and files, by content address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<AttachmentRef>,
}
