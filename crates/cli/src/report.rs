//! `tidemark report`: the period and units checked and worded for the user, then the client's
//! report written to a file or standard output.

use std::io::Write;
use std::path::Path;

use tidemark_client::report::{params_from_text, render, PeriodError, RenderOptions, ReportFormat};
use tidemark_client::{write_atomically, Client, ClientError};
use tidemark_domain::Lang;

use crate::output::t;
use crate::Failure;

/// What `tidemark report` was asked for.
pub struct Request {
    pub from: String,
    pub to: String,
    pub units: Vec<String>,
    pub as_of: Option<String>,
    pub format: ReportFormat,
    pub details: bool,
}

/// Runs it.
pub fn run(c: &Client, r: Request, out: Option<&Path>, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let mut params = params_from_text(&r.from, &r.to, r.as_of.as_deref()).map_err(|e| {
        Failure::User(match e {
            PeriodError::BadDate(s) => format!(
                "{} `{s}` (YYYY-MM-DD)",
                t(lang, "ngày không hợp lệ", "invalid date")
            ),
            PeriodError::Backwards => format!(
                "{} ({} < {})",
                t(
                    lang,
                    "khoảng thời gian kết thúc trước khi bắt đầu",
                    "the period ends before it starts"
                ),
                r.to,
                r.from
            ),
        })
    })?;
    for u in r.units {
        match c.unit_name(&u).map_err(fail)? {
            Some(name) => params.units.push(name),
            None => {
                return Err(Failure::User(format!(
                    "{} `{u}`",
                    t(
                        lang,
                        "không có đơn vị nào có tên hoặc mã",
                        "no unit has the name or code"
                    )
                )))
            }
        }
    }
    if r.format == ReportFormat::Xlsx && out.is_none() {
        return Err(Failure::User(
            t(
                lang,
                "XLSX là tệp nhị phân: hãy chỉ định --out TỆP",
                "XLSX is a binary file: give --out FILE",
            )
            .into(),
        ));
    }
    let report = c.report(&params).map_err(fail)?;
    let options = RenderOptions {
        lang,
        details: r.details,
    };
    let bytes = render(&report, r.format, options).map_err(fail)?;
    match out {
        Some(path) => {
            write_atomically(path, &bytes).map_err(fail)?;
            eprintln!(
                "{} {} ({} {})",
                t(lang, "Đã ghi báo cáo vào", "Wrote the report to"),
                path.display(),
                report.sources.len(),
                t(lang, "bản ghi được tính", "records counted")
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| fail(ClientError::io("writing the report", e)))?;
        }
    }
    Ok(())
}
