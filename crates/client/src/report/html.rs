//! The report as one self-contained printable page: inline CSS sized for A4, two SVG charts
//! (patrols per month per station; violations by type) and every table. With `details`, each
//! figure links to the list of records it counts, at the end of the page.

use std::fmt::Write as _;

use tidemark_domain::report::{kind_label, Report, Table};
use tidemark_domain::Lang;

use super::{day, figures, format_value, heading, tr, RenderOptions};

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: #1b2733;
       margin: 0 auto; max-width: 190mm; font-size: 10pt; line-height: 1.35; padding: 8mm 0; }
header { border-bottom: 2px solid #1d4e89; margin-bottom: 6mm; padding-bottom: 3mm; }
.org { font-size: 9pt; text-transform: uppercase; letter-spacing: .04em; color: #44546a; }
h1 { font-size: 16pt; margin: 2mm 0 2mm; color: #1d4e89; text-transform: uppercase; }
header p { margin: 0.5mm 0; }
h2 { font-size: 11.5pt; margin: 7mm 0 2mm; color: #1d4e89; break-after: avoid; }
figure { margin: 4mm 0; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 1mm; }
svg { max-width: 100%; height: auto; }
svg text { font-family: inherit; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin-bottom: 2mm; }
th, td { border: 1px solid #9aa9b8; padding: 1mm 1.5mm; }
td:first-child { min-width: 36mm; }
th { background: #dce6f0; font-weight: 600; text-align: center; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; }
tr.total td { font-weight: 700; background: #f0f4f8; }
p.empty { color: #5b6b7b; font-style: italic; }
td a { color: inherit; text-decoration: none; border-bottom: 1px dotted #1d4e89; }
section.sources details { margin: 1mm 0; }
section.sources summary { cursor: pointer; }
section.sources p.ids { margin: 1mm 0 2mm 5mm; font-size: 8pt; font-family: monospace; }
footer { margin-top: 8mm; font-size: 8pt; color: #5b6b7b; }
@media print { body { padding: 0; max-width: none; } td a { border: 0; } }
"#;

/// Distinct colours that stay apart when printed in grey (they differ in lightness too).
const PALETTE: [&str; 8] = [
    "#1d4e89", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8c5a2b", "#555555",
];

/// Axis ticks for counts from 0 to at least `max`: four or five steps of 1, 2 or 5 times a power
/// of ten, never less than one (counts are whole).
fn ticks(max: f64) -> (f64, usize) {
    let raw = (max / 4.0).max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let steps = ((max / step).ceil() as usize).max(1);
    (step, steps)
}

/// Patrols per month, one line per station.
fn monthly_chart(report: &Report, lang: Lang) -> Option<String> {
    let table = report.table("patrols_by_month")?;
    let months = report.months.len();
    if table.rows.is_empty() || months == 0 {
        return None;
    }
    let (w, h, left, right, top, bottom) = (720.0, 300.0, 44.0, 12.0, 12.0, 34.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = table
        .rows
        .iter()
        .flat_map(|r| r.cells[..months].iter().map(|c| c.value))
        .fold(0.0, f64::max);
    let (step, steps) = ticks(max);
    let top_value = step * steps as f64;
    let x = |i: usize| {
        if months == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (months - 1) as f64
        }
    };
    let y = |v: f64| top + plot_h * (1.0 - v / top_value);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(table.title.get(lang))
    );
    for i in 0..=steps {
        let v = step * i as f64;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d5dde5"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="#44546a">{}</text>"##,
            w - right,
            left - 6.0,
            y(v) + 3.5,
            format_value(v, tidemark_domain::report::Format::Count, lang),
            yy = y(v)
        );
    }
    let label_every = months.div_ceil(12);
    for (i, m) in report.months.iter().enumerate() {
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#44546a">{}/{}</text>"##,
                x(i),
                h - bottom + 16.0,
                &m[5..],
                &m[2..4]
            );
        }
    }
    for (s, row) in table.rows.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let points: Vec<String> = row.cells[..months]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:.1},{:.1}", x(i), y(c.value)))
            .collect();
        let dash = if s >= PALETTE.len() {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            points.join(" ")
        );
        for p in &points {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                svg,
                r#"<circle cx="{px}" cy="{py}" r="2.6" fill="{colour}"/>"#
            );
        }
    }
    svg.push_str("</svg>");
    let mut legend = String::from(
        r#"<div class="legend" style="display:flex;flex-wrap:wrap;gap:2mm 5mm;font-size:8.5pt">"#,
    );
    for (s, row) in table.rows.iter().enumerate() {
        let _ = write!(
            legend,
            r#"<span><span style="display:inline-block;width:10px;height:10px;background:{};margin-right:4px"></span>{}</span>"#,
            PALETTE[s % PALETTE.len()],
            esc(row.label.get(lang))
        );
    }
    legend.push_str("</div>");
    Some(format!(
        "<figure><figcaption>{}</figcaption>{svg}{legend}</figure>",
        esc(tr(
            lang,
            "Biểu đồ 1. Số chuyến tuần tra theo tháng của từng đồn",
            "Chart 1. Patrols per month, by station"
        ))
    ))
}

/// Violations by type, as horizontal bars.
fn violations_chart(report: &Report, lang: Lang) -> Option<String> {
    let table = report.table("violations")?;
    if table.rows.is_empty() {
        return None;
    }
    let (w, label_w, bar_h, gap) = (720.0, 300.0, 18.0, 8.0);
    let h = (bar_h + gap) * table.rows.len() as f64 + gap;
    let max = table
        .rows
        .iter()
        .map(|r| r.cells[0].value)
        .fold(0.0, f64::max);
    let scale = (w - label_w - 60.0) / max.max(1.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(table.title.get(lang))
    );
    for (i, row) in table.rows.iter().enumerate() {
        let top = gap + i as f64 * (bar_h + gap);
        let value = row.cells[0].value;
        let label: String = row.label.get(lang).chars().take(48).collect();
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="10.5" text-anchor="end" fill="#1b2733">{}</text><rect x="{label_w}" y="{top:.1}" width="{:.1}" height="{bar_h}" fill="#d1495b"/><text x="{:.1}" y="{:.1}" font-size="10.5" fill="#1b2733">{}</text>"##,
            label_w - 8.0,
            top + bar_h - 5.0,
            esc(&label),
            value * scale,
            label_w + value * scale + 6.0,
            top + bar_h - 5.0,
            format_value(value, tidemark_domain::report::Format::Count, lang)
        );
    }
    svg.push_str("</svg>");
    Some(format!(
        "<figure><figcaption>{}</figcaption>{svg}</figure>",
        esc(tr(
            lang,
            "Biểu đồ 2. Số vụ vi phạm theo loại",
            "Chart 2. Violations by type"
        ))
    ))
}

fn anchor(t: usize, r: usize, c: usize) -> String {
    format!("src-{t}-{r}-{c}")
}

fn table_html(out: &mut String, report_table: (usize, &Table), lang: Lang, details: bool) {
    let (t, table) = report_table;
    let _ = write!(out, "<h2>{}</h2>", esc(table.title.get(lang)));
    if table.rows.is_empty() {
        let _ = write!(
            out,
            r#"<p class="empty">{}</p>"#,
            tr(lang, "Không có số liệu trong kỳ.", "No data in the period.")
        );
        return;
    }
    let _ = write!(
        out,
        "<table><thead><tr><th>{}</th>",
        esc(table.row_header.get(lang))
    );
    for c in &table.columns {
        let _ = write!(out, "<th>{}</th>", esc(c.label.get(lang)));
    }
    out.push_str("</tr></thead><tbody>");
    for (r, row) in table.rows.iter().chain(table.total.iter()).enumerate() {
        let class = if row.key == "total" {
            r#" class="total""#
        } else {
            ""
        };
        let _ = write!(out, "<tr{class}><td>{}</td>", esc(row.label.get(lang)));
        for (c, (column, cell)) in table.columns.iter().zip(&row.cells).enumerate() {
            let value = format_value(cell.value, column.format, lang);
            if details && !cell.sources.is_empty() {
                let _ = write!(
                    out,
                    "<td class=\"num\"><a href=\"#{}\">{value}</a></td>",
                    anchor(t, r, c)
                );
            } else {
                let _ = write!(out, "<td class=\"num\">{value}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn sources_html(out: &mut String, report: &Report, lang: Lang) {
    let _ = write!(
        out,
        r#"<section class="sources"><h2>{}</h2><p>{}</p>"#,
        tr(lang, "Nguồn số liệu", "Sources of the figures"),
        tr(
            lang,
            "Mỗi số liệu trong các bảng trên dẫn đến danh sách các bản ghi được tính.",
            "Each figure in the tables above links to the records it counts."
        )
    );
    for (t, table) in report.tables.iter().enumerate() {
        let rows = table.rows.iter().chain(table.total.iter()).enumerate();
        for (r, row) in rows {
            for (c, (column, cell)) in table.columns.iter().zip(&row.cells).enumerate() {
                if cell.sources.is_empty() {
                    continue;
                }
                let _ = write!(
                    out,
                    r#"<details id="{}"><summary>{} — {} — {}: {} ({} {})</summary>"#,
                    anchor(t, r, c),
                    esc(table.title.get(lang)),
                    esc(row.label.get(lang)),
                    esc(column.label.get(lang)),
                    format_value(cell.value, column.format, lang),
                    cell.sources.len(),
                    tr(lang, "bản ghi", "records")
                );
                let ids: Vec<String> = cell
                    .sources
                    .iter()
                    .map(|&i| esc(&report.sources[i as usize].id))
                    .collect();
                let _ = write!(out, "<p class=\"ids\">{}</p></details>", ids.join(", "));
            }
        }
    }
    // Each record once, with what it is: the lists above give only ids.
    let _ = write!(
        out,
        "<h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        tr(lang, "Các bản ghi được tính", "Records counted"),
        tr(lang, "Mã", "Id"),
        tr(lang, "Loại", "Kind"),
        tr(lang, "Ngày", "Date"),
        tr(lang, "Đơn vị", "Unit"),
        tr(lang, "Tiêu đề", "Title")
    );
    for s in &report.sources {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.id),
            kind_label(s.kind, lang),
            s.date.as_deref().map(day).unwrap_or_default(),
            esc(&s.unit),
            esc(&s.title)
        );
    }
    out.push_str("</tbody></table>");
    out.push_str("</section>");
    // Following a link to a figure opens its list.
    out.push_str(
        "<script>function openHash(){var d=document.getElementById(location.hash.slice(1));\
         if(d&&d.tagName==='DETAILS'){d.open=true;d.scrollIntoView();}}\
         addEventListener('hashchange',openHash);openHash();</script>",
    );
}

/// The whole page.
pub(super) fn page(report: &Report, options: RenderOptions) -> String {
    let lang = options.lang;
    let (title, lines) = heading(report, lang);
    let html_lang = match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    };
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} {}–{}</title><style>{STYLE}</style></head><body><header>\
         <div class=\"org\">{}</div><h1>{}</h1>",
        esc(&title),
        day(&report.from),
        day(&report.to),
        tr(
            lang,
            "Bộ đội Biên phòng — Cấp ủy địa phương",
            "Border Guard — local Party committees"
        ),
        esc(&title)
    );
    for line in &lines {
        let _ = write!(out, "<p>{}</p>", esc(line));
    }
    out.push_str("</header>");
    if let Some(chart) = monthly_chart(report, lang) {
        out.push_str(&chart);
    }
    if let Some(chart) = violations_chart(report, lang) {
        out.push_str(&chart);
    }
    for (t, table) in report.tables.iter().enumerate() {
        table_html(&mut out, (t, table), lang, options.details);
    }
    if options.details
        && report
            .tables
            .iter()
            .any(|t| figures(t, lang).next().is_some())
    {
        sources_html(&mut out, report, lang);
    }
    let _ = write!(
        out,
        "<footer>{} {} {}.</footer></body></html>",
        tr(lang, "Lập bằng Tidemark từ", "Made with Tidemark from"),
        report.sources.len(),
        tr(lang, "bản ghi đã hợp nhất", "merged records")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::ticks;

    #[test]
    fn axis_ticks_are_round_whole_steps() {
        assert_eq!(ticks(0.0), (1.0, 1));
        assert_eq!(ticks(4.2), (2.0, 3));
        assert_eq!(ticks(5.0), (2.0, 3));
        assert_eq!(ticks(12.0), (5.0, 3));
        assert_eq!(ticks(130.0), (50.0, 3));
    }
}
