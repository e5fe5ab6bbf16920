//! The device store: every record's Automerge document as a snapshot plus incremental chunks in
//! SQLite (WAL, `synchronous=FULL`), and index tables materialised from the records for lists,
//! filters and diacritic-insensitive full-text search.
//!
//! A write is one SQLite transaction holding the new chunk *and* the index rows, so the index
//! never disagrees with the documents, and a write reported as saved survives `kill -9` and a
//! power cut. A full disk rolls the transaction back and surfaces as [`StoreError::DiskFull`].

mod attachments;
mod docs;
mod error;
mod index;
mod query;
mod schema;
mod sync;

pub use attachments::{AttachmentRow, BlobWork};
pub use docs::DocStats;
pub use error::StoreError;
pub use query::{ListFilter, RecordRow, SearchHit};
pub use schema::latest_version as latest_schema_version;
pub use sync::{heads_key, split_heads, ReceiptRow, SyncRow};

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// An open device store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A write in progress: chunks and index rows commit together or not at all.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and applies pending migrations.
    ///
    /// The app and the command line may open the same fresh store at the same moment. While a
    /// new file is still in rollback mode SQLite answers some lock conflicts with
    /// `SQLITE_BUSY` at once instead of waiting (waiting could deadlock), so the whole opening,
    /// which is idempotent, is retried for up to ten seconds.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open_once(path) {
                Err(StoreError::Busy) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL keeps readers and the writer apart; FULL syncs the WAL on every commit so a
        // committed write survives a power cut, not only a process crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a value from the store's key/value metadata.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a value into the store's key/value metadata.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.set_meta_many(&[(key, value)])
    }

    /// Writes several metadata values in one transaction: all of them or none.
    pub fn set_meta_many(&mut self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for (key, value) in pairs {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts a write.
    pub fn begin(&mut self) -> Result<Tx<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(Tx { tx })
    }

    /// `PRAGMA data_version`: changes whenever another connection (another process, e.g. the
    /// CLI while the app runs) commits to the database. Cheap enough to poll every second.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check`; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(result))
        }
    }

    /// Caps the database size in pages. For tests that simulate a full disk.
    #[doc(hidden)]
    pub fn limit_pages_for_test(&self, pages: u32) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }
}

impl Tx<'_> {
    /// Makes the write durable.
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}
