//! The JSON Lines interchange format v1 (`design/interchange-format.md`): one record per line.
//!
//! Parsing reports problems per line with the field at fault; unknown fields are collected so
//! the caller can warn once about each.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::records::{Record, RecordKind};

/// Why a line could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct LineError {
    /// The record id, when the line got far enough to have one.
    pub id: Option<String>,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// A line read as a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The record.
    pub record: Record,
    /// Fields present in the line that the format does not know (kept nowhere).
    pub unknown_fields: Vec<String>,
}

/// Reads one line.
pub fn parse_line(text: &str) -> Result<Parsed, LineError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LineError {
        id: None,
        reason: format!("not valid JSON: {e}"),
    })?;
    let Value::Object(mut map) = value else {
        return Err(LineError {
            id: None,
            reason: "a line must be a JSON object".into(),
        });
    };
    let id = map.get("id").and_then(Value::as_str).map(str::to_string);
    let fail = |reason: String| LineError {
        id: id.clone(),
        reason,
    };
    let kind = match map.remove("type") {
        Some(Value::String(t)) => RecordKind::parse(&t).ok_or_else(|| {
            fail(format!(
                "unknown type `{t}`; expected one of: {}",
                RecordKind::ALL.map(RecordKind::as_str).join(", ")
            ))
        })?,
        Some(_) => return Err(fail("`type` must be a string".into())),
        None => return Err(fail("missing field `type`".into())),
    };
    if id.is_none() {
        return Err(fail(match map.get("id") {
            Some(_) => "`id` must be a string".into(),
            None => "missing field `id`".into(),
        }));
    }
    let value = Value::Object(map);
    let mut unknown = Vec::new();
    let record = match kind {
        RecordKind::Unit => Record::Unit(typed(value, &mut unknown).map_err(fail)?),
        RecordKind::Patrol => Record::Patrol(typed(value, &mut unknown).map_err(fail)?),
        RecordKind::Plan => Record::Plan(typed(value, &mut unknown).map_err(fail)?),
        RecordKind::PlanItem => Record::PlanItem(typed(value, &mut unknown).map_err(fail)?),
        RecordKind::InfoExchange => Record::InfoExchange(typed(value, &mut unknown).map_err(fail)?),
        RecordKind::CommunityActivity => {
            Record::CommunityActivity(typed(value, &mut unknown).map_err(fail)?)
        }
        RecordKind::ReviewMeeting => {
            Record::ReviewMeeting(typed(value, &mut unknown).map_err(fail)?)
        }
    };
    Ok(Parsed {
        record,
        unknown_fields: unknown,
    })
}

fn typed<T: DeserializeOwned>(value: Value, unknown: &mut Vec<String>) -> Result<T, String> {
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(value, &mut note);
    serde_path_to_error::deserialize(ignoring).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || inner.contains("missing field") {
            inner
        } else {
            format!("field `{path}`: {inner}")
        }
    })
}

/// Writes one record as one line (no trailing newline).
pub fn to_line(record: &Record) -> String {
    serde_json::to_string(record).unwrap_or_default()
}
