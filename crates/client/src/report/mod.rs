//! Review-meeting reports: computed by [`tidemark_domain::report`] over the records this device
//! holds, written out as Markdown, CSV, XLSX or a printable HTML page.

mod html;
mod text;
mod xlsx;

use std::str::FromStr;

use tidemark_domain::report::{self, Format, Report, ReportParams};
use tidemark_domain::{Lang, Record};

use crate::{Client, ClientError};

pub use tidemark_domain::report::{Cell, Column, Label, Row, SourceRecord, Table};

/// Why a report period given as text was refused; callers word it for their users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodError {
    /// Not a `YYYY-MM-DD` day: the text given.
    BadDate(String),
    /// The period ends before it starts.
    Backwards,
}

/// A report's period from text (`YYYY-MM-DD`), as the CLI and the app receive it: `as_of`
/// defaults to today, or to `to` if that is earlier. No units are set (all units).
pub fn params_from_text(
    from: &str,
    to: &str,
    as_of: Option<&str>,
) -> Result<ReportParams, PeriodError> {
    let day = |s: &str| {
        tidemark_domain::validate::parse_date(s).ok_or_else(|| PeriodError::BadDate(s.into()))
    };
    let (from, to) = (day(from)?, day(to)?);
    if to < from {
        return Err(PeriodError::Backwards);
    }
    let as_of = match as_of {
        Some(d) => day(d)?,
        None => chrono::Local::now().date_naive().min(to),
    };
    Ok(ReportParams {
        from,
        to,
        as_of,
        units: Vec::new(),
    })
}

/// The output formats of `tidemark report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Markdown tables.
    Md,
    /// CSV: each table under its title, then the sources with `details`.
    Csv,
    /// An Excel workbook: one sheet per table.
    Xlsx,
    /// One self-contained printable page with charts.
    Html,
}

impl ReportFormat {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Csv => "csv",
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Html => "html",
        }
    }
}

impl FromStr for ReportFormat {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(ReportFormat::Md),
            "csv" => Ok(ReportFormat::Csv),
            "xlsx" => Ok(ReportFormat::Xlsx),
            "html" => Ok(ReportFormat::Html),
            other => Err(ClientError::User(format!(
                "unknown report format `{other}`; use md, csv, xlsx or html"
            ))),
        }
    }
}

/// How a report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Language of titles and headers.
    pub lang: Lang,
    /// List, for every figure, the records it counts.
    pub details: bool,
}

impl Client {
    /// Computes a report over the records this device holds.
    pub fn report(&self, params: &ReportParams) -> Result<Report, ClientError> {
        let from = params.from.format("%Y-%m-%d").to_string();
        let to = params.to.format("%Y-%m-%d").to_string();
        let mut records: Vec<Record> = Vec::new();
        self.store()
            .for_each_report_json(&from, &to, |json| -> Result<(), ClientError> {
                let record: Record = serde_json::from_str(json).map_err(|e| {
                    ClientError::User(format!("a stored record could not be read: {e}"))
                })?;
                records.push(record);
                Ok(())
            })?;
        let started = std::time::Instant::now();
        let count = records.len();
        let out = report::compute(records, params).map_err(|e| ClientError::User(e.to_string()))?;
        tracing::debug!(
            records = count,
            figures_from = out.sources.len(),
            ms = started.elapsed().as_millis() as u64,
            "report computed"
        );
        Ok(out)
    }
}

/// Writes `report` in `format`.
pub fn render(
    report: &Report,
    format: ReportFormat,
    options: RenderOptions,
) -> Result<Vec<u8>, ClientError> {
    match format {
        ReportFormat::Md => Ok(text::markdown(report, options).into_bytes()),
        ReportFormat::Csv => text::csv(report, options),
        ReportFormat::Xlsx => xlsx::workbook(report, options),
        ReportFormat::Html => Ok(html::page(report, options).into_bytes()),
    }
}

/// `vi` or `en`, whichever `lang` is.
pub(crate) fn tr(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// A figure as people read it: thousands grouped (`1.234.567` in Vietnamese, `1,234,567` in
/// English), hours with one decimal.
pub fn format_value(value: f64, format: Format, lang: Lang) -> String {
    let (group, decimal) = match lang {
        Lang::Vi => ('.', ','),
        Lang::En => (',', '.'),
    };
    let tenths = (value * 10.0).round() as i64;
    let whole = match format {
        Format::Hours => tenths / 10,
        Format::Count | Format::Money => value.round() as i64,
    };
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    if whole < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if format == Format::Hours {
        out.push(decimal);
        out.push_str(&(tenths.abs() % 10).to_string());
    }
    out
}

/// `YYYY-MM-DD` as `DD/MM/YYYY` (both languages read it so here).
pub(crate) fn day(s: &str) -> String {
    match (s.get(..4), s.get(5..7), s.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{d}/{m}/{y}"),
        _ => s.to_string(),
    }
}

/// The heading lines every format starts with: title, period, units, overdue date.
pub(crate) fn heading(report: &Report, lang: Lang) -> (String, Vec<String>) {
    let title = tr(
        lang,
        "Báo cáo sơ kết công tác phối hợp",
        "Coordination review report",
    )
    .to_string();
    let units = if report.units.is_empty() {
        tr(lang, "tất cả đơn vị", "all units").to_string()
    } else {
        report.units.join(", ")
    };
    let lines = vec![
        format!(
            "{}: {} – {}",
            tr(lang, "Thời gian", "Period"),
            day(&report.from),
            day(&report.to)
        ),
        format!("{}: {units}", tr(lang, "Đơn vị", "Units")),
        format!(
            "{}: {}",
            tr(lang, "Tính quá hạn đến ngày", "Overdue as of"),
            day(&report.as_of)
        ),
    ];
    (title, lines)
}

/// Headers of the per-record source listings (CSV and XLSX `--details`).
pub(crate) fn source_headers(lang: Lang) -> [&'static str; 9] {
    match lang {
        Lang::Vi => [
            "Bảng",
            "Dòng",
            "Cột",
            "Số liệu",
            "Mã bản ghi",
            "Loại",
            "Ngày",
            "Đơn vị",
            "Tiêu đề",
        ],
        Lang::En => [
            "Table",
            "Row",
            "Column",
            "Figure",
            "Record id",
            "Kind",
            "Date",
            "Unit",
            "Title",
        ],
    }
}

/// Every figure with records behind it: (table, row label, column label, cell).
pub(crate) fn figures<'a>(
    table: &'a Table,
    lang: Lang,
) -> impl Iterator<Item = (&'a str, &'a str, &'a Cell)> + 'a {
    table
        .rows
        .iter()
        .chain(table.total.iter())
        .flat_map(move |row| {
            table
                .columns
                .iter()
                .zip(&row.cells)
                .filter(|(_, cell)| !cell.sources.is_empty())
                .map(move |(col, cell)| (row.label.get(lang), col.label.get(lang), cell))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_the_way_each_language_reads_them() {
        assert_eq!(
            format_value(1_234_567.0, Format::Money, Lang::Vi),
            "1.234.567"
        );
        assert_eq!(
            format_value(1_234_567.0, Format::Money, Lang::En),
            "1,234,567"
        );
        assert_eq!(format_value(999.0, Format::Count, Lang::Vi), "999");
        assert_eq!(format_value(0.0, Format::Count, Lang::Vi), "0");
        assert_eq!(format_value(1234.56, Format::Hours, Lang::Vi), "1.234,6");
        assert_eq!(format_value(2.25, Format::Hours, Lang::En), "2.3");
        assert_eq!(day("2025-03-09"), "09/03/2025");
    }
}
