//! Review-meeting reports (báo cáo sơ kết): what each unit did over a period, computed from the
//! merged records.
//!
//! Pure: records in, tables out. Every figure keeps the records it counts (indexes into
//! [`Report::sources`]), so any number in any output can be traced back to its records.
//! Renderers (Markdown, CSV, XLSX, HTML) live in the client crate and only read a [`Report`].

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::fold::fold_for_search;
use crate::records::{PlanStatus, Record, RecordKind, UnitKind};
use crate::validate::parse_time;
use crate::Lang;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportParams {
    /// First day of the period (inclusive).
    pub from: NaiveDate,
    /// Last day of the period (inclusive).
    pub to: NaiveDate,
    /// The day plan items are judged overdue against (today, or the period's end if earlier).
    pub as_of: NaiveDate,
    /// Units to report on, by name or code, each with the units under it; empty means all.
    pub units: Vec<String>,
}

/// Why a report could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The period ends before it starts.
    #[error("the period ends ({to}) before it starts ({from})")]
    EmptyPeriod {
        /// First day asked for.
        from: NaiveDate,
        /// Last day asked for.
        to: NaiveDate,
    },
    /// A unit asked for is not known on this device.
    #[error("unknown unit `{0}`: no unit record has this name or code")]
    UnknownUnit(String),
}

/// A text in both languages of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Vietnamese.
    pub vi: String,
    /// English.
    pub en: String,
}

impl Label {
    fn new(vi: &str, en: &str) -> Label {
        Label {
            vi: vi.to_string(),
            en: en.to_string(),
        }
    }

    /// A label that reads the same in both languages (a unit's name, a month).
    fn same(s: &str) -> Label {
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
    fn add(&mut self, value: f64, source: u32) {
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

/// A unit as reports see it.
#[derive(Debug, Clone)]
struct UnitInfo {
    name: String,
    kind: Option<UnitKind>,
    parent: Option<String>,
    /// How much the record says (code, parent): the fullest of duplicates wins.
    score: u8,
}

/// Units known from unit records, and those only named by records.
#[derive(Debug, Default)]
struct Units {
    /// Folded name → info.
    by_key: HashMap<String, UnitInfo>,
    /// Folded code → folded name.
    codes: HashMap<String, String>,
}

impl Units {
    fn key(name: &str) -> String {
        fold_for_search(name.trim())
    }

    /// The key of a unit named (or coded) `name`; a name no unit record has is its own key.
    fn resolve(&self, name: &str) -> String {
        let key = Units::key(name);
        if self.by_key.contains_key(&key) {
            return key;
        }
        self.codes.get(&key).cloned().unwrap_or(key)
    }

    fn display(&self, key: &str, fallback: &str) -> String {
        self.by_key
            .get(key)
            .map_or_else(|| fallback.trim().to_string(), |u| u.name.clone())
    }

    /// Whether `key` is `root` or under it.
    fn is_under(&self, key: &str, root: &str) -> bool {
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
    fn rank(&self, key: &str) -> (u8, String) {
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
struct Builder {
    columns: Vec<Column>,
    rows: BTreeMap<String, (Label, Vec<Cell>)>,
}

impl Builder {
    fn new(columns: Vec<Column>) -> Builder {
        Builder {
            columns,
            rows: BTreeMap::new(),
        }
    }

    fn row(&mut self, key: &str, label: &str) -> &mut Vec<Cell> {
        let width = self.columns.len();
        &mut self
            .rows
            .entry(key.to_string())
            .or_insert_with(|| (Label::same(label), vec![Cell::default(); width]))
            .1
    }

    fn add(&mut self, key: &str, label: &str, column: usize, value: f64, source: u32) {
        self.row(key, label)[column].add(value, source);
    }

    fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }

    /// The table, rows ordered by `rank`, with a total row when `total`.
    fn finish<R: Ord>(
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

fn col(key: &str, vi: &str, en: &str, format: Format) -> Column {
    Column {
        key: key.into(),
        label: Label::new(vi, en),
        format,
    }
}

/// The months from `from` to `to`, `YYYY-MM`.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    while (y, m) <= (to.year(), to.month()) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// `YYYY-MM` as `MM/YYYY`, how both languages write a month in a table.
fn month_label(month: &str) -> String {
    match (month.get(5..7), month.get(..4)) {
        (Some(m), Some(y)) => format!("{m}/{y}"),
        _ => month.to_string(),
    }
}

/// Which partner forces a joint patrol went out with.
fn joint_with(forces: &[String]) -> (bool, bool) {
    let folded: Vec<String> = forces.iter().map(|f| fold_for_search(f)).collect();
    let any = |words: &[&str]| folded.iter().any(|f| words.iter().any(|w| f.contains(w)));
    (
        any(&["cong an", "canh sat", "police"]),
        any(&["quan su", "dan quan", "bo doi", "military", "militia"]),
    )
}

const UNIT_HEADER: (&str, &str) = ("Đơn vị", "Unit");

/// Computes the report over `records` (every record the device holds, any order).
pub fn compute(
    records: impl IntoIterator<Item = Record>,
    params: &ReportParams,
) -> Result<Report, ReportError> {
    if params.to < params.from {
        return Err(ReportError::EmptyPeriod {
            from: params.from,
            to: params.to,
        });
    }
    let mut units = Units::default();
    let mut others = Vec::new();
    for record in records {
        match record {
            Record::Unit(u) => {
                let key = Units::key(&u.name);
                if let Some(code) = u.code.as_deref().filter(|c| !c.trim().is_empty()) {
                    units.codes.insert(Units::key(code), key.clone());
                }
                // The same unit may have several records (one made by a device's `init`,
                // one imported with code, kind and parent): the fullest one describes it.
                let score = u8::from(u.code.is_some()) + u8::from(u.parent.is_some());
                let info = UnitInfo {
                    name: u.name.trim().to_string(),
                    kind: Some(u.kind),
                    parent: u.parent,
                    score,
                };
                match units.by_key.get(&key) {
                    Some(known) if known.score >= score => {}
                    _ => {
                        units.by_key.insert(key, info);
                    }
                }
            }
            other => others.push(other),
        }
    }
    let mut roots = Vec::new();
    for asked in &params.units {
        let key = units.resolve(asked);
        if !units.by_key.contains_key(&key) {
            return Err(ReportError::UnknownUnit(asked.clone()));
        }
        roots.push(key);
    }
    let selected = |key: &str| roots.is_empty() || roots.iter().any(|r| units.is_under(key, r));
    let from = params.from.format("%Y-%m-%d").to_string();
    let to = params.to.format("%Y-%m-%d").to_string();
    let in_period =
        |date: Option<&str>| date.is_some_and(|d| d >= from.as_str() && d <= to.as_str());
    let month_list = months(params.from, params.to);
    let as_of = params.as_of.format("%Y-%m-%d").to_string();

    let mut sources: Vec<SourceRecord> = Vec::new();
    let mut source = |r: &Record, unit: &str| -> u32 {
        sources.push(SourceRecord {
            id: r.id().to_string(),
            kind: r.kind().as_str(),
            date: r.date(),
            unit: unit.to_string(),
            title: r.title(),
        });
        (sources.len() - 1) as u32
    };

    use Format::{Count, Hours, Money};
    let mut patrols = Builder::new(vec![
        col("patrols", "Số chuyến tuần tra", "Patrols", Count),
        col("hours", "Giờ trên biển", "Hours at sea", Hours),
        col("joint", "Tuần tra chung", "Joint patrols", Count),
        col("with_police", "Với công an", "With police", Count),
        col(
            "with_military",
            "Với quân sự địa phương",
            "With local military",
            Count,
        ),
        col(
            "inspected",
            "Phương tiện kiểm tra",
            "Vessels inspected",
            Count,
        ),
        col("violations", "Vụ vi phạm", "Violations", Count),
        col("fines", "Tiền phạt (đồng)", "Fines (VND)", Money),
    ]);
    let mut month_cols: Vec<Column> = month_list
        .iter()
        .map(|m| Column {
            key: m.clone(),
            label: Label::same(&month_label(m)),
            format: Count,
        })
        .collect();
    month_cols.push(col("total", "Cộng", "Total", Count));
    let mut per_month = Builder::new(month_cols);
    let mut by_month = Builder::new(vec![
        col("patrols", "Tuần tra", "Patrols", Count),
        col("hours", "Giờ trên biển", "Hours at sea", Hours),
        col(
            "inspected",
            "Phương tiện kiểm tra",
            "Vessels inspected",
            Count,
        ),
        col("violations", "Vụ vi phạm", "Violations", Count),
        col("fines", "Tiền phạt (đồng)", "Fines (VND)", Money),
        col("exchanges", "Trao đổi thông tin", "Exchanges sent", Count),
        col("activities", "Hoạt động dân vận", "Activities", Count),
        col("people", "Lượt người dân", "People reached", Count),
    ]);
    for m in &month_list {
        by_month.row(m, &month_label(m));
    }
    // Violations: actions become columns once all are known.
    let mut violations: Vec<(String, String, Option<String>, u64, u32)> = Vec::new();
    let mut exchanges = Builder::new(vec![
        col("sent", "Đã gửi", "Sent", Count),
        col(
            "deliveries",
            "Lượt gửi đến đơn vị nhận",
            "Deliveries",
            Count,
        ),
        col("acknowledged", "Đã xác nhận", "Acknowledged", Count),
        col("awaiting", "Chưa xác nhận", "Not yet acknowledged", Count),
        col("received", "Đã nhận", "Received", Count),
        col(
            "received_acknowledged",
            "Đơn vị đã xác nhận",
            "Acknowledged by the unit",
            Count,
        ),
    ]);
    let mut activities = Builder::new(vec![
        col("activities", "Số hoạt động", "Activities", Count),
        col("people", "Lượt người dân", "People reached", Count),
    ]);
    let mut activities_by_unit = Builder::new(vec![
        col("activities", "Số hoạt động", "Activities", Count),
        col("people", "Lượt người dân", "People reached", Count),
    ]);
    let mut plan_items = Builder::new(vec![
        col("total", "Tổng số nhiệm vụ", "Items", Count),
        col("new", "Mới", "New", Count),
        col("in_progress", "Đang thực hiện", "In progress", Count),
        col("done", "Hoàn thành", "Done", Count),
        col("postponed", "Tạm hoãn", "Postponed", Count),
        col("cancelled", "Hủy", "Cancelled", Count),
        col("overdue", "Quá hạn", "Overdue", Count),
    ]);

    // Every selected station gets a row even when it did nothing: that is worth seeing.
    for (key, u) in &units.by_key {
        if u.kind == Some(UnitKind::Station) && selected(key) {
            patrols.row(key, &u.name);
            per_month.row(key, &u.name);
            activities_by_unit.row(key, &u.name);
        }
    }

    for record in &others {
        match record {
            Record::Patrol(p) => {
                let date = record.date();
                let key = units.resolve(&p.station);
                if !in_period(date.as_deref()) || !selected(&key) {
                    continue;
                }
                let name = units.display(&key, &p.station);
                let month = date.as_deref().map_or("", |d| &d[..7]).to_string();
                let src = source(record, &name);
                let hours = match (parse_time(&p.start), p.end.as_deref().and_then(parse_time)) {
                    (Some(a), Some(b)) if b > a => (b - a).num_seconds() as f64 / 3600.0,
                    _ => 0.0,
                };
                let (police, military) = joint_with(&p.joint_forces);
                let inspected = p.vessels_inspected.len() as f64;
                let count = p.violations.len() as f64;
                let fines: u64 = p.violations.iter().filter_map(|v| v.fine_vnd).sum();
                let mut add = |column: usize, value: f64| {
                    if value > 0.0 || column == 0 {
                        patrols.add(&key, &name, column, value, src);
                    }
                };
                add(0, 1.0);
                add(1, hours);
                add(2, f64::from(u8::from(!p.joint_forces.is_empty())));
                add(3, f64::from(u8::from(police)));
                add(4, f64::from(u8::from(military)));
                add(5, inspected);
                add(6, count);
                add(7, fines as f64);
                if let Some(c) = per_month.column(&month) {
                    per_month.add(&key, &name, c, 1.0, src);
                }
                let total = per_month.columns.len() - 1;
                per_month.add(&key, &name, total, 1.0, src);
                let label = month_label(&month);
                for (c, v) in [(0, 1.0), (1, hours), (2, inspected), (3, count)] {
                    if v > 0.0 || c == 0 {
                        by_month.add(&month, &label, c, v, src);
                    }
                }
                if fines > 0 {
                    by_month.add(&month, &label, 4, fines as f64, src);
                }
                for v in &p.violations {
                    violations.push((
                        fold_for_search(v.violation.trim()),
                        v.violation.trim().to_string(),
                        v.action
                            .as_deref()
                            .map(str::trim)
                            .filter(|a| !a.is_empty())
                            .map(str::to_string),
                        v.fine_vnd.unwrap_or(0),
                        src,
                    ));
                }
            }
            Record::InfoExchange(x) => {
                let date = record.date();
                if !in_period(date.as_deref()) {
                    continue;
                }
                let from_key = units.resolve(&x.from_unit);
                let from_name = units.display(&from_key, &x.from_unit);
                let recipients: Vec<(String, String, bool)> = x
                    .to_units
                    .iter()
                    .map(|u| {
                        let key = units.resolve(u);
                        let acked = x.acknowledgements.keys().any(|a| units.resolve(a) == key);
                        (units.display(&key, u), key, acked)
                    })
                    .collect();
                let sender_selected = selected(&from_key);
                if !sender_selected && !recipients.iter().any(|r| selected(&r.1)) {
                    continue;
                }
                let src = source(record, &from_name);
                if sender_selected {
                    let acked = recipients.iter().filter(|r| r.2).count() as f64;
                    let n = recipients.len() as f64;
                    exchanges.add(&from_key, &from_name, 0, 1.0, src);
                    for (c, v) in [(1, n), (2, acked), (3, n - acked)] {
                        if v > 0.0 {
                            exchanges.add(&from_key, &from_name, c, v, src);
                        }
                    }
                    let month = date.as_deref().map_or("", |d| &d[..7]);
                    let label = month_label(month);
                    by_month.add(month, &label, 5, 1.0, src);
                }
                for (name, key, acked) in &recipients {
                    if selected(key) {
                        exchanges.add(key, name, 4, 1.0, src);
                        if *acked {
                            exchanges.add(key, name, 5, 1.0, src);
                        }
                    }
                }
            }
            Record::CommunityActivity(a) => {
                let date = record.date();
                let key = units.resolve(&a.station);
                if !in_period(date.as_deref()) || !selected(&key) {
                    continue;
                }
                let name = units.display(&key, &a.station);
                let src = source(record, &name);
                let people = f64::from(a.participants);
                let kind = a.kind.trim();
                let kind_key = fold_for_search(kind);
                activities.add(&kind_key, kind, 0, 1.0, src);
                activities.add(&kind_key, kind, 1, people, src);
                activities_by_unit.add(&key, &name, 0, 1.0, src);
                activities_by_unit.add(&key, &name, 1, people, src);
                let month = date.as_deref().map_or("", |d| &d[..7]);
                let label = month_label(month);
                by_month.add(month, &label, 6, 1.0, src);
                by_month.add(month, &label, 7, people, src);
            }
            Record::PlanItem(item) => {
                let deadline = item.deadline.as_deref().map(str::trim);
                if deadline.is_some_and(|d| !in_period(Some(d))) {
                    continue;
                }
                let key = units.resolve(&item.responsible_unit);
                if !selected(&key) {
                    continue;
                }
                let name = units.display(&key, &item.responsible_unit);
                let src = source(record, &name);
                let status = match item.status {
                    PlanStatus::New => 1,
                    PlanStatus::InProgress => 2,
                    PlanStatus::Done => 3,
                    PlanStatus::Postponed => 4,
                    PlanStatus::Cancelled => 5,
                };
                plan_items.add(&key, &name, 0, 1.0, src);
                plan_items.add(&key, &name, status, 1.0, src);
                let open = matches!(item.status, PlanStatus::New | PlanStatus::InProgress);
                if open && deadline.is_some_and(|d| d < as_of.as_str()) {
                    plan_items.add(&key, &name, 6, 1.0, src);
                }
            }
            _ => {}
        }
    }

    let mut actions: Vec<String> = violations.iter().filter_map(|v| v.2.clone()).collect();
    actions.sort();
    actions.dedup();
    let mut violation_cols = vec![
        col("count", "Số vụ", "Violations", Count),
        col("fines", "Tiền phạt (đồng)", "Fines (VND)", Money),
    ];
    violation_cols.extend(actions.iter().map(|a| Column {
        key: a.clone(),
        label: Label::same(a),
        format: Count,
    }));
    let mut by_type = Builder::new(violation_cols);
    for (key, label, action, fine, src) in &violations {
        by_type.add(key, label, 0, 1.0, *src);
        if *fine > 0 {
            by_type.add(key, label, 1, *fine as f64, *src);
        }
        if let Some(c) = action.as_deref().and_then(|a| by_type.column(a)) {
            by_type.add(key, label, c, 1.0, *src);
        }
    }

    let unit_rank = |key: &str, _: &[Cell]| units.rank(key);
    let by_count =
        |key: &str, cells: &[Cell]| (std::cmp::Reverse(cells[0].value as u64), key.to_string());
    let unit_header = Label::new(UNIT_HEADER.0, UNIT_HEADER.1);
    let tables = vec![
        patrols.finish(
            "patrols",
            Label::new("Tuần tra, kiểm soát theo đơn vị", "Patrols by unit"),
            unit_header.clone(),
            true,
            unit_rank,
        ),
        per_month.finish(
            "patrols_by_month",
            Label::new("Số chuyến tuần tra theo tháng", "Patrols per month"),
            unit_header.clone(),
            true,
            unit_rank,
        ),
        by_month.finish(
            "by_month",
            Label::new("Kết quả theo tháng", "Results by month"),
            Label::new("Tháng", "Month"),
            true,
            |key: &str, _: &[Cell]| key.to_string(),
        ),
        by_type.finish(
            "violations",
            Label::new(
                "Vi phạm theo loại, biện pháp xử lý và tiền phạt",
                "Violations by type, action and fines",
            ),
            Label::new("Loại vi phạm", "Violation"),
            true,
            by_count,
        ),
        exchanges.finish(
            "exchanges",
            Label::new("Trao đổi thông tin", "Information exchanges"),
            unit_header.clone(),
            false,
            unit_rank,
        ),
        activities.finish(
            "activities",
            Label::new(
                "Hoạt động dân vận theo loại",
                "Community activities by kind",
            ),
            Label::new("Loại hoạt động", "Kind"),
            true,
            by_count,
        ),
        activities_by_unit.finish(
            "activities_by_unit",
            Label::new(
                "Hoạt động dân vận theo đơn vị",
                "Community activities by unit",
            ),
            unit_header.clone(),
            true,
            unit_rank,
        ),
        plan_items.finish(
            "plan_items",
            Label::new("Nhiệm vụ kế hoạch theo trạng thái", "Plan items by status"),
            unit_header,
            true,
            unit_rank,
        ),
    ];
    let mut asked: Vec<String> = roots
        .iter()
        .map(|k| units.display(k, k))
        .collect::<Vec<_>>();
    asked.dedup();
    Ok(Report {
        from,
        to,
        as_of,
        units: asked,
        months: month_list,
        tables,
        sources,
    })
}

/// The kind of a source record, in `lang` (for detail listings).
pub fn kind_label(kind: &str, lang: Lang) -> &'static str {
    let (vi, en) = match RecordKind::parse(kind) {
        Some(RecordKind::Patrol) => ("Tuần tra", "Patrol"),
        Some(RecordKind::InfoExchange) => ("Trao đổi thông tin", "Information exchange"),
        Some(RecordKind::CommunityActivity) => ("Hoạt động dân vận", "Community activity"),
        Some(RecordKind::PlanItem) => ("Nhiệm vụ kế hoạch", "Plan item"),
        Some(RecordKind::Plan) => ("Kế hoạch", "Plan"),
        Some(RecordKind::ReviewMeeting) => ("Hội nghị", "Review meeting"),
        Some(RecordKind::Unit) => ("Đơn vị", "Unit"),
        None => ("Bản ghi", "Record"),
    };
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn record(v: serde_json::Value) -> Record {
        serde_json::from_value(v).expect("record")
    }

    #[test]
    fn months_span_year_ends_and_read_as_month_slash_year() {
        assert_eq!(
            months(day("2024-11-20"), day("2025-02-01")),
            ["2024-11", "2024-12", "2025-01", "2025-02"]
        );
        assert_eq!(month_label("2025-03"), "03/2025");
    }

    #[test]
    fn joint_forces_are_told_apart_without_diacritics_or_case() {
        assert_eq!(joint_with(&["CÔNG AN huyện".into()]), (true, false));
        assert_eq!(
            joint_with(&["Dân quân xã Kiểng Phước".into()]),
            (false, true)
        );
        assert_eq!(
            joint_with(&["Ban Chỉ huy Quân sự huyện".into(), "Police".into()]),
            (true, true)
        );
        assert_eq!(joint_with(&["Kiểm ngư".into()]), (false, false));
    }

    #[test]
    fn the_fullest_of_duplicate_unit_records_places_a_unit_under_its_parent() {
        let hq = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";
        let tt = "Đồn Biên phòng Tân Thành";
        let records = vec![
            record(
                serde_json::json!({"type": "unit", "id": "unit:HQ", "name": hq, "code": "HQ", "kind": "hq"}),
            ),
            record(
                serde_json::json!({"type": "unit", "id": "unit:TT", "name": tt, "code": "TT", "kind": "station", "parent": hq}),
            ),
            // A device's own `init` record for the same unit, with nothing but the name.
            record(
                serde_json::json!({"type": "unit", "id": "unit:tt", "name": tt, "kind": "party_committee"}),
            ),
            record(
                serde_json::json!({"type": "patrol", "id": "patrol:TT:1", "station": tt,
                "start": "2025-03-01T05:00:00+07:00", "end": "2025-03-01T08:30:00+07:00",
                "joint_forces": ["Công an huyện Gò Công Đông"]}),
            ),
        ];
        let params = ReportParams {
            from: day("2025-03-01"),
            to: day("2025-03-31"),
            as_of: day("2025-03-31"),
            units: vec!["hq".into()],
        };
        let report = compute(records, &params).expect("report");
        let patrols = report.table("patrols").expect("patrols");
        let key = fold_for_search(tt);
        assert_eq!(patrols.value(&key, "patrols"), 1.0, "TT is under HQ");
        assert_eq!(patrols.value(&key, "hours"), 3.5);
        assert_eq!(patrols.value(&key, "with_police"), 1.0);
        assert_eq!(report.units, vec![hq.to_string()]);
        assert_eq!(report.sources.len(), 1);
    }

    #[test]
    fn a_backwards_period_or_an_unknown_unit_is_refused() {
        let params = ReportParams {
            from: day("2025-03-31"),
            to: day("2025-03-01"),
            as_of: day("2025-03-31"),
            units: vec![],
        };
        assert!(matches!(
            compute(Vec::new(), &params),
            Err(ReportError::EmptyPeriod { .. })
        ));
        let params = ReportParams {
            from: day("2025-03-01"),
            to: day("2025-03-31"),
            units: vec!["Đồn Không Có".into()],
            ..params
        };
        assert_eq!(
            compute(Vec::new(), &params),
            Err(ReportError::UnknownUnit("Đồn Không Có".into()))
        );
    }
}
