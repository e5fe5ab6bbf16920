//! The bodies the relay's endpoints take and answer, as JSON: the feed, the session's ask and
//! answer, receipts, enrolment.

use serde::{Deserialize, Serialize};

/// One document in the relay's change feed.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedDoc {
    /// Document id.
    pub id: String,
    /// The relay's heads (hex).
    pub heads: Vec<String>,
}

/// One entry of the relay's signing-key directory.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyEntry {
    /// Hex actor id.
    pub actor: String,
    /// Hex Ed25519 public key.
    pub key: String,
    /// The device that registered it.
    pub device: String,
    /// That device's unit.
    pub unit: String,
}

/// One page of the change feed.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedPage {
    /// The relay's key directory, when it holds more keys than the device said it has.
    #[serde(default)]
    pub keys: Option<Vec<KeyEntry>>,
    /// Where the next page starts.
    pub cursor: i64,
    /// Whether another page is waiting.
    pub more: bool,
    /// The key-log position of the last key in `keys` (answers to a session request).
    #[serde(default)]
    pub key_cursor: Option<i64>,
    /// Documents changed after the requested cursor.
    pub documents: Vec<FeedDoc>,
}

/// A document to create at the relay.
#[derive(Debug, Clone, Serialize)]
pub struct NewDoc {
    /// Document id.
    pub id: String,
    /// The unit that owns it.
    pub owner_unit: String,
    /// Record kind (chooses the relay's default grants).
    pub kind: String,
    /// Recipients or plan parties.
    pub parties: Vec<String>,
    /// Explicit grants (`{"unit","access"}`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<serde_json::Value>,
}

/// The relay's answer for one created document.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateResult {
    /// Document id.
    pub id: String,
    /// `created`, `exists`, or an error code.
    pub code: String,
}

/// Per-item status of a sync round.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemStatus {
    /// Document id.
    pub doc_id: String,
    /// `ok` or an error code.
    pub code: String,
    /// Changes the relay accepted.
    #[serde(default)]
    pub accepted: usize,
}

/// What a session request asks for besides its sync messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionAsk {
    /// Read the feed after this point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<FeedAsk>,
    /// Documents to create before the messages run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub create: Vec<NewDoc>,
    /// Documents whose receipts to read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receipts: Vec<String>,
}

/// The feed part of a [`SessionAsk`].
#[derive(Debug, Clone, Serialize)]
pub struct FeedAsk {
    /// The cursor to read after.
    pub since: i64,
    /// The relay's key-log position of the last signing key the device holds from it.
    pub key_cursor: i64,
    /// Most bytes of offered messages the device wants in one answer.
    pub max_bytes: usize,
    /// Most feed rows to read (absent: the relay's page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

/// The relay's answer to a session request (its envelope comes beside it).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionAnswer {
    /// One status per sync message sent.
    pub items: Vec<ItemStatus>,
    /// One result per document asked to be created.
    #[serde(default)]
    pub created: Vec<CreateResult>,
    /// The feed page, when asked.
    #[serde(default)]
    pub feed: Option<FeedPage>,
    /// Receipts, when asked.
    #[serde(default)]
    pub receipts: Vec<DocReceipts>,
}

/// What the relay knows about which units hold which heads of one document.
#[derive(Debug, Clone, Deserialize)]
pub struct DocReceipts {
    /// Document id.
    pub id: String,
    /// Units with at least one device that synced the document.
    pub units: Vec<UnitReceipt>,
}

/// One unit's acknowledgements.
#[derive(Debug, Clone, Deserialize)]
pub struct UnitReceipt {
    /// Unit name.
    pub unit: String,
    /// Whether it is the top of the unit tree.
    #[serde(default)]
    pub root: bool,
    /// Its devices and the heads each acknowledged.
    pub devices: Vec<DeviceHeads>,
}

/// The heads one device acknowledged.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceHeads {
    /// Device id.
    pub device_id: String,
    /// Acknowledged heads (hex).
    pub heads: Vec<String>,
}

/// The relay's answer to enrolment.
#[derive(Debug, Clone, Deserialize)]
pub struct EnrollAnswer {
    /// The device id the relay gave this device.
    pub device_id: String,
    /// The bearer token (secret).
    pub token: String,
    /// The relay's name for this device's unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// The top of the unit tree (HQ).
    #[serde(default)]
    pub root_unit: Option<String>,
}
