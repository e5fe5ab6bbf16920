//! Index tables materialised from records, updated in the same transaction as the chunk.
//!
//! Each record's rows are deleted and written again whole: records are small, and this keeps
//! one code path for create, edit and merge.

use rusqlite::params;
use tidemark_domain::{fold_for_search, records::Record, validate::parse_time};

use crate::{StoreError, Tx};

const PER_RECORD_TABLES: &[(&str, &str)] = &[
    ("patrols", "id"),
    ("inspections", "record_id"),
    ("violations", "record_id"),
    ("plans", "id"),
    ("plan_items", "id"),
    ("plan_item_units", "id"),
    ("exchanges", "id"),
    ("exchange_recipients", "id"),
    ("activities", "id"),
    ("units", "id"),
    ("record_attachments", "record_id"),
];

impl Tx<'_> {
    /// Writes the index rows of `record`, replacing any it had; `conflicts` is the number of
    /// its fields holding concurrent values.
    pub fn index_record(&self, record: &Record, conflicts: usize) -> Result<(), StoreError> {
        let id = record.id();
        self.unindex(id)?;
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let unit = record.owner_unit();
        self.tx
            .prepare_cached(
                "INSERT INTO records(id, kind, unit, unit_key, date, title, conflicts, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id,
                record.kind().as_str(),
                unit,
                fold_for_search(unit),
                record.date(),
                record.title(),
                conflicts as i64,
                json
            ])?;
        let rowid = self.tx.last_insert_rowid();
        let body = fold_for_search(&format!("{} {}", id, record.search_text()));
        self.fts.borrow_mut().push((rowid, body));
        self.index_attachments(record)?;
        self.index_kind(record)
    }

    /// Writes the full-text rows staged by [`Tx::index_record`], a few hundred per statement
    /// (one savepoint each, so FTS5 keeps them in memory and writes one segment at commit).
    pub(crate) fn flush_search_rows(&self) -> Result<(), StoreError> {
        const ROWS: usize = 400;
        let staged = std::mem::take(&mut *self.fts.borrow_mut());
        for batch in staged.chunks(ROWS) {
            let mut sql = String::from("INSERT INTO records_fts(rowid, body) VALUES ");
            for i in 0..batch.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2));
            }
            let mut stmt = self.tx.prepare_cached(&sql)?;
            let values: Vec<&dyn rusqlite::ToSql> = batch
                .iter()
                .flat_map(|(rowid, body)| [rowid as &dyn rusqlite::ToSql, body])
                .collect();
            stmt.execute(values.as_slice())?;
        }
        Ok(())
    }

    fn unindex(&self, id: &str) -> Result<(), StoreError> {
        use rusqlite::OptionalExtension;
        let rowid: Option<i64> = self
            .tx
            .prepare_cached("SELECT rowid FROM records WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(rowid) = rowid {
            let mut staged = self.fts.borrow_mut();
            let before = staged.len();
            staged.retain(|(r, _)| *r != rowid);
            if staged.len() == before {
                self.tx
                    .prepare_cached("DELETE FROM records_fts WHERE rowid = ?1")?
                    .execute([rowid])?;
            }
            drop(staged);
            self.tx
                .prepare_cached("DELETE FROM records WHERE rowid = ?1")?
                .execute([rowid])?;
        }
        for (table, col) in PER_RECORD_TABLES {
            let mut stmt = self
                .tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE {col} = ?1"))?;
            stmt.execute([id])?;
        }
        Ok(())
    }

    fn index_kind(&self, record: &Record) -> Result<(), StoreError> {
        let t = &self.tx;
        match record {
            Record::Unit(u) => {
                t.prepare_cached(
                    "INSERT INTO units(id, name, name_key, code_key, kind, parent) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(
                    params![
                        u.id,
                        u.name,
                        fold_for_search(u.name.trim()),
                        u.code.as_deref().map(|c| fold_for_search(c.trim())),
                        u.kind.code(),
                        u.parent
                    ],
                )?;
            }
            Record::Patrol(p) => {
                let ts = |s: &str| parse_time(s).map(|t| t.timestamp());
                t.prepare_cached(
                    "INSERT INTO patrols(id, station, start_ts, end_ts, joint) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                    params![
                        p.id,
                        fold_for_search(&p.station),
                        ts(&p.start),
                        p.end.as_deref().and_then(ts),
                        !p.joint_forces.is_empty()
                    ],
                )?;
                for (i, v) in p.vessels_inspected.iter().enumerate() {
                    t.prepare_cached(
                        "INSERT INTO inspections(record_id, idx, registration, owner, result) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                        params![p.id, i as i64, v.registration, v.owner, v.result],
                    )?;
                }
                for (i, v) in p.violations.iter().enumerate() {
                    t.prepare_cached(
                        "INSERT INTO violations(record_id, idx, registration, violation, action, fine_vnd)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(
                        params![p.id, i as i64, v.registration, v.violation, v.action, v.fine_vnd.map(|f| f as i64)],
                    )?;
                }
            }
            Record::Plan(p) => {
                t.prepare_cached(
                    "INSERT INTO plans(id, period_from, period_to) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![p.id, p.period_from, p.period_to])?;
            }
            Record::PlanItem(item) => {
                t.prepare_cached(
                    "INSERT INTO plan_items(id, plan, status, responsible_unit, deadline) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                    params![item.id, item.plan, item.status.code(), fold_for_search(&item.responsible_unit), item.deadline],
                )?;
                let lead = std::iter::once((&item.responsible_unit, "lead"));
                let support = item.supporting_units.iter().map(|u| (u, "supporting"));
                for (unit, role) in lead.chain(support) {
                    t.prepare_cached(
                        "INSERT OR IGNORE INTO plan_item_units(id, unit, role) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![item.id, fold_for_search(unit), role])?;
                }
            }
            Record::InfoExchange(x) => {
                t.prepare_cached(
                    "INSERT INTO exchanges(id, from_unit, sent_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![
                    x.id,
                    fold_for_search(&x.from_unit),
                    x.sent_at
                ])?;
                for unit in &x.to_units {
                    let acked = x
                        .acknowledgements
                        .iter()
                        .find(|(k, _)| fold_for_search(k) == fold_for_search(unit))
                        .map(|(_, a)| a.at.clone());
                    t.prepare_cached(
                        "INSERT OR IGNORE INTO exchange_recipients(id, unit, acked_at) VALUES (?1, ?2, ?3)")?.execute(
                        params![x.id, fold_for_search(unit), acked],
                    )?;
                }
            }
            Record::CommunityActivity(a) => {
                t.prepare_cached(
                    "INSERT INTO activities(id, station, date, kind, participants) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                    params![a.id, fold_for_search(&a.station), a.date, a.kind, a.participants],
                )?;
            }
            Record::ReviewMeeting(_) => {}
        }
        Ok(())
    }
}
