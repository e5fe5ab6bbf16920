//! Printing: JSON for scripts, aligned text for people.

use serde::Serialize;
use tidemark_domain::Lang;
use tidemark_store::RecordRow;

use crate::Failure;

/// Picks the Vietnamese or English text.
pub fn t<'a>(lang: Lang, vi: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// Prints a value as pretty JSON on standard output.
pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Internal(e.to_string()))?;
    say!("{text}");
    Ok(())
}

/// Prints record rows as an aligned table.
pub fn rows(rows: &[RecordRow], lang: Lang) {
    let width = |f: &dyn Fn(&RecordRow) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let w_id = width(&|r| r.id.chars().count()).max(2);
    let w_kind = width(&|r| r.kind.chars().count()).max(4);
    say!(
        "{:<w_id$}  {:<w_kind$}  {:<10}  {}",
        "ID",
        t(lang, "LOẠI", "TYPE"),
        t(lang, "NGÀY", "DATE"),
        t(lang, "TIÊU ĐỀ / ĐƠN VỊ", "TITLE / UNIT")
    );
    for r in rows {
        let flag = if r.conflicts > 0 { " ⚠" } else { "" };
        say!(
            "{:<w_id$}  {:<w_kind$}  {:<10}  {}{flag}",
            r.id,
            r.kind,
            r.date.as_deref().unwrap_or("-"),
            r.title
        );
    }
}

/// A JSON value as one short line for history and conflicts.
pub fn short(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "∅".into(),
        Some(serde_json::Value::String(s)) => {
            let chars: Vec<char> = s.chars().collect();
            if chars.len() > 60 {
                format!("“{}…”", chars[..60].iter().collect::<String>())
            } else {
                format!("“{s}”")
            }
        }
        Some(other) => other.to_string(),
    }
}

/// A unix time as `dd/MM/yyyy HH:mm` UTC+7 (Vietnamese format, the stations' zone).
pub fn time(secs: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(7 * 3600);
    match (chrono::DateTime::from_timestamp(secs, 0), offset) {
        (Some(t), Some(o)) => t.with_timezone(&o).format("%d/%m/%Y %H:%M").to_string(),
        _ => secs.to_string(),
    }
}
