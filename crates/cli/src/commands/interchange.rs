//! The interchange format: import JSON Lines with progress, export records.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use tidemark_client::{Client, ClientError, ExportFormat, ImportProgress};
use tidemark_domain::Lang;

use super::parse_kind;
use crate::args::Format;
use crate::output::{self, t};
use crate::Failure;

pub(super) fn import(c: &mut Client, file: &Path, json: bool, lang: Lang) -> Result<(), Failure> {
    let total = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut saved = 0usize;
    let mut progress = |p: ImportProgress| {
        saved = p.records_done;
        bar.set_position(p.bytes_done);
        bar.set_message(format!(
            "{} {}",
            p.records_done,
            t(lang, "bản ghi", "records")
        ));
    };
    let result = c.import_file(file, &mut progress);
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(e) if e.is_user_error() && matches!(e, ClientError::Store(tidemark_store::StoreError::DiskFull)) => {
            return Err(Failure::User(match lang {
                Lang::Vi => format!(
                    "ổ đĩa đầy trong khi nhập: {saved} bản ghi đầu tiên đã được lưu (theo lô), phần sau chưa được lưu. \
                     Hãy giải phóng dung lượng rồi nhập lại cùng tệp: bản ghi đã lưu không bị nhân đôi."
                ),
                Lang::En => format!(
                    "the disk filled up during the import: the first {saved} records were saved (in whole batches), \
                     nothing after them. Free some space and import the same file again: saved records are not duplicated."
                ),
            }))
        }
        Err(e) => return Err(Failure::from_client(e, lang)),
    };
    if json {
        output::json(&report)?;
    } else {
        for p in &report.problems {
            eprintln!(
                "{} {}{}: {}",
                t(lang, "dòng", "line"),
                p.line,
                p.id.as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                p.reason
            );
        }
        for w in &report.warnings {
            eprintln!("{} {}: {}", t(lang, "dòng", "line"), w.line, w.reason);
        }
        for f in &report.unknown_fields {
            eprintln!(
                "{}: {f}",
                t(
                    lang,
                    "cảnh báo: trường không xác định, bỏ qua",
                    "warning: unknown field, ignored"
                )
            );
        }
        say!(
            "{}: {} {}, {} {}, {} {}, {} {}",
            t(lang, "Đã nhập", "Imported"),
            report.created,
            t(lang, "mới", "new"),
            report.updated,
            t(lang, "cập nhật", "updated"),
            report.unchanged,
            t(lang, "không đổi", "unchanged"),
            report.problems.len(),
            t(lang, "dòng lỗi", "bad lines")
        );
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(format!(
            "{} {}",
            report.problems.len(),
            t(
                lang,
                "dòng không được nhập; sửa các dòng trên rồi nhập lại",
                "lines were not imported; fix them and import again"
            )
        )))
    }
}

pub(super) fn export(
    c: &Client,
    format: Format,
    kind: Option<String>,
    out: Option<&Path>,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let kind = parse_kind(kind.as_deref(), lang)?;
    let format = match format {
        Format::Jsonl => ExportFormat::Jsonl,
        Format::Csv => ExportFormat::Csv,
    };
    let bar = ProgressBar::new_spinner();
    let mut progress = |n: usize| bar.set_message(format!("{n} {}", t(lang, "bản ghi", "records")));
    let n = match out {
        Some(path) => {
            // Write beside the target and rename, so a failed export never leaves half a file
            // where a good one was.
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .map_err(|e| fail(ClientError::io(format!("creating {}", tmp.display()), e)))?;
            let mut w = std::io::BufWriter::new(file);
            let n = c
                .export(format, kind, &mut w, &mut progress)
                .map_err(fail)?;
            w.flush()
                .map_err(|e| fail(ClientError::io("writing the export", e)))?;
            drop(w);
            std::fs::rename(&tmp, path).map_err(|e| {
                fail(ClientError::io(
                    format!("renaming to {}", path.display()),
                    e,
                ))
            })?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let n = c
                .export(format, kind, &mut w, &mut progress)
                .map_err(fail)?;
            w.flush()
                .map_err(|e| fail(ClientError::io("writing the export", e)))?;
            n
        }
    };
    bar.finish_and_clear();
    eprintln!(
        "{} {n} {}",
        t(lang, "Đã xuất", "Exported"),
        t(lang, "bản ghi", "records")
    );
    Ok(())
}
