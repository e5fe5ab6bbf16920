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
                let mut write = |json: &str| -> Result<(), ClientError> {
                    out.write_all(json.as_bytes()).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                    n += 1;
                    if n.is_multiple_of(1000) {
                        progress(n);
                    }
                    Ok(())
                };
                for json in self.units_parents_first()? {
                    if kind.is_none() || kind == Some(RecordKind::Unit) {
                        write(&json)?;
                    }
                }
                // Plans before their items, so that the export imports in one pass.
                for k in RecordKind::ALL
                    .into_iter()
                    .filter(|k| *k != RecordKind::Unit)
                {
                    if kind.is_none() || kind == Some(k) {
                        self.store.for_each_json(Some(k), &mut write)?;
                    }
                }
            }
            ExportFormat::Csv => {
                let columns: Vec<&str> = match kind {
                    Some(k) => field_names(k).to_vec(),
                    None => SUMMARY_COLUMNS.to_vec(),
                };
                let mut w = csv::Writer::from_writer(out);
                let csv_err =
                    |e: csv::Error| ClientError::io("writing the export", std::io::Error::other(e));
                w.write_record(&columns).map_err(csv_err)?;
                self.store
                    .for_each_json(kind, |json| -> Result<(), ClientError> {
                        let value: serde_json::Value = serde_json::from_str(json)
                            .map_err(|e| ClientError::User(format!("unreadable index row: {e}")))?;
                        let cells: Vec<String> = if kind.is_some() {
                            columns.iter().map(|c| cell(value.get(*c))).collect()
                        } else {
                            summary(&value)
                        };
                        w.write_record(&cells).map_err(csv_err)?;
                        n += 1;
                        if n.is_multiple_of(1000) {
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

impl Client {
    /// Unit records ordered so that every parent comes before its children.
    fn units_parents_first(&self) -> Result<Vec<String>, ClientError> {
        let mut units: Vec<(String, Option<String>, String)> = Vec::new();
        self.store
            .for_each_json(Some(RecordKind::Unit), |json| -> Result<(), ClientError> {
                let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
                let name = v
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_string();
                let parent = v.get("parent").and_then(|p| p.as_str()).map(str::to_string);
                units.push((name, parent, json.to_string()));
                Ok(())
            })?;
        let parent_of: std::collections::HashMap<String, Option<String>> = units
            .iter()
            .map(|(n, p, _)| (n.clone(), p.clone()))
            .collect();
        let depth = |name: &str| {
            let mut d = 0;
            let mut cur = parent_of.get(name).cloned().flatten();
            while let Some(p) = cur {
                d += 1;
                if d > units.len() {
                    break; // a cycle: stop counting
                }
                cur = parent_of.get(&p).cloned().flatten();
            }
            d
        };
        let mut keyed: Vec<(usize, String)> = units
            .iter()
            .map(|(n, _, j)| (depth(n), j.clone()))
            .collect();
        keyed.sort_by_key(|(d, _)| *d);
        Ok(keyed.into_iter().map(|(_, j)| j).collect())
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
        Err(_) => vec![
            cell(v.get("type")),
            cell(v.get("id")),
            String::new(),
            String::new(),
            String::new(),
        ],
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
