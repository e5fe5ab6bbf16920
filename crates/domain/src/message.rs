//! Bilingual user-facing messages: Vietnamese first, English second.

use serde::Serialize;

/// The language a message is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Vietnamese, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// Parses `vi`/`en` (case-insensitive, region suffixes ignored); anything else is Vietnamese.
    pub fn parse(s: &str) -> Lang {
        if s.to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }
}

/// A message about one field, in both languages, with a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Field the message is about (`start`, `vessels_inspected[2].registration`…).
    pub field: String,
    /// Stable code, e.g. `required`, `end_before_start`.
    pub code: &'static str,
    /// Vietnamese text.
    pub vi: String,
    /// English text.
    pub en: String,
}

impl Message {
    /// Builds a message.
    pub fn new(field: impl Into<String>, code: &'static str, vi: String, en: String) -> Self {
        Message {
            field: field.into(),
            code,
            vi,
            en,
        }
    }

    /// The text in the given language.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}
