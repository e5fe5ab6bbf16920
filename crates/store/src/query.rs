//! Reading the index: lists with filters, full-text search, conflicts, units, plans.

use std::collections::HashSet;

use rusqlite::{params_from_iter, types::Value, OptionalExtension, Row};
use serde::Serialize;
use tidemark_domain::{fold_for_search, RecordKind};

use crate::{Store, StoreError};

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only records owned by this unit (full name; matched without diacritics or case).
    pub unit: Option<String>,
    /// Only records dated on or after this day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Only records dated on or before this day (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// At most this many rows (0 = no limit).
    pub limit: usize,
    /// Skip this many rows.
    pub offset: usize,
}

/// One row of a list or search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRow {
    /// Record id.
    pub id: String,
    /// Record kind (`patrol`…).
    pub kind: String,
    /// Owning unit.
    pub unit: String,
    /// Main date.
    pub date: Option<String>,
    /// One-line title.
    pub title: String,
    /// Number of fields with concurrent values.
    pub conflicts: i64,
}

/// A search result.
pub type SearchHit = RecordRow;

const ROW_COLUMNS: &str = "r.id, r.kind, r.unit, r.date, r.title, r.conflicts";

fn row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        unit: r.get(2)?,
        date: r.get(3)?,
        title: r.get(4)?,
        conflicts: r.get(5)?,
    })
}

fn where_clause(f: &ListFilter) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(kind) = f.kind {
        clauses.push("r.kind = ?");
        args.push(Value::Text(kind.as_str().into()));
    }
    if let Some(unit) = &f.unit {
        clauses.push("r.unit_key = ?");
        args.push(Value::Text(fold_for_search(unit.trim())));
    }
    if let Some(from) = &f.from {
        clauses.push("r.date >= ?");
        args.push(Value::Text(from.clone()));
    }
    if let Some(to) = &f.to {
        clauses.push("r.date <= ?");
        args.push(Value::Text(to.clone()));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

/// Turns what a person typed into an FTS5 query: folded words, each a prefix, all required.
pub fn fts_query(text: &str) -> Option<String> {
    let folded = fold_for_search(text);
    let terms: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

impl Store {
    /// Records matching `f`, newest first, and how many match in all.
    pub fn list(&self, f: &ListFilter) -> Result<(Vec<RecordRow>, usize), StoreError> {
        let (clause, args) = where_clause(f);
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM records r {clause}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let limit = if f.limit == 0 { -1 } else { f.limit as i64 };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM records r {clause} ORDER BY r.date DESC, r.id DESC LIMIT {limit} OFFSET {}",
            f.offset
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total as usize))
    }

    /// Full-text search ignoring case and diacritics (`đ` included); most recently saved first.
    ///
    /// Recency, not bm25 rank: ranking must score every match before it can return the first
    /// fifty, which took 36 ms for a common place name over 100,000 records; walking the index
    /// in rowid order stops after `limit` matches.
    pub fn search(
        &self,
        text: &str,
        kind: Option<RecordKind>,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let kind_clause = if kind.is_some() {
            "AND r.kind = ?2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM records_fts f JOIN records r ON r.rowid = f.rowid
             WHERE records_fts MATCH ?1 {kind_clause} ORDER BY f.rowid DESC LIMIT {}",
            limit.max(1)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut args: Vec<Value> = vec![Value::Text(query)];
        if let Some(k) = kind {
            args.push(Value::Text(k.as_str().into()));
        }
        let rows = stmt
            .query_map(params_from_iter(args.iter()), row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The stored JSON of one record (its current values), if present.
    pub fn record_json(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT json FROM records WHERE id = ?1", [id], |r| r.get(0))
            .optional()?)
    }

    /// Calls `each` with the JSON of every record of `kind` (all kinds when `None`), in id
    /// order; stops at the first error `each` returns.
    pub fn for_each_json<E: From<StoreError>>(
        &self,
        kind: Option<RecordKind>,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let (sql, args): (&str, Vec<Value>) = match kind {
            Some(k) => (
                "SELECT json FROM records WHERE kind = ?1 ORDER BY id",
                vec![Value::Text(k.as_str().into())],
            ),
            None => (
                "SELECT json FROM records ORDER BY kind != 'unit', kind != 'plan', id",
                vec![],
            ),
        };
        let mut stmt = self.conn.prepare(sql).map_err(StoreError::from)?;
        let mut rows = stmt
            .query(params_from_iter(args.iter()))
            .map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let json: String = r.get(0).map_err(StoreError::from)?;
            each(&json)?;
        }
        Ok(())
    }

    /// Calls `each` with the JSON of every record a report over `from..=to` (`YYYY-MM-DD`) reads:
    /// every unit, patrols, exchanges and activities dated in the period, and plan items due in
    /// it or with no deadline. One indexed scan per kind; stops at the first error of `each`.
    pub fn for_each_report_json<E: From<StoreError>>(
        &self,
        from: &str,
        to: &str,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT json FROM records WHERE kind = 'unit'
                 UNION ALL SELECT json FROM records
                   WHERE kind IN ('patrol', 'info_exchange', 'community_activity')
                   AND date BETWEEN ?1 AND ?2
                 UNION ALL SELECT json FROM records
                   WHERE kind = 'plan_item' AND (date IS NULL OR date BETWEEN ?1 AND ?2)",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([from, to]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let json: String = r.get(0).map_err(StoreError::from)?;
            each(&json)?;
        }
        Ok(())
    }

    /// Records that hold conflicting values.
    pub fn conflicted(&self) -> Result<Vec<RecordRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM records r WHERE r.conflicts > 0 ORDER BY r.date DESC, r.id"
        ))?;
        let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Folded names and codes of every known unit.
    pub fn unit_keys(&self) -> Result<HashSet<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT name_key, code_key FROM units")?;
        let mut keys = HashSet::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            keys.insert(r.get::<_, String>(0)?);
            if let Some(code) = r.get::<_, Option<String>>(1)? {
                keys.insert(code);
            }
        }
        Ok(keys)
    }

    /// Ids of unit records by folded name.
    pub fn unit_ids_by_name(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name_key, id FROM units ORDER BY id")?;
        let pairs = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
        Ok(pairs)
    }

    /// The full name of the unit with this name or code (matched without diacritics or case).
    pub fn unit_name(&self, name_or_code: &str) -> Result<Option<String>, StoreError> {
        let key = fold_for_search(name_or_code.trim());
        Ok(self
            .conn
            .query_row(
                "SELECT name FROM units WHERE name_key = ?1 OR code_key = ?1 LIMIT 1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every plan's id and period, newest period last.
    pub fn plan_periods(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, period_from, period_to FROM plans ORDER BY period_to, id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many records of each kind the store holds.
    pub fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
