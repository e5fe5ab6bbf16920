//! One function per subcommand: call the client crate, print the result.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use tidemark_client::report::ReportFormat;
use tidemark_client::{Client, ClientError, ExportFormat, ImportProgress, STORE_FILE};
use tidemark_domain::Lang;
use tidemark_store::ListFilter;

use crate::args::{Command, DocAction, Format, ReportFormatArg, TrackAction};
use crate::output::{self, t};
use crate::{secrets, Failure};

/// Runs one command against the store in `dir`.
pub fn run(command: Command, dir: &Path, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let open = || -> Result<Client, Failure> {
        let mut c = if tidemark_client::is_encrypted(dir) && dir.join(STORE_FILE).exists() {
            Client::unlock(dir, &secrets::unlock(lang)?).map_err(fail)?
        } else {
            Client::open(dir).map_err(fail)?
        };
        c.set_lang(lang);
        Ok(c)
    };
    match command {
        Command::Init {
            unit,
            user,
            unencrypted,
        } => {
            let user = user
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let pass = if unencrypted {
                None
            } else {
                Some(secrets::new(secrets::ENV, lang)?.ok_or_else(|| {
                    Failure::User(
                        t(
                            lang,
                            "Cần một mật khẩu để mã hóa kho dữ liệu: đặt biến TIDEMARK_PASSPHRASE, chạy trong cửa sổ dòng lệnh, hoặc dùng --unencrypted (không khuyến nghị).",
                            "A passphrase is needed to encrypt the store: set TIDEMARK_PASSPHRASE, run in a terminal, or pass --unencrypted (not recommended).",
                        )
                        .into(),
                    )
                })?)
            };
            let c = Client::init_with(dir, &unit, &user, pass.as_ref()).map_err(fail)?;
            say!(
                "{} {} ({}: {}, {}: {}{})",
                t(lang, "Đã tạo kho dữ liệu tại", "Created the store in"),
                dir.display(),
                t(lang, "đơn vị", "unit"),
                c.identity().unit,
                t(lang, "thiết bị", "device"),
                c.identity().device_id,
                if c.encrypted() {
                    t(lang, ", đã mã hóa", ", encrypted")
                } else {
                    t(lang, ", KHÔNG mã hóa", ", NOT encrypted")
                }
            );
            Ok(())
        }
        Command::Encrypt => {
            let pass = secrets::new(secrets::ENV, lang)?.ok_or_else(|| {
                Failure::User(
                    t(
                        lang,
                        "Cần một mật khẩu mới: đặt biến TIDEMARK_PASSPHRASE hoặc chạy trong cửa sổ dòng lệnh.",
                        "A new passphrase is needed: set TIDEMARK_PASSPHRASE or run in a terminal.",
                    )
                    .into(),
                )
            })?;
            let started = std::time::Instant::now();
            Client::encrypt(dir, &pass).map_err(fail)?;
            say!(
                "{} {} ({:.1} s)",
                t(lang, "Đã mã hóa kho dữ liệu tại", "Encrypted the store in"),
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Passphrase => {
            let old = secrets::unlock(lang)?;
            let new = secrets::new(secrets::ENV_NEW, lang)?.ok_or_else(|| {
                Failure::User(
                    t(
                        lang,
                        "Cần mật khẩu mới: đặt biến TIDEMARK_NEW_PASSPHRASE hoặc chạy trong cửa sổ dòng lệnh.",
                        "A new passphrase is needed: set TIDEMARK_NEW_PASSPHRASE or run in a terminal.",
                    )
                    .into(),
                )
            })?;
            Client::change_passphrase(dir, &old, &new).map_err(fail)?;
            say!(
                "{}",
                t(lang, "Đã đổi mật khẩu.", "The passphrase was changed.")
            );
            Ok(())
        }
        Command::Info { out } => info(&open()?, out.json, lang),
        Command::Import { file, out } => import(&mut open()?, &file, out.json, lang),
        Command::Report {
            from,
            to,
            units,
            format,
            out,
            details,
            as_of,
        } => {
            let format = match format {
                ReportFormatArg::Md => ReportFormat::Md,
                ReportFormatArg::Csv => ReportFormat::Csv,
                ReportFormatArg::Xlsx => ReportFormat::Xlsx,
                ReportFormatArg::Html => ReportFormat::Html,
            };
            let request = crate::report::Request {
                from,
                to,
                units,
                as_of,
                format,
                details,
            };
            crate::report::run(&open()?, request, out.as_deref(), lang)
        }
        Command::Export { format, kind, out } => {
            export(&open()?, format, kind, out.as_deref(), lang)
        }
        Command::List {
            kind,
            unit,
            from,
            to,
            limit,
            offset,
            out,
        } => {
            let c = open()?;
            let unit = match unit {
                Some(u) => Some(c.unit_name(&u).map_err(fail)?.unwrap_or(u)),
                None => None,
            };
            let filter = ListFilter {
                kind: kind
                    .as_deref()
                    .map(Client::parse_kind)
                    .transpose()
                    .map_err(fail)?,
                unit,
                from: check_date(from, lang)?,
                to: check_date(to, lang)?,
                limit,
                offset,
            };
            let (rows, total) = c.store().list(&filter).map_err(|e| fail(e.into()))?;
            if out.json {
                return output::json(&serde_json::json!({ "total": total, "records": rows }));
            }
            output::rows(&rows, lang);
            say!(
                "{} {} / {}",
                t(lang, "Hiển thị", "Showing"),
                rows.len(),
                total
            );
            Ok(())
        }
        Command::Show { id, out } => {
            let c = open()?;
            let view = c.show(&id).map_err(fail)?;
            if out.json {
                let delivery = c.delivery(&id).map_err(fail)?;
                let mut v =
                    serde_json::to_value(&view).map_err(|e| Failure::Internal(e.to_string()))?;
                v["delivery"] = serde_json::to_value(&delivery)
                    .map_err(|e| Failure::Internal(e.to_string()))?;
                return output::json(&v);
            }
            let value =
                serde_json::to_value(&view.record).map_err(|e| Failure::Internal(e.to_string()))?;
            if let serde_json::Value::Object(map) = value {
                for (k, v) in map {
                    if k == "route" {
                        continue;
                    }
                    say!("{k:>20}: {}", output::short(Some(&v)));
                }
            }
            say!(
                "{:>20}: {}",
                t(lang, "điểm hành trình", "track points"),
                view.track_points
            );
            say!(
                "{:>20}: {}",
                t(lang, "số thay đổi", "changes"),
                view.changes
            );
            print_conflicts(&id, &view.conflicts, lang);
            print_delivery(&c.delivery(&id).map_err(fail)?, lang);
            Ok(())
        }
        Command::Search {
            text,
            kind,
            limit,
            out,
        } => {
            let c = open()?;
            let kind = kind
                .as_deref()
                .map(Client::parse_kind)
                .transpose()
                .map_err(fail)?;
            let hits = c
                .store()
                .search(&text, kind, limit)
                .map_err(|e| fail(e.into()))?;
            if out.json {
                return output::json(&hits);
            }
            output::rows(&hits, lang);
            say!("{} {}", hits.len(), t(lang, "kết quả", "results"));
            Ok(())
        }
        Command::Edit { id, field, value } => {
            let outcome = open()?.edit(&id, &field, &value).map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::Splice {
            id,
            field,
            pos,
            delete,
            text,
        } => {
            let outcome = open()?
                .splice(&id, &field, pos, delete, &text)
                .map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::History { id, out } => {
            let entries = open()?.history(&id).map_err(fail)?;
            if out.json {
                return output::json(&entries);
            }
            let forged = entries
                .iter()
                .filter(|e| e.signature == Some("forged"))
                .count();
            for e in entries {
                let signed = match e.signature {
                    Some("verified") => t(lang, "✓ đã xác minh", "✓ verified"),
                    Some("forged") => t(lang, "✗ CHỮ KÝ GIẢ", "✗ FORGED SIGNATURE"),
                    Some("unknown_key") => t(lang, "? chưa rõ khóa", "? key not known yet"),
                    _ => t(lang, "– chưa ký", "– unsigned"),
                };
                say!(
                    "{}  {} ({}, {}) [{}] {}  {}",
                    output::time(e.time),
                    e.author.user,
                    e.author.unit,
                    e.author.device,
                    e.author.op,
                    &e.change[..12.min(e.change.len())],
                    signed
                );
                for f in e.fields {
                    say!(
                        "    {}: {} → {}",
                        f.field,
                        output::short(f.old.as_ref()),
                        output::short(f.new.as_ref())
                    );
                }
            }
            if forged > 0 {
                say!(
                    "{}",
                    t(
                        lang,
                        &format!(
                            "Cảnh báo: {forged} thay đổi có chữ ký không khớp với khóa của thiết bị tác giả."
                        ),
                        &format!(
                            "Warning: {forged} change(s) carry a signature that does not match their author's device key."
                        ),
                    )
                );
            }
            Ok(())
        }
        Command::Conflicts { out } => {
            let all = open()?.conflicts().map_err(fail)?;
            if out.json {
                let list: Vec<_> = all
                    .iter()
                    .map(|(id, c)| serde_json::json!({ "id": id, "conflicts": c }))
                    .collect();
                return output::json(&list);
            }
            if all.is_empty() {
                say!("{}", t(lang, "Không có xung đột.", "No conflicts."));
            }
            for (id, conflicts) in &all {
                print_conflicts(id, conflicts, lang);
            }
            Ok(())
        }
        Command::Resolve { id, field, value } => {
            let outcome = open()?.resolve(&id, &field, &value).map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::Attach {
            id,
            file,
            inspection,
            violation,
            out,
        } => crate::attachments::attach(
            &mut open()?,
            &id,
            &file,
            (inspection, violation),
            out.json,
            lang,
        ),
        Command::Attachment { action } => crate::attachments::attachment(&open()?, action, lang),
        Command::Track {
            action: TrackAction::Import { id, file, out },
        } => {
            let report = open()?.import_track(&id, &file).map_err(fail)?;
            if out.json {
                return output::json(&report);
            }
            for (line, reason) in &report.skipped {
                eprintln!(
                    "{} {line}: {reason}",
                    t(lang, "bỏ qua dòng", "skipped line")
                );
            }
            say!(
                "{} {} {}",
                t(lang, "Đã thêm", "Added"),
                report.points,
                t(lang, "điểm vào hành trình", "track points")
            );
            if report.outside_patrol_time > 0 {
                eprintln!(
                    "{}: {}",
                    t(
                        lang,
                        "cảnh báo: số điểm ngoài thời gian tuần tra",
                        "warning: points outside the patrol's time"
                    ),
                    report.outside_patrol_time
                );
            }
            Ok(())
        }
        Command::Doc { action } => doc(&mut open()?, action, lang),
        Command::Enroll { server, code, out } => {
            crate::syncing::enroll(open()?, &server, &code, out.json, lang)
        }
        Command::Sync { once, out } => crate::syncing::sync(open()?, once, out.json, lang),
        Command::Status { out } => crate::syncing::status(&open()?, out.json, lang),
        Command::Bundle { action } => crate::syncing::bundle(open()?, action, lang),
        Command::Demo { dir, serve } => crate::demo::run(dir, serve, lang),
    }
}

fn check_date(d: Option<String>, lang: Lang) -> Result<Option<String>, Failure> {
    match d {
        Some(s) if tidemark_domain::validate::parse_date(&s).is_none() => {
            Err(Failure::User(format!(
                "{} `{s}` (YYYY-MM-DD)",
                t(lang, "ngày không hợp lệ", "invalid date")
            )))
        }
        other => Ok(other),
    }
}

fn saved(lang: Lang, id: &str, outcome: tidemark_client::WriteOutcome) {
    match outcome {
        tidemark_client::WriteOutcome::Unchanged => say!(
            "{id}: {}",
            t(lang, "không có gì thay đổi", "nothing changed")
        ),
        _ => say!(
            "{id}: {}",
            t(lang, "đã lưu trên máy", "saved on this device")
        ),
    }
}

fn print_delivery(d: &tidemark_client::sync::Delivery, lang: Lang) {
    use tidemark_client::sync::DeliveryStage::*;
    let mark = |stage| if d.stage >= stage { "✓" } else { "·" };
    say!(
        "{:>20}: {} {} → {} {} → {} {}",
        t(lang, "chuyển giao", "delivery"),
        mark(SavedHere),
        SavedHere.label(lang),
        mark(AtRelay),
        AtRelay.label(lang),
        mark(ReceivedByHq),
        ReceivedByHq.label(lang)
    );
    for u in &d.units {
        say!(
            "{:>20}  {} {} ({}{})",
            "",
            if u.current { "✓" } else { "…" },
            u.unit,
            if u.via == "bundle" {
                t(lang, "qua gói USB", "by USB bundle")
            } else {
                t(lang, "qua máy chủ", "via the relay")
            },
            if u.current {
                ""
            } else {
                t(lang, ", bản cũ hơn", ", an older state")
            }
        );
    }
}

fn print_conflicts(id: &str, conflicts: &[tidemark_domain::Conflict], lang: Lang) {
    for c in conflicts {
        say!("{id} · {} — {}:", c.field, t(lang, "xung đột", "conflict"));
        for v in &c.values {
            say!(
                "    {}  ({}, {}, {})",
                output::short(Some(&v.value)),
                v.author.user,
                v.author.unit,
                output::time(v.time)
            );
        }
    }
}

fn info(c: &Client, json: bool, lang: Lang) -> Result<(), Failure> {
    let counts = c
        .counts()
        .map_err(|e| Failure::from_client(e.into(), lang))?;
    let id = c.identity();
    if json {
        return output::json(&serde_json::json!({
            "data_dir": c.dir(),
            "unit": id.unit,
            "user": id.user,
            "device": id.device_id,
            "records": counts.iter().map(|(k, n)| (k.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
        }));
    }
    say!("{}: {}", t(lang, "Kho", "Store"), c.dir().display());
    say!("{}: {}", t(lang, "Đơn vị", "Unit"), id.unit);
    say!("{}: {}", t(lang, "Người dùng", "User"), id.user);
    say!("{}: {}", t(lang, "Thiết bị", "Device"), id.device_id);
    for (k, n) in counts {
        say!("  {k}: {n}");
    }
    Ok(())
}

fn import(c: &mut Client, file: &Path, json: bool, lang: Lang) -> Result<(), Failure> {
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

fn export(
    c: &Client,
    format: Format,
    kind: Option<String>,
    out: Option<&Path>,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let kind = kind
        .as_deref()
        .map(Client::parse_kind)
        .transpose()
        .map_err(fail)?;
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

fn doc(c: &mut Client, action: DocAction, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    match action {
        DocAction::Save { id, out } => {
            let bytes = c.document_bytes(&id).map_err(fail)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| fail(ClientError::io(format!("writing {}", out.display()), e)))?;
            say!("{id}: {} bytes → {}", bytes.len(), out.display());
        }
        DocAction::Merge { id, file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| fail(ClientError::io(format!("reading {}", file.display()), e)))?;
            let changed = c.apply_changes(&id, &bytes).map_err(fail)?;
            say!(
                "{id}: {}",
                if changed {
                    t(lang, "đã hợp nhất", "merged")
                } else {
                    t(lang, "không có gì mới", "nothing new")
                }
            );
        }
    }
    Ok(())
}
