//! Importing JSON Lines (`design/interchange-format.md`).
//!
//! Each line is read, parsed and validated on its own: a bad line is reported with its number
//! and reason and skipped, the rest are imported. Good records are written in batches, one
//! transaction each, so a large import neither syncs the disk per record nor holds everything
//! in one huge transaction. Importing the same ids again updates those records; a record whose
//! values did not change writes nothing.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use tidemark_domain::{fold_for_search, interchange, records::Record, validate::validate, Lang};

use crate::records::{upsert_in, WriteOutcome};
use crate::{Client, ClientError};

const BATCH: usize = 500;

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProblem {
    /// 1-based line number.
    pub line: usize,
    /// The record id, if the line had one.
    pub id: Option<String>,
    /// Why it was not imported.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: usize,
    /// Records created.
    pub created: usize,
    /// Records updated.
    pub updated: usize,
    /// Records already holding the same values.
    pub unchanged: usize,
    /// Lines not imported, with reasons.
    pub problems: Vec<LineProblem>,
    /// Lines imported with a remark (a unit already known under another id was updated).
    pub warnings: Vec<LineProblem>,
    /// Fields the format does not know (`patrol.foo`), each reported once and kept nowhere.
    pub unknown_fields: BTreeSet<String>,
}

/// Progress of a long import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Bytes read so far.
    pub bytes_done: u64,
    /// Records written so far.
    pub records_done: usize,
}

impl Client {
    /// Imports a JSON Lines file.
    pub fn import_file(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ClientError> {
        let file = std::fs::File::open(path)
            .map_err(|e| ClientError::io(format!("opening {}", path.display()), e))?;
        self.import_jsonl(std::io::BufReader::new(file), progress)
    }

    /// Imports JSON Lines from a reader.
    pub fn import_jsonl(
        &mut self,
        mut reader: impl BufRead,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ClientError> {
        let mut ctx = self.context()?;
        let mut unit_ids = self.store.unit_ids_by_name()?;
        let mut report = ImportReport::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
        let mut buf = Vec::new();
        let mut line_no = 0;
        let mut bytes_done = 0u64;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| ClientError::io(format!("reading line {}", line_no + 1), e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            bytes_done += n as u64;
            let problem = |reason: String, id: Option<String>| LineProblem {
                line: line_no,
                id,
                reason,
            };
            let Ok(text) = std::str::from_utf8(&buf) else {
                report
                    .problems
                    .push(problem("the line is not valid UTF-8".into(), None));
                continue;
            };
            let text = text.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            report.lines += 1;
            let parsed = match interchange::parse_line(text) {
                Ok(p) => p,
                Err(e) => {
                    report.problems.push(problem(e.reason, e.id));
                    continue;
                }
            };
            let record = parsed.record;
            let kind = record.kind();
            report.unknown_fields.extend(
                parsed
                    .unknown_fields
                    .into_iter()
                    .map(|f| format!("{kind}.{f}")),
            );
            let id = record.id().to_string();
            if let Some(first) = seen.get(&id) {
                report.problems.push(problem(
                    format!("duplicate id `{id}`: already on line {first} of this file; this line was not imported"),
                    Some(id),
                ));
                continue;
            }
            let messages = validate(&record, &ctx);
            if !messages.is_empty() {
                let reason = messages
                    .iter()
                    .map(|m| m.text(self.lang))
                    .collect::<Vec<_>>()
                    .join(" ");
                report.problems.push(problem(reason, Some(id)));
                continue;
            }
            // Units are known by name: a unit already stored under another id (for example the
            // device's own unit, created at `init`) is updated in place, not duplicated.
            let mut record = record;
            let mut id = id;
            if let Record::Unit(u) = &mut record {
                let key = fold_for_search(u.name.trim());
                match unit_ids.get(&key) {
                    Some(existing) if *existing != id => {
                        report.warnings.push(problem(
                            match self.lang {
                                Lang::Vi => format!("đơn vị “{}” đã có với mã `{existing}`; bản ghi đó được cập nhật", u.name),
                                Lang::En => format!("unit “{}” is already known as `{existing}`; that record was updated instead", u.name),
                            },
                            Some(id.clone()),
                        ));
                        u.id = existing.clone();
                        id = existing.clone();
                        if let Some(first) = seen.get(&id) {
                            report.problems.push(problem(
                                format!("unit “{}” already appeared on line {first} of this file; this line was not imported", u.name),
                                Some(id),
                            ));
                            continue;
                        }
                    }
                    _ => {
                        unit_ids.insert(key, id.clone());
                    }
                }
            }
            seen.insert(id, line_no);
            learn(&mut ctx, &record);
            batch.push(record);
            if batch.len() >= BATCH {
                self.write_batch(&mut batch, &mut report)?;
                progress(ImportProgress {
                    bytes_done,
                    records_done: report.created + report.updated + report.unchanged,
                });
            }
        }
        self.write_batch(&mut batch, &mut report)?;
        progress(ImportProgress {
            bytes_done,
            records_done: report.created + report.updated + report.unchanged,
        });
        tracing::info!(
            lines = report.lines,
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            problems = report.problems.len(),
            "import finished"
        );
        Ok(report)
    }

    fn write_batch(
        &mut self,
        batch: &mut Vec<Record>,
        report: &mut ImportReport,
    ) -> Result<(), ClientError> {
        if batch.is_empty() {
            return Ok(());
        }
        let meta = self.meta("import");
        let tx = self.store.begin()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for record in batch.iter() {
            outcomes.push(upsert_in(&tx, record, &self.identity, &meta)?);
        }
        tx.commit()?;
        for o in outcomes {
            match o {
                WriteOutcome::Created => report.created += 1,
                WriteOutcome::Updated => report.updated += 1,
                WriteOutcome::Unchanged => report.unchanged += 1,
            }
        }
        batch.clear();
        Ok(())
    }
}

/// Units and plans defined earlier in a file count for the lines after them.
fn learn(ctx: &mut tidemark_domain::validate::Context, record: &Record) {
    match record {
        Record::Unit(u) => {
            if let Some(units) = ctx.units.as_mut() {
                units.insert(fold_for_search(u.name.trim()));
                if let Some(code) = &u.code {
                    units.insert(fold_for_search(code.trim()));
                }
            }
        }
        Record::Plan(p) => {
            use tidemark_domain::validate::parse_date;
            if let (Some(f), Some(t)) = (parse_date(&p.period_from), parse_date(&p.period_to)) {
                ctx.plan_periods.insert(p.id.clone(), (f, t));
                ctx.current_plan = Some(p.id.clone());
            }
        }
        _ => {}
    }
}
