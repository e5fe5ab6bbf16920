//! The pieces `compute` builds with: the units known from unit records (names, codes, the tree)
//! and a table under construction.

use std::collections::{BTreeMap, HashMap};

use super::model::{Cell, Column, Format, Label, Row, Table};
use crate::fold::fold_for_search;
use crate::records::UnitKind;

/// A unit as reports see it.
#[derive(Debug, Clone)]
pub(super) struct UnitInfo {
    pub(super) name: String,
    pub(super) kind: Option<UnitKind>,
    pub(super) parent: Option<String>,
    /// How much the record says (code, parent): the fullest of duplicates wins.
    pub(super) score: u8,
}

/// Units known from unit records, and those only named by records.
#[derive(Debug, Default)]
pub(super) struct Units {
    /// Folded name → info.
    pub(super) by_key: HashMap<String, UnitInfo>,
    /// Folded code → folded name.
    pub(super) codes: HashMap<String, String>,
}

impl Units {
    pub(super) fn key(name: &str) -> String {
        fold_for_search(name.trim())
    }

    /// The key of a unit named (or coded) `name`; a name no unit record has is its own key.
    pub(super) fn resolve(&self, name: &str) -> String {
        let key = Units::key(name);
        if self.by_key.contains_key(&key) {
            return key;
        }
        self.codes.get(&key).cloned().unwrap_or(key)
    }

    pub(super) fn display(&self, key: &str, fallback: &str) -> String {
        self.by_key
            .get(key)
            .map_or_else(|| fallback.trim().to_string(), |u| u.name.clone())
    }

    /// Whether `key` is `root` or under it.
    pub(super) fn is_under(&self, key: &str, root: &str) -> bool {
        let mut at = key.to_string();
        for _ in 0..64 {
            if at == root {
                return true;
            }
            match self.by_key.get(&at).and_then(|u| u.parent.as_deref()) {
                Some(parent) => at = self.resolve(parent),
                None => return false,
            }
        }
        false
    }

    /// Display order: HQ, committees, stations, district committees, partners, then by name.
    pub(super) fn rank(&self, key: &str) -> (u8, String) {
        let kind = self.by_key.get(key).and_then(|u| u.kind);
        let order = match kind {
            Some(UnitKind::Hq) => 0,
            Some(UnitKind::PartyCommittee) => 1,
            Some(UnitKind::Station) => 2,
            Some(UnitKind::DistrictCommittee) => 3,
            Some(UnitKind::Partner) => 4,
            None => 5,
        };
        (order, key.to_string())
    }
}

/// Rows of a table being built.
pub(super) struct Builder {
    pub(super) columns: Vec<Column>,
    pub(super) rows: BTreeMap<String, (Label, Vec<Cell>)>,
}

impl Builder {
    pub(super) fn new(columns: Vec<Column>) -> Builder {
        Builder {
            columns,
            rows: BTreeMap::new(),
        }
    }

    pub(super) fn row(&mut self, key: &str, label: &str) -> &mut Vec<Cell> {
        let width = self.columns.len();
        &mut self
            .rows
            .entry(key.to_string())
            .or_insert_with(|| (Label::same(label), vec![Cell::default(); width]))
            .1
    }

    pub(super) fn add(&mut self, key: &str, label: &str, column: usize, value: f64, source: u32) {
        self.row(key, label)[column].add(value, source);
    }

    pub(super) fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }

    /// The table, rows ordered by `rank`, with a total row when `total`.
    pub(super) fn finish<R: Ord>(
        self,
        key: &'static str,
        title: Label,
        row_header: Label,
        total: bool,
        rank: impl Fn(&str, &[Cell]) -> R,
    ) -> Table {
        let mut rows: Vec<Row> = self
            .rows
            .into_iter()
            .map(|(key, (label, cells))| Row { key, label, cells })
            .collect();
        rows.sort_by_key(|r| rank(&r.key, &r.cells));
        let total = total.then(|| {
            let cells = (0..self.columns.len())
                .map(|c| {
                    let mut sources: Vec<u32> = rows
                        .iter()
                        .flat_map(|r| r.cells[c].sources.iter().copied())
                        .collect();
                    sources.sort_unstable();
                    sources.dedup();
                    Cell {
                        value: rows.iter().map(|r| r.cells[c].value).sum(),
                        sources,
                    }
                })
                .collect();
            Row {
                key: "total".into(),
                label: Label::new("Tổng cộng", "Total"),
                cells,
            }
        });
        Table {
            key,
            title,
            row_header,
            columns: self.columns,
            rows,
            total,
        }
    }
}

pub(super) fn col(key: &str, vi: &str, en: &str, format: Format) -> Column {
    Column {
        key: key.into(),
        label: Label::new(vi, en),
        format,
    }
}
