//! The client's error type. `is_user_error` separates what the user can fix (exit code 1) from
//! what went wrong inside (exit code 2).

use tidemark_domain::{DomainError, Lang, Message};
use tidemark_store::StoreError;

/// Errors from the client API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No record with this id.
    #[error("no record with id `{0}`")]
    NotFound(String),
    /// The record failed validation.
    #[error("{}", messages(.0, Lang::En))]
    Invalid(Vec<Message>),
    /// The request cannot be carried out as given; the message says how to fix it.
    #[error("{0}")]
    User(String),
    /// The data directory has no store yet.
    #[error("no Tidemark store in {0}; run `tidemark init --unit \"UNIT NAME\"` first")]
    NotInitialised(String),
    /// The store is encrypted and needs its passphrase.
    #[error("the store is encrypted: give its passphrase (TIDEMARK_PASSPHRASE or the prompt)")]
    Locked,
    /// The passphrase does not open the store; nothing was changed.
    #[error("wrong passphrase: the store was not opened and nothing was changed")]
    WrongPassphrase,
    /// A problem in the record model.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A problem in the device store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn messages(m: &[Message], lang: Lang) -> String {
    m.iter()
        .map(|m| m.text(lang).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ClientError {
    /// Whether the user can fix this (bad input, missing record, full disk) rather than a bug
    /// or damaged data.
    pub fn is_user_error(&self) -> bool {
        match self {
            ClientError::NotFound(_)
            | ClientError::Invalid(_)
            | ClientError::User(_)
            | ClientError::NotInitialised(_)
            | ClientError::Locked
            | ClientError::WrongPassphrase
            | ClientError::Io { .. } => true,
            ClientError::Domain(e) => matches!(
                e,
                DomainError::Invalid(_)
                    | DomainError::UnknownField { .. }
                    | DomainError::BadValue { .. }
                    | DomainError::OutOfBounds { .. }
            ),
            ClientError::Store(e) => matches!(
                e,
                StoreError::DiskFull | StoreError::Busy | StoreError::NewerSchema { .. }
            ),
        }
    }

    /// The message in the given language (validation messages are bilingual).
    pub fn localized(&self, lang: Lang) -> String {
        match self {
            ClientError::Invalid(m) => messages(m, lang),
            ClientError::Locked if lang == Lang::Vi => {
                "Kho dữ liệu đã được mã hóa: hãy nhập mật khẩu để mở khóa.".into()
            }
            ClientError::WrongPassphrase if lang == Lang::Vi => {
                "Sai mật khẩu: kho dữ liệu chưa được mở, không có gì thay đổi.".into()
            }
            ClientError::Store(StoreError::DiskFull) if lang == Lang::Vi => {
                "Ổ đĩa đã đầy: chưa lưu được gì. Hãy giải phóng dung lượng rồi thử lại.".into()
            }
            other => other.to_string(),
        }
    }

    /// Wraps an IO error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> ClientError {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }
}
