//! `enroll`, `sync`, `status`, `bundle`: the CLI over the client's sync engine and bundles.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tidemark_client::sync::{self, SharedClient, SyncError, SyncOptions, SyncStatus};
use tidemark_client::{Client, ClientError};
use tidemark_domain::Lang;
use tidemark_sync_protocol::Receipt;

use crate::args::BundleAction;
use crate::output::{self, t};
use crate::Failure;

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the async runtime: {e}")))
}

/// A sync error as a CLI failure: the user can act on everything except internal errors.
pub fn sync_failure(e: SyncError) -> Failure {
    let msg = format!("{} [{}]", e.message, e.code);
    if e.code == "internal" {
        Failure::Internal(msg)
    } else {
        Failure::User(msg)
    }
}

/// `tidemark enroll --server URL --code CODE`.
pub fn enroll(c: Client, server: &str, code: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let shared: SharedClient = Arc::new(Mutex::new(c));
    let rt = runtime()?;
    let done = rt
        .block_on(sync::enroll(
            &shared,
            server,
            code,
            SyncOptions::default().request_timeout,
        ))
        .map_err(sync_failure)?;
    if json {
        return output::json(&done);
    }
    say!(
        "{} {} ({}: {}, {}: {})",
        t(
            lang,
            "Đã đăng ký thiết bị với máy chủ",
            "Enrolled with the relay"
        ),
        done.url,
        t(lang, "thiết bị", "device"),
        done.device_id,
        t(lang, "đơn vị", "unit"),
        done.unit
    );
    if let Some(w) = done.warning {
        eprintln!("{}: {w}", t(lang, "lưu ý", "note"));
    }
    Ok(())
}

fn status_line(s: &SyncStatus, lang: Lang) -> String {
    match s {
        SyncStatus::Idle => t(lang, "chờ", "idle").into(),
        SyncStatus::Offline {
            code,
            retry_in_secs,
            pending,
        } => format!(
            "{} ({code}); {} {retry_in_secs} s; {pending} {}",
            t(lang, "mất kết nối", "offline"),
            t(lang, "thử lại sau", "retrying in"),
            t(lang, "bản ghi chờ gửi", "records waiting")
        ),
        SyncStatus::Connecting => t(lang, "đang kết nối…", "connecting…").into(),
        SyncStatus::Syncing {
            docs_done,
            docs_total,
            bytes_up,
            bytes_down,
        } => format!(
            "{} {docs_done}/{docs_total} {}; ↑ {} ↓ {}",
            t(lang, "đang đồng bộ", "syncing"),
            t(lang, "bản ghi", "records"),
            human_bytes(*bytes_up),
            human_bytes(*bytes_down)
        ),
        SyncStatus::Transferring {
            direction,
            thumb,
            done,
            total,
            file,
            files,
            ..
        } => format!(
            "{} {file}/{files} ({}): {} / {}",
            match direction {
                sync::FileDirection::Up => t(lang, "đang gửi tệp", "sending file"),
                sync::FileDirection::Down => t(lang, "đang nhận tệp", "receiving file"),
            },
            if *thumb {
                t(lang, "ảnh thu nhỏ", "thumbnail")
            } else {
                t(lang, "tệp đầy đủ", "full file")
            },
            human_bytes(*done),
            human_bytes(*total)
        ),
        SyncStatus::UpToDate { pending, wire, .. } => format!(
            "{}; {pending} {}; ↑ {} ↓ {}, {} {}",
            t(lang, "đã cập nhật", "up to date"),
            t(lang, "bản ghi chờ gửi", "records waiting"),
            human_bytes(wire.bytes_up),
            human_bytes(wire.bytes_down),
            wire.requests,
            t(lang, "lượt gửi nhận", "round trips")
        ),
        SyncStatus::Error { code, message } => {
            format!("{} [{code}]: {message}", t(lang, "lỗi", "error"))
        }
    }
}

/// Bytes as B / KiB / MiB.
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `tidemark sync [--once]`.
pub fn sync(c: Client, once: bool, json: bool, lang: Lang) -> Result<(), Failure> {
    let shared: SharedClient = Arc::new(Mutex::new(c));
    let rt = runtime()?;
    let opts = SyncOptions::default();
    if once {
        let quiet = json;
        let progress = move |s: SyncStatus| {
            if !quiet {
                if let SyncStatus::Syncing { .. } | SyncStatus::Transferring { .. } = s {
                    eprint!("\r{}   ", status_line(&s, lang));
                }
            }
        };
        let report = rt
            .block_on(sync::sync_once(&shared, &opts, &progress))
            .map_err(|e| {
                eprintln!();
                sync_failure(e)
            })?;
        if json {
            return output::json(&report);
        }
        eprintln!();
        say!(
            "{}: {} {}, {} {}, {} {}; ↑ {} ↓ {} {} {} {}, {} ms",
            t(lang, "Đồng bộ xong", "Sync done"),
            report.documents,
            t(lang, "bản ghi", "records"),
            report.changes_sent,
            t(lang, "thay đổi gửi đi", "changes sent"),
            report.changes_received,
            t(lang, "thay đổi nhận về", "changes received"),
            human_bytes(report.wire.bytes_up),
            human_bytes(report.wire.bytes_down),
            t(lang, "trong", "in"),
            report.wire.requests,
            t(lang, "lượt gửi nhận", "round trips"),
            report.millis
        );
        let f = &report.files;
        if f.uploaded + f.downloaded + f.waiting + f.refused.len() > 0 {
            say!(
                "{}: ↑ {} ({}), ↓ {} ({}), {} {}",
                t(lang, "Tệp đính kèm", "Attachments"),
                f.uploaded,
                human_bytes(f.bytes_sent),
                f.downloaded,
                human_bytes(f.bytes_received),
                f.waiting,
                t(lang, "chưa có trên máy chủ", "not at the relay yet")
            );
            for (hash, code) in &f.refused {
                say!(
                    "  {} {}: {code}",
                    t(lang, "máy chủ từ chối tệp", "relay refused file"),
                    &hash[..12]
                );
            }
        }
        for (id, code) in &report.refused {
            say!(
                "  {} {id}: {code}",
                t(lang, "máy chủ từ chối", "relay refused")
            );
        }
        return Ok(());
    }
    rt.block_on(async move {
        let engine = sync::SyncEngine::start(shared, opts);
        let mut rx = engine.status();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                changed = rx.changed() => {
                    if changed.is_err() { break; }
                    let s = rx.borrow_and_update().clone();
                    if json {
                        if let Ok(line) = serde_json::to_string(&s) { say!("{line}"); }
                    } else {
                        say!("{}", status_line(&s, lang));
                    }
                }
            }
        }
        engine.stop().await;
    });
    Ok(())
}

/// `tidemark status`.
pub fn status(c: &Client, json: bool, lang: Lang) -> Result<(), Failure> {
    let s = c
        .sync_summary()
        .map_err(|e| Failure::from_client(e, lang))?;
    if json {
        return output::json(&s);
    }
    let when = |secs: Option<i64>| {
        secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| t(lang, "chưa lần nào", "never").into())
    };
    say!(
        "{:>24}: {}",
        t(lang, "máy chủ trung chuyển", "relay"),
        s.relay.as_deref().unwrap_or(t(
            lang,
            "chưa đăng ký (tidemark enroll)",
            "not enrolled (tidemark enroll)"
        ))
    );
    if let Some(d) = &s.device_id {
        say!("{:>24}: {d}", t(lang, "mã thiết bị", "device id"));
    }
    say!(
        "{:>24}: {}",
        t(lang, "đồng bộ thành công lần cuối", "last successful sync"),
        when(s.last_ok)
    );
    say!(
        "{:>24}: {}",
        t(lang, "bản ghi chờ gửi", "records waiting"),
        s.pending
    );
    if s.files_to_send + s.files_to_fetch > 0 {
        say!(
            "{:>24}: {} {}, {} {}",
            t(lang, "tệp đính kèm", "attachments"),
            s.files_to_send,
            t(lang, "chờ gửi", "to send"),
            s.files_to_fetch,
            t(lang, "chờ nhận", "to fetch")
        );
    }
    if let Some(e) = &s.last_error {
        say!(
            "{:>24}: [{}] {}",
            t(lang, "lỗi gần nhất", "last error"),
            e.get("code").and_then(|v| v.as_str()).unwrap_or("?"),
            e.get("message").and_then(|v| v.as_str()).unwrap_or("")
        );
    }
    for (id, code) in &s.refused {
        say!(
            "{:>24}: {id} ({code})",
            t(lang, "máy chủ từ chối", "refused by relay")
        );
    }
    Ok(())
}

fn read(path: &Path, lang: Lang) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::from_client(
            ClientError::io(format!("reading {}", path.display()), e),
            lang,
        )
    })
}

fn receipt_path(file: &Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let mut name = file.as_os_str().to_owned();
        name.push(".receipt.json");
        PathBuf::from(name)
    })
}

/// `tidemark bundle export|import|upload`.
pub fn bundle(mut c: Client, action: BundleAction, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    match action {
        BundleAction::Export {
            out,
            for_unit,
            since,
            out_fmt,
        } => {
            let since = match since {
                Some(p) => Some(
                    Receipt::from_json(&read(&p, lang)?)
                        .map_err(|e| Failure::User(format!("{}: {e}", p.display())))?,
                ),
                None => None,
            };
            let w = c
                .export_bundle(&out, for_unit.as_deref(), since.as_ref())
                .map_err(fail)?;
            if out_fmt.json {
                return output::json(&w);
            }
            say!(
                "{} {} {} ({}) → {} [{}]",
                t(lang, "Đã ghi gói", "Wrote bundle"),
                w.documents,
                t(lang, "bản ghi", "records"),
                human_bytes(w.bytes as u64),
                out.display(),
                w.bundle_id
            );
            if w.unchanged > 0 {
                say!(
                    "  {} {}",
                    w.unchanged,
                    t(
                        lang,
                        "bản ghi bên nhận đã có, không đưa vào",
                        "records the recipient already has were left out"
                    )
                );
            }
            Ok(())
        }
        BundleAction::Import { file, receipt, out } => {
            let bytes = read(&file, lang)?;
            if bytes.first() == Some(&b'{') {
                let r = Receipt::from_json(&bytes)
                    .map_err(|e| Failure::User(format!("{}: {e}", file.display())))?;
                let n = c.import_receipt(&r).map_err(fail)?;
                if out.json {
                    return output::json(
                        &serde_json::json!({"receipt": r.bundle_id, "confirmed": n, "by_unit": r.by_unit}),
                    );
                }
                say!(
                    "{} {}: {n} {} {}",
                    t(
                        lang,
                        "Đã nhận biên nhận của gói",
                        "Took in the receipt for bundle"
                    ),
                    r.bundle_id,
                    t(lang, "bản ghi đã tới", "records arrived at"),
                    r.by_unit
                );
                return Ok(());
            }
            let merged = c.import_bundle(&bytes).map_err(fail)?;
            let rpath = receipt_path(&file, receipt);
            std::fs::write(&rpath, merged.receipt.to_json())
                .map_err(|e| fail(ClientError::io(format!("writing {}", rpath.display()), e)))?;
            if out.json {
                return output::json(&merged);
            }
            if let Some(w) = &merged.warning {
                eprintln!("{}: {w}", t(lang, "lưu ý", "note"));
            }
            say!(
                "{} {} ({} {}): {} {}, {} {}",
                t(lang, "Đã hợp nhất gói", "Merged bundle"),
                merged.bundle_id,
                t(lang, "từ", "from"),
                merged.from_unit,
                merged.documents,
                t(lang, "bản ghi", "records"),
                merged.changed,
                t(lang, "có thay đổi mới", "with new changes")
            );
            if merged.forged > 0 {
                eprintln!(
                    "{}: {} {}",
                    t(lang, "cảnh báo", "warning"),
                    merged.forged,
                    t(
                        lang,
                        "thay đổi có chữ ký không khớp với khóa của thiết bị tác giả (xem `tidemark history`)",
                        "change(s) carry a signature that does not match their author's device key (see `tidemark history`)"
                    )
                );
            }
            say!(
                "{} {}",
                t(lang, "Biên nhận cho bên gửi:", "Receipt for the sender:"),
                rpath.display()
            );
            Ok(())
        }
        BundleAction::Upload { file, receipt, out } => {
            let bytes = read(&file, lang)?;
            let shared: SharedClient = Arc::new(Mutex::new(c));
            let rt = runtime()?;
            let body = rt
                .block_on(sync::upload_bundle(&shared, &bytes))
                .map_err(sync_failure)?;
            let rpath = receipt_path(&file, receipt);
            std::fs::write(&rpath, &body)
                .map_err(|e| fail(ClientError::io(format!("writing {}", rpath.display()), e)))?;
            let r = Receipt::from_json(&body)
                .map_err(|e| Failure::Internal(format!("the relay's receipt: {e}")))?;
            if out.json {
                return output::json(&r);
            }
            let ok = r.documents.iter().filter(|d| d.status == "ok").count();
            say!(
                "{} {ok}/{} {}; {} {}",
                t(lang, "Máy chủ đã nhận", "The relay took"),
                r.documents.len(),
                t(lang, "bản ghi", "records"),
                t(lang, "biên nhận:", "receipt:"),
                rpath.display()
            );
            for d in r.documents.iter().filter(|d| d.status != "ok") {
                say!("  {}: {}", d.id, d.status);
            }
            Ok(())
        }
    }
}
