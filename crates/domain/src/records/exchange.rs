//! Information exchange (trao đổi thông tin) with an acknowledgement per recipient.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};
use serde::{Deserialize, Serialize};

use super::AttachmentRef;

use super::serde_text::{self, text_is_empty};

/// A message from one unit to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct InfoExchange {
    /// Stable record id.
    pub id: String,
    /// Sending unit.
    pub from_unit: String,
    /// Recipient units.
    #[serde(default)]
    pub to_units: Vec<String>,
    /// When sent, ISO-8601 with offset.
    pub sent_at: String,
    /// Subject.
    pub subject: String,
    /// Body, merged character by character.
    #[serde(
        default,
        with = "serde_text::text",
        skip_serializing_if = "text_is_empty"
    )]
    pub body: Text,
    /// Classification (thường, mật…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    /// Acknowledgements keyed by recipient unit; concurrent acknowledgements by different
    /// recipients touch different keys and never conflict.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub acknowledgements: BTreeMap<String, Acknowledgement>,
    /// Attached photos and files, by content address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<AttachmentRef>,
}

/// A recipient's acknowledgement (đã nhận).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Acknowledgement {
    /// When, ISO-8601 with offset.
    pub at: String,
    /// Who acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}
