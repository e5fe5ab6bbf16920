//! The store's error type.

/// Errors from the device store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk (or the configured size limit) is full; the write was rolled back.
    #[error("the disk is full: nothing was saved; free some space and try again")]
    DiskFull,
    /// Another process holds the store for too long.
    #[error("the store is busy (another Tidemark process is writing); try again")]
    Busy,
    /// The database failed its integrity check or holds unreadable data.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// The database was written by a newer Tidemark.
    #[error("the store was written by a newer Tidemark (schema {found}, this build knows {supported}); update Tidemark")]
    NewerSchema {
        /// Schema version found in the file.
        found: i64,
        /// Newest schema this build knows.
        supported: i64,
    },
    /// The key does not open this encrypted store (nothing was changed).
    #[error("the key does not open this store (wrong passphrase?); nothing was changed")]
    WrongKey,
    /// The store is encrypted and was opened without a key.
    #[error("the store is encrypted: unlock it with its passphrase")]
    Encrypted,
    /// A file beside the database could not be read or written.
    #[error("{0}")]
    Io(String),
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            Some(rusqlite::ErrorCode::DatabaseCorrupt)
            | Some(rusqlite::ErrorCode::NotADatabase) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Sqlite(e),
        }
    }
}
