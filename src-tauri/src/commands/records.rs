//! The records: list, search, read, write, edit, history, conflicts, tracks and the
//! dashboard.

use serde::{Deserialize, Serialize};
use tauri::State;
use tidemark_client::sync::Delivery;
use tidemark_client::{Client, Dashboard, RecordView, UnitInfo, WriteOutcome};
use tidemark_domain::{conflicts::Conflict, interchange::parse_line, HistoryEntry};
use tidemark_store::{ListFilter, RecordRow};

use super::{with, CmdError, Res};
use crate::Shell;

/// `units`.
#[tauri::command(async)]
pub fn units(shell: State<'_, Shell>) -> Res<Vec<UnitInfo>> {
    with(&shell, |c| c.units())
}

/// Filters of `list_records` and `dashboard`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Query {
    kind: Option<String>,
    unit: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl Query {
    fn filter(self) -> Res<ListFilter> {
        let kind = match self.kind.filter(|k| !k.is_empty()) {
            Some(k) => Some(Client::parse_kind(&k)?),
            None => None,
        };
        Ok(ListFilter {
            kind,
            unit: self.unit.filter(|u| !u.is_empty()),
            from: self.from.filter(|d| !d.is_empty()),
            to: self.to.filter(|d| !d.is_empty()),
            limit: self.limit.unwrap_or(200),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// A page of rows.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    rows: Vec<RecordRow>,
    total: usize,
}

/// `list_records`.
#[tauri::command(async)]
pub fn list_records(shell: State<'_, Shell>, q: Option<Query>) -> Res<Page> {
    let f = q.unwrap_or_default().filter()?;
    with(&shell, |c| {
        let (rows, total) = c.store().list(&f)?;
        Ok(Page { rows, total })
    })
}

/// `search_records`: diacritic-insensitive full-text search.
#[tauri::command(async)]
pub fn search_records(
    shell: State<'_, Shell>,
    text: String,
    kind: Option<String>,
    limit: Option<usize>,
) -> Res<Vec<RecordRow>> {
    let kind = match kind.filter(|k| !k.is_empty()) {
        Some(k) => Some(Client::parse_kind(&k)?),
        None => None,
    };
    with(&shell, |c| {
        Ok(c.store().search(&text, kind, limit.unwrap_or(100))?)
    })
}

/// A record for its page.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPage {
    #[serde(flatten)]
    view: RecordView,
    delivery: Delivery,
    track: Vec<(f64, f64, i64)>,
}

/// `get_record`.
#[tauri::command(async)]
pub fn get_record(shell: State<'_, Shell>, id: String) -> Res<RecordPage> {
    with(&shell, |c| {
        Ok(RecordPage {
            view: c.show(&id)?,
            delivery: c.delivery(&id)?,
            track: c.track(&id)?,
        })
    })
}

/// `save_record`: validates and saves a record given in the interchange shape.
#[tauri::command(async)]
pub fn save_record(shell: State<'_, Shell>, record: serde_json::Value) -> Res<WriteOutcome> {
    let parsed = parse_line(&record.to_string()).map_err(|e| CmdError {
        kind: "invalid",
        message: e.reason.clone(),
        problems: None,
    })?;
    let out = with(&shell, |c| c.save(&parsed.record))?;
    shell.nudge();
    Ok(out)
}

fn raw(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `edit_field`.
#[tauri::command(async)]
pub fn edit_field(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    value: serde_json::Value,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.edit(&id, &field, &raw(&value)))?;
    shell.nudge();
    Ok(out)
}

/// `splice_text`: a character-position edit of a text field.
#[tauri::command(async)]
pub fn splice_text(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    pos: usize,
    delete: usize,
    text: String,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.splice(&id, &field, pos, delete, &text))?;
    shell.nudge();
    Ok(out)
}

/// `record_history`.
#[tauri::command(async)]
pub fn record_history(shell: State<'_, Shell>, id: String) -> Res<Vec<HistoryEntry>> {
    with(&shell, |c| c.history(&id))
}

/// One record's conflicts.
#[derive(Debug, Clone, Serialize)]
pub struct Conflicted {
    id: String,
    conflicts: Vec<Conflict>,
}

/// `list_conflicts`.
#[tauri::command(async)]
pub fn list_conflicts(shell: State<'_, Shell>) -> Res<Vec<Conflicted>> {
    with(&shell, |c| {
        Ok(c.conflicts()?
            .into_iter()
            .map(|(id, conflicts)| Conflicted { id, conflicts })
            .collect())
    })
}

/// `resolve_conflict`.
#[tauri::command(async)]
pub fn resolve_conflict(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    value: serde_json::Value,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.resolve(&id, &field, &raw(&value)))?;
    shell.nudge();
    Ok(out)
}

/// What a track import did.
#[derive(Debug, Clone, Serialize)]
pub struct TrackImported {
    points: usize,
    skipped: usize,
}

/// `import_track`: a GPX or NMEA file's text, read by the UI.
#[tauri::command(async)]
#[allow(non_snake_case)]
pub fn import_track(
    shell: State<'_, Shell>,
    id: String,
    fileName: String,
    text: String,
) -> Res<TrackImported> {
    let r = with(&shell, |c| c.import_track_text(&id, &fileName, &text))?;
    shell.nudge();
    Ok(TrackImported {
        points: r.points,
        skipped: r.skipped.len(),
    })
}

/// `acknowledge_exchange`.
#[tauri::command(async)]
pub fn acknowledge_exchange(shell: State<'_, Shell>, id: String) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.acknowledge(&id))?;
    shell.nudge();
    Ok(out)
}

/// `dashboard`.
#[tauri::command(async)]
pub fn dashboard(shell: State<'_, Shell>, q: Option<Query>) -> Res<Dashboard> {
    let f = q.unwrap_or_default().filter()?;
    with(&shell, |c| c.dashboard(&f))
}
