//! Markdown and CSV renderings of a report.

use tidemark_domain::report::{kind_label, Report, Table};
use tidemark_domain::Lang;

use super::{figures, format_value, heading, source_headers, tr, RenderOptions};
use crate::ClientError;

/// Escapes a Markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, table: &Table, lang: Lang) {
    out.push_str(&format!("\n## {}\n\n", table.title.get(lang)));
    if table.rows.is_empty() {
        out.push_str(tr(lang, "_Không có số liệu._\n", "_No data._\n"));
        return;
    }
    let mut header = vec![md_cell(table.row_header.get(lang))];
    header.extend(table.columns.iter().map(|c| md_cell(c.label.get(lang))));
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let mut rule = vec!["---".to_string()];
    rule.extend(table.columns.iter().map(|_| "---:".to_string()));
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in table.rows.iter().chain(table.total.iter()) {
        let bold = row.key == "total";
        let mut cells = vec![if bold {
            format!("**{}**", md_cell(row.label.get(lang)))
        } else {
            md_cell(row.label.get(lang))
        }];
        cells.extend(table.columns.iter().zip(&row.cells).map(|(c, cell)| {
            let v = format_value(cell.value, c.format, lang);
            if bold {
                format!("**{v}**")
            } else {
                v
            }
        }));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

/// The report as Markdown; with `details`, each table is followed by the records behind each
/// figure, and the report ends with a list of those records.
pub(super) fn markdown(report: &Report, options: RenderOptions) -> String {
    let lang = options.lang;
    let (title, lines) = heading(report, lang);
    let mut out = format!("# {title}\n\n");
    for line in lines {
        out.push_str(&format!("- {line}\n"));
    }
    for table in &report.tables {
        md_table(&mut out, table, lang);
        if options.details {
            let mut listed = false;
            for (row, column, cell) in figures(table, lang) {
                if !listed {
                    out.push_str(&format!(
                        "\n{}:\n\n",
                        tr(lang, "Nguồn số liệu", "Sources of the figures")
                    ));
                    listed = true;
                }
                let ids: Vec<&str> = cell
                    .sources
                    .iter()
                    .map(|&i| report.sources[i as usize].id.as_str())
                    .collect();
                out.push_str(&format!(
                    "- {} — {} ({}): {}\n",
                    md_cell(row),
                    md_cell(column),
                    ids.len(),
                    ids.join(", ")
                ));
            }
        }
    }
    if options.details && !report.sources.is_empty() {
        out.push_str(&format!(
            "\n## {}\n\n",
            tr(lang, "Các bản ghi được tính", "Records counted")
        ));
        out.push_str(&format!(
            "| {} |\n|---|---|---|---|---|\n",
            tr(
                lang,
                "Mã | Loại | Ngày | Đơn vị | Tiêu đề",
                "Id | Kind | Date | Unit | Title"
            )
        ));
        for s in &report.sources {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                md_cell(&s.id),
                kind_label(s.kind, lang),
                s.date.as_deref().unwrap_or(""),
                md_cell(&s.unit),
                md_cell(&s.title)
            ));
        }
    }
    out
}

/// The report as CSV: each table under a title line, separated by a blank line; with `details`,
/// then one line per (figure, record) pair. Figures are plain numbers (no grouping) so that
/// spreadsheets read them as numbers.
pub(super) fn csv(report: &Report, options: RenderOptions) -> Result<Vec<u8>, ClientError> {
    let lang = options.lang;
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let fail = |e: csv::Error| ClientError::User(format!("writing CSV: {e}"));
    let (title, lines) = heading(report, lang);
    w.write_record([title]).map_err(fail)?;
    for line in lines {
        w.write_record([line]).map_err(fail)?;
    }
    for table in &report.tables {
        w.write_record([""]).map_err(fail)?;
        w.write_record([table.title.get(lang)]).map_err(fail)?;
        let mut header = vec![table.row_header.get(lang).to_string()];
        header.extend(table.columns.iter().map(|c| c.label.get(lang).to_string()));
        w.write_record(&header).map_err(fail)?;
        for row in table.rows.iter().chain(table.total.iter()) {
            let mut cells = vec![row.label.get(lang).to_string()];
            cells.extend(row.cells.iter().map(|c| plain(c.value)));
            w.write_record(&cells).map_err(fail)?;
        }
    }
    if options.details {
        w.write_record([""]).map_err(fail)?;
        w.write_record([tr(lang, "Nguồn số liệu", "Sources of the figures")])
            .map_err(fail)?;
        w.write_record(source_headers(lang)).map_err(fail)?;
        for table in &report.tables {
            for (row, column, cell) in figures(table, lang) {
                for &i in &cell.sources {
                    let s = &report.sources[i as usize];
                    w.write_record([
                        table.title.get(lang),
                        row,
                        column,
                        &plain(cell.value),
                        &s.id,
                        kind_label(s.kind, lang),
                        s.date.as_deref().unwrap_or(""),
                        &s.unit,
                        &s.title,
                    ])
                    .map_err(fail)?;
                }
            }
        }
    }
    w.into_inner()
        .map_err(|e| ClientError::User(format!("writing CSV: {e}")))
}

/// A number as spreadsheets parse it: whole numbers without decimals, others with one.
fn plain(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}
