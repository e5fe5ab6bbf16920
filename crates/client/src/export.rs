//! Exporting JSON Lines (the interchange format) and CSV.

use std::io::Write;

use tidemark_domain::{document::field_names, records::RecordKind};

use crate::{Client, ClientError};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line; importable.
    Jsonl,
    /// Comma-separated values: one column per field for one kind, or a summary for all kinds.
    Csv,
}

const SUMMARY_COLUMNS: [&str; 5] = ["type", "id", "unit", "date", "title"];

impl Client {
    /// Writes every record (of `kind`, if given) to `out`; calls `progress` with the count
    /// written so far. Returns how many records were written.
    pub fn export(
        &self,
        format: ExportFormat,
        kind: Option<RecordKind>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize, ClientError> {
        let io = |e: std::io::Error| ClientError::io("writing the export", e);
        let mut n = 0usize;
        match format {
            ExportFormat::Jsonl => {
                self.store.for_each_json(kind, |json| -> Result<(), ClientError> {
                    out.write_all(json.as_bytes()).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                    n += 1;
                    if n % 1000 == 0 {
                        progress(n);
                    }
                    Ok(())
                })?;
            }
            ExportFormat::Csv => {
                let columns: Vec<&str> = match kind {
                    Some(k) => field_names(k).to_vec(),
                    None => SUMMARY_COLUMNS.to_vec(),
                };
                let mut w = csv::Writer::from_writer(out);
                let csv_err = |e: csv::Error| ClientError::io("writing the export", std::io::Error::other(e));
                w.write_record(&columns).map_err(csv_err)?;
                self.store.for_each_json(kind, |json| -> Result<(), ClientError> {
                    let value: serde_json::Value =
                        serde_json::from_str(json).map_err(|e| ClientError::User(format!("unreadable index row: {e}")))?;
                    let cells: Vec<String> = if kind.is_some() {
                        columns.iter().map(|c| cell(value.get(*c))).collect()
                    } else {
                        summary(&value)
                    };
                    w.write_record(&cells).map_err(csv_err)?;
                    n += 1;
                    if n % 1000 == 0 {
                        progress(n);
                    }
                    Ok(())
                })?;
                w.flush().map_err(io)?;
            }
        }
        progress(n);
        Ok(n)
    }
}

fn summary(v: &serde_json::Value) -> Vec<String> {
    let record: Result<tidemark_domain::Record, _> = serde_json::from_value(v.clone());
    match record {
        Ok(r) => vec![
            r.kind().as_str().to_string(),
            r.id().to_string(),
            r.owner_unit().to_string(),
            r.date().unwrap_or_default(),
            r.title(),
        ],
        Err(_) => vec![cell(v.get("type")), cell(v.get("id")), String::new(), String::new(), String::new()],
    }
}

/// One CSV cell: strings as they are, lists of strings joined with "; ", anything else as JSON.
fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) if items.iter().all(|i| i.is_string()) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
    }
}
