//! `tidemark attach` and `tidemark attachment list|get`.

use std::path::Path;

use tidemark_client::{Client, ClientError};
use tidemark_domain::{AttachPlace, Lang};

use crate::args::AttachmentAction;
use crate::output::{self, t};
use crate::syncing::human_bytes;
use crate::Failure;

/// `tidemark attach ID FILE [--inspection N | --violation N]`.
pub fn attach(
    c: &mut Client,
    id: &str,
    file: &Path,
    (inspection, violation): (Option<usize>, Option<usize>),
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let place = match (inspection, violation) {
        (Some(0), _) | (_, Some(0)) => {
            return Err(Failure::User(
                t(lang, "số thứ tự bắt đầu từ 1", "numbers start at 1").into(),
            ))
        }
        (Some(n), _) => AttachPlace::Inspection(n - 1),
        (_, Some(n)) => AttachPlace::Violation(n - 1),
        _ => AttachPlace::Record,
    };
    let bytes =
        std::fs::read(file).map_err(|e| Failure::User(format!("{}: {e}", file.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let done = c.attach(id, place, &name, &bytes).map_err(fail)?;
    if json {
        return output::json(&done);
    }
    let a = &done.attachment;
    say!(
        "{} {} ({}, {}) {} {id}{}",
        if done.added {
            t(lang, "Đã đính kèm", "Attached")
        } else {
            t(lang, "Đã có sẵn", "Already attached:")
        },
        a.name,
        a.mime,
        human_bytes(a.size),
        t(lang, "vào", "to"),
        match place {
            AttachPlace::Record => String::new(),
            p => format!(" ({})", p.field()),
        }
    );
    say!("  sha256 {}", a.hash);
    if let Some(n) = done.thumb_bytes {
        say!(
            "  {} {}",
            t(lang, "ảnh thu nhỏ", "thumbnail"),
            human_bytes(n as u64)
        );
    }
    if done.deduplicated {
        say!(
            "  {}",
            t(
                lang,
                "tệp này đã có trên máy (lưu một lần)",
                "this file was already on the device (stored once)"
            )
        );
    }
    Ok(())
}

/// `tidemark attachment list|get`.
pub fn attachment(c: &Client, action: AttachmentAction, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    match action {
        AttachmentAction::List { id, out } => {
            let rows = c.attachments(&id).map_err(fail)?;
            if out.json {
                return output::json(&rows);
            }
            if rows.is_empty() {
                say!(
                    "{}",
                    t(lang, "Không có tệp đính kèm.", "No attached files.")
                );
            }
            for r in rows {
                let here = if r.present {
                    t(lang, "có trên máy", "on this device")
                } else if r.thumb_present {
                    t(lang, "mới có ảnh thu nhỏ", "thumbnail only")
                } else {
                    t(lang, "chưa về", "not here yet")
                };
                say!(
                    "{}  {}  {}  {}  {}  [{here}]",
                    r.place,
                    r.name,
                    r.mime,
                    human_bytes(r.size),
                    &r.hash[..12]
                );
            }
            Ok(())
        }
        AttachmentAction::Get {
            id,
            name,
            out,
            thumb,
        } => {
            let row = c.find_attachment(&id, &name).map_err(fail)?;
            let hash = if thumb {
                row.thumb.clone().ok_or_else(|| {
                    Failure::User(
                        t(
                            lang,
                            "tệp này không có ảnh thu nhỏ",
                            "this file has no thumbnail",
                        )
                        .into(),
                    )
                })?
            } else {
                row.hash.clone()
            };
            let bytes = c.attachment_bytes(&hash).map_err(fail)?.ok_or_else(|| {
                Failure::User(format!(
                    "{} “{}”; {}",
                    t(lang, "chưa có trên máy tệp", "this device does not have"),
                    row.name,
                    t(
                        lang,
                        "hãy đồng bộ (`tidemark sync --once`) để tải về",
                        "sync (`tidemark sync --once`) to fetch it"
                    )
                ))
            })?;
            tidemark_client::write_atomically(&out, &bytes).map_err(fail)?;
            say!(
                "{} {} ({}) → {}",
                t(lang, "Đã ghi", "Wrote"),
                row.name,
                human_bytes(bytes.len() as u64),
                out.display()
            );
            Ok(())
        }
    }
}
