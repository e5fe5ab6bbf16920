//! Review-meeting reports (báo cáo sơ kết): what each unit did over a period, computed from the
//! merged records.
//!
//! Pure: records in, tables out. Every figure keeps the records it counts (indexes into
//! [`Report::sources`]), so any number in any output can be traced back to its records.
//! Renderers (Markdown, CSV, XLSX, HTML) live in the client crate and only read a [`Report`].

use chrono::{Datelike, NaiveDate};

use crate::fold::fold_for_search;
use crate::records::{PlanStatus, Record, RecordKind, UnitKind};
use crate::validate::parse_time;
use crate::Lang;

mod builder;
mod model;
#[cfg(test)]
mod tests;

use builder::{col, Builder, UnitInfo, Units};
pub use model::{Cell, Column, Format, Label, Report, Row, SourceRecord, Table};

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
