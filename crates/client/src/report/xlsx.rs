//! The report as an Excel workbook: one sheet per table with its title, bold headers, number
//! formats and frozen headers; with `details`, a last sheet listing the records behind every
//! figure.

use rust_xlsxwriter::{Color, Format as XFormat, FormatBorder, Workbook, Worksheet, XlsxError};
use tidemark_domain::report::{kind_label, Format, Report, Table};
use tidemark_domain::Lang;

use super::{figures, heading, source_headers, tr, RenderOptions};
use crate::ClientError;

/// A short sheet name (Excel allows 31 characters) for each table.
fn sheet_name(table: &Table, lang: Lang) -> String {
    let (vi, en) = match table.key {
        "patrols" => ("Tuần tra", "Patrols"),
        "patrols_by_month" => ("Tuần tra theo tháng", "Patrols per month"),
        "by_month" => ("Theo tháng", "By month"),
        "violations" => ("Vi phạm", "Violations"),
        "exchanges" => ("Trao đổi thông tin", "Exchanges"),
        "activities" => ("Dân vận theo loại", "Activities by kind"),
        "activities_by_unit" => ("Dân vận theo đơn vị", "Activities by unit"),
        "plan_items" => ("Nhiệm vụ kế hoạch", "Plan items"),
        other => (other, other),
    };
    let name = match lang {
        Lang::Vi => vi,
        Lang::En => en,
    };
    name.chars().take(31).collect()
}

struct Styles {
    title: XFormat,
    header: XFormat,
    label: XFormat,
    total_label: XFormat,
    count: XFormat,
    hours: XFormat,
    money: XFormat,
    total_count: XFormat,
    total_hours: XFormat,
    total_money: XFormat,
}

impl Styles {
    fn new() -> Styles {
        let cell = || XFormat::new().set_border(FormatBorder::Thin);
        let num = |f: &str| cell().set_num_format(f);
        Styles {
            title: XFormat::new().set_bold().set_font_size(14),
            header: cell()
                .set_bold()
                .set_text_wrap()
                .set_background_color(Color::RGB(0xDCE6F0)),
            label: cell(),
            total_label: cell().set_bold(),
            count: num("#,##0"),
            hours: num("#,##0.0"),
            money: num("#,##0"),
            total_count: num("#,##0").set_bold(),
            total_hours: num("#,##0.0").set_bold(),
            total_money: num("#,##0").set_bold(),
        }
    }

    fn number(&self, format: Format, total: bool) -> &XFormat {
        match (format, total) {
            (Format::Count, false) => &self.count,
            (Format::Hours, false) => &self.hours,
            (Format::Money, false) => &self.money,
            (Format::Count, true) => &self.total_count,
            (Format::Hours, true) => &self.total_hours,
            (Format::Money, true) => &self.total_money,
        }
    }
}

fn write_heading(
    ws: &mut Worksheet,
    report: &Report,
    title: &str,
    styles: &Styles,
    lang: Lang,
) -> Result<u32, XlsxError> {
    let (report_title, lines) = heading(report, lang);
    ws.write_string_with_format(0, 0, title, &styles.title)?;
    ws.write_string(1, 0, report_title)?;
    for (i, line) in lines.iter().enumerate() {
        ws.write_string(2 + i as u32, 0, line)?;
    }
    Ok(3 + lines.len() as u32)
}

fn write_table(
    ws: &mut Worksheet,
    report: &Report,
    table: &Table,
    styles: &Styles,
    lang: Lang,
) -> Result<(), XlsxError> {
    let top = write_heading(ws, report, table.title.get(lang), styles, lang)?;
    ws.write_string_with_format(top, 0, table.row_header.get(lang), &styles.header)?;
    let widest = table
        .rows
        .iter()
        .map(|r| r.label.get(lang).chars().count())
        .max()
        .unwrap_or(10);
    ws.set_column_width(0, (widest.clamp(12, 60) + 2) as f64)?;
    for (c, column) in table.columns.iter().enumerate() {
        let col = (c + 1) as u16;
        ws.write_string_with_format(top, col, column.label.get(lang), &styles.header)?;
        let width = match column.format {
            Format::Money => 16.0,
            _ => 12.0,
        };
        ws.set_column_width(col, width)?;
    }
    ws.set_row_height(top, 32)?;
    for (r, row) in (top + 1..).zip(table.rows.iter().chain(table.total.iter())) {
        let total = row.key == "total";
        let label_style = if total {
            &styles.total_label
        } else {
            &styles.label
        };
        ws.write_string_with_format(r, 0, row.label.get(lang), label_style)?;
        for (c, (column, cell)) in table.columns.iter().zip(&row.cells).enumerate() {
            ws.write_number_with_format(
                r,
                (c + 1) as u16,
                cell.value,
                styles.number(column.format, total),
            )?;
        }
    }
    ws.set_freeze_panes(top + 1, 1)?;
    Ok(())
}

fn write_sources(
    ws: &mut Worksheet,
    report: &Report,
    styles: &Styles,
    lang: Lang,
) -> Result<(), XlsxError> {
    let top = write_heading(
        ws,
        report,
        tr(lang, "Nguồn số liệu", "Sources of the figures"),
        styles,
        lang,
    )?;
    let headers = source_headers(lang);
    let widths = [28.0, 28.0, 20.0, 12.0, 30.0, 18.0, 12.0, 28.0, 40.0];
    for (c, (h, w)) in headers.iter().zip(widths).enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &styles.header)?;
        ws.set_column_width(c as u16, w)?;
    }
    let mut r = top + 1;
    for table in &report.tables {
        for (row, column, cell) in figures(table, lang) {
            for &i in &cell.sources {
                let s = &report.sources[i as usize];
                ws.write_string(r, 0, table.title.get(lang))?;
                ws.write_string(r, 1, row)?;
                ws.write_string(r, 2, column)?;
                ws.write_number(r, 3, cell.value)?;
                ws.write_string(r, 4, &s.id)?;
                ws.write_string(r, 5, kind_label(s.kind, lang))?;
                ws.write_string(r, 6, s.date.as_deref().unwrap_or(""))?;
                ws.write_string(r, 7, &s.unit)?;
                ws.write_string(r, 8, &s.title)?;
                r += 1;
            }
        }
    }
    ws.set_freeze_panes(top + 1, 0)?;
    Ok(())
}

fn build(report: &Report, options: RenderOptions) -> Result<Vec<u8>, XlsxError> {
    let lang = options.lang;
    let styles = Styles::new();
    let mut wb = Workbook::new();
    for table in &report.tables {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(table, lang))?;
        write_table(ws, report, table, &styles, lang)?;
    }
    if options.details {
        let ws = wb.add_worksheet();
        ws.set_name(tr(lang, "Nguồn số liệu", "Sources"))?;
        write_sources(ws, report, &styles, lang)?;
    }
    wb.save_to_buffer()
}

/// The workbook's bytes.
pub(super) fn workbook(report: &Report, options: RenderOptions) -> Result<Vec<u8>, ClientError> {
    build(report, options).map_err(|e| ClientError::User(format!("writing XLSX: {e}")))
}
