//! Reading records: list, show, search, history, conflicts; and a patrol's track from a file.

use tidemark_client::{Client, ClientError};
use tidemark_domain::Lang;
use tidemark_store::ListFilter;

use super::parse_kind;
use crate::output::{self, t};
use crate::Failure;

/// `list`: the records that match, a page at a time.
pub(super) fn list(c: &Client, ask: ListAsk, json: bool, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let unit = match ask.unit {
        Some(u) => Some(c.unit_name(&u).map_err(fail)?.unwrap_or(u)),
        None => None,
    };
    let filter = ListFilter {
        kind: parse_kind(ask.kind.as_deref(), lang)?,
        unit,
        from: check_date(ask.from, lang)?,
        to: check_date(ask.to, lang)?,
        limit: ask.limit,
        offset: ask.offset,
    };
    let (rows, total) = c.store().list(&filter).map_err(|e| fail(e.into()))?;
    if json {
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

/// What `list` asks for.
pub(super) struct ListAsk {
    pub kind: Option<String>,
    pub unit: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// `show`: one record, with its conflicts and where it has been delivered.
pub(super) fn show(c: &Client, id: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let view = c.show(id).map_err(fail)?;
    if json {
        let delivery = c.delivery(id).map_err(fail)?;
        let mut v = serde_json::to_value(&view).map_err(|e| Failure::Internal(e.to_string()))?;
        v["delivery"] =
            serde_json::to_value(&delivery).map_err(|e| Failure::Internal(e.to_string()))?;
        return output::json(&v);
    }
    let value = serde_json::to_value(&view.record).map_err(|e| Failure::Internal(e.to_string()))?;
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
    print_conflicts(id, &view.conflicts, lang);
    print_delivery(&c.delivery(id).map_err(fail)?, lang);
    Ok(())
}

/// `search`: records whose text matches, diacritics ignored.
pub(super) fn search(
    c: &Client,
    text: &str,
    kind: Option<String>,
    limit: usize,
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let kind = parse_kind(kind.as_deref(), lang)?;
    let hits = c
        .store()
        .search(text, kind, limit)
        .map_err(|e| fail(e.into()))?;
    if json {
        return output::json(&hits);
    }
    output::rows(&hits, lang);
    say!("{} {}", hits.len(), t(lang, "kết quả", "results"));
    Ok(())
}

/// `history`: who changed what, and whether each change's signature holds.
pub(super) fn history(c: &Client, id: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let entries = c.history(id).map_err(fail)?;
    if json {
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
        let change = &e.change[..12.min(e.change.len())];
        if e.author.op == tidemark_domain::genesis::GENESIS_OP {
            // A unit record's first change: made from the unit's name, the same on every
            // device, at no time and by no one.
            say!(
                "{}  [{}] {}",
                t(
                    lang,
                    "tạo từ tên đơn vị, như nhau trên mọi máy, không tác giả",
                    "made from the unit's name, the same on every device, no author"
                ),
                e.author.op,
                change
            );
        } else {
            say!(
                "{}  {} ({}, {}) [{}] {}  {}",
                output::time(e.time),
                e.author.user,
                e.author.unit,
                e.author.device,
                e.author.op,
                change,
                signed
            );
        }
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

/// `conflicts`: every field whose concurrent edits are still open.
pub(super) fn conflicts(c: &Client, json: bool, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let all = c.conflicts().map_err(fail)?;
    if json {
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

/// `track import`: GPS points from a file onto patrol `id`.
pub(super) fn import_track(
    c: &mut Client,
    id: &str,
    file: &std::path::Path,
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let report = c.import_track(id, file).map_err(fail)?;
    if json {
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
