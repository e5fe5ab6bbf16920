//! The review report and its export.

use serde::Deserialize;
use tauri::State;
use tidemark_client::ClientError;
use tidemark_domain::Lang;

use super::{export_dir, with, CmdError, Exported, Res};
use crate::Shell;

/// What a report covers, as the report page sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportQuery {
    from: String,
    to: String,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    as_of: Option<String>,
}

impl ReportQuery {
    fn params(&self) -> Res<tidemark_domain::report::ReportParams> {
        use tidemark_client::report::{params_from_text, PeriodError};
        let mut params =
            params_from_text(&self.from, &self.to, self.as_of.as_deref()).map_err(|e| match e {
                PeriodError::BadDate(s) => CmdError::new(
                    "user",
                    format!("Ngày không hợp lệ: `{s}` (YYYY-MM-DD). (Invalid date.)"),
                ),
                PeriodError::Backwards => CmdError::new(
                    "user",
                    "Ngày kết thúc trước ngày bắt đầu. (The period ends before it starts.)",
                ),
            })?;
        params.units = self.units.clone();
        Ok(params)
    }
}

/// `report`: the figures, tables and the records behind each figure.
#[tauri::command(async)]
pub fn report(shell: State<'_, Shell>, q: ReportQuery) -> Res<tidemark_domain::report::Report> {
    let params = q.params()?;
    with(&shell, |c| c.report(&params))
}

/// `export_report`: writes the report as `md`, `csv`, `xlsx` or `html` into the export folder
/// (never over an existing file) and says where.
#[tauri::command(async)]
pub fn export_report(
    shell: State<'_, Shell>,
    q: ReportQuery,
    format: String,
    details: bool,
) -> Res<Exported> {
    use tidemark_client::report::{render, RenderOptions, ReportFormat};
    let format: ReportFormat = format.parse().map_err(CmdError::from)?;
    let params = q.params()?;
    let (report, lang) = with(&shell, |c| {
        let lang = Lang::parse(&c.pref("lang")?.unwrap_or_default());
        Ok((c.report(&params)?, lang))
    })?;
    let bytes = render(&report, format, RenderOptions { lang, details })?;
    let dir = export_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
    let stem = format!("bao-cao-{}-{}", report.from, report.to);
    let ext = format.extension();
    let mut path = dir.join(format!("{stem}.{ext}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.{ext}"));
        n += 1;
    }
    tidemark_client::write_atomically(&path, &bytes)?;
    tracing::info!(bytes = bytes.len(), format = ext, "report exported");
    Ok(Exported {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
    })
}
