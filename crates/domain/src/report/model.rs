//! What a computed report is: tables of figures, each figure with the records it counts.

use serde::Serialize;

use crate::Lang;

/// A text in both languages of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Vietnamese.
    pub vi: String,
    /// English.
    pub en: String,
}

impl Label {
    pub(super) fn new(vi: &str, en: &str) -> Label {
        Label {
            vi: vi.to_string(),
            en: en.to_string(),
        }
    }

    /// A label that reads the same in both languages (a unit's name, a month).
    pub(super) fn same(s: &str) -> Label {
        Label::new(s, s)
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}

/// How a column's numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A whole number.
    Count,
    /// Hours with one decimal.
    Hours,
    /// Vietnamese đồng, whole.
    Money,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Stable key (`patrols`, `2025-03`, an action's text…).
    pub key: String,
    /// Header.
    pub label: Label,
    /// How its numbers are written.
    pub format: Format,
}

/// One figure and the records it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Cell {
    /// The figure.
    pub value: f64,
    /// Indexes into [`Report::sources`], ascending, each once.
    pub sources: Vec<u32>,
}

impl Cell {
    pub(super) fn add(&mut self, value: f64, source: u32) {
        self.value += value;
        if self.sources.last() != Some(&source) {
            self.sources.push(source);
        }
    }
}

/// A row of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Stable key (a unit's folded name, a month, a violation type…).
    pub key: String,
    /// Row header.
    pub label: Label,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// One table of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Stable key: `patrols`, `patrols_by_month`, `by_month`, `violations`, `exchanges`,
    /// `activities`, `activities_by_unit`, `plan_items`.
    pub key: &'static str,
    /// Title.
    pub title: Label,
    /// Header of the row-label column.
    pub row_header: Label,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows, in display order.
    pub rows: Vec<Row>,
    /// The total of every column, when totals make sense.
    pub total: Option<Row>,
}

impl Table {
    /// The cell at (`row` key, `column` key); `"total"` names the total row.
    pub fn cell(&self, row: &str, column: &str) -> Option<&Cell> {
        let col = self.columns.iter().position(|c| c.key == column)?;
        let row = if row == "total" {
            self.total.as_ref()?
        } else {
            self.rows.iter().find(|r| r.key == row)?
        };
        row.cells.get(col)
    }

    /// The value at (`row`, `column`), 0 where there is no such cell.
    pub fn value(&self, row: &str, column: &str) -> f64 {
        self.cell(row, column).map_or(0.0, |c| c.value)
    }
}

/// A record that a figure counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRecord {
    /// Record id.
    pub id: String,
    /// Record kind (`patrol`, `info_exchange`…).
    pub kind: &'static str,
    /// The record's main date.
    pub date: Option<String>,
    /// The unit it belongs to.
    pub unit: String,
    /// One-line title.
    pub title: String,
}

/// A computed report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// The day overdue is judged against.
    pub as_of: String,
    /// The units asked for (canonical names); empty means all.
    pub units: Vec<String>,
    /// The months of the period, `YYYY-MM`.
    pub months: Vec<String>,
    /// The tables, in display order.
    pub tables: Vec<Table>,
    /// Every record a figure counts.
    pub sources: Vec<SourceRecord>,
}

impl Report {
    /// The table with `key`.
    pub fn table(&self, key: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.key == key)
    }
}
