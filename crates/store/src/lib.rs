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
mod signatures;
mod sync;

pub use attachments::{AttachmentRow, BlobWork};
pub use docs::DocStats;
pub use error::StoreError;

pub use query::{ListFilter, RecordRow, SearchHit};
pub use schema::latest_version as latest_schema_version;
pub use signatures::{SignKey, Signature};
pub use sync::{heads_key, split_heads, ReceiptRow, SyncRow};

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// An open device store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A 256-bit key for an encrypted store. Never printed: its `Debug` says nothing.
#[derive(Clone)]
pub struct StoreKey(pub [u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(<secret>)")
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Gives the SQLCipher connection `conn` the raw key for its database `schema`, then reads
/// the schema so that a wrong key is found here and not at the first query.
fn apply_key(conn: &Connection, schema: &str, key: &StoreKey) -> Result<(), StoreError> {
    // A raw key (x'…') skips SQLCipher's own PBKDF2: the key is already strong.
    let pragma = zeroize::Zeroizing::new(format!("PRAGMA {schema}.key = \"{}\";", *raw_key(key)));
    conn.execute_batch(&pragma)?;
    match conn.query_row(
        &format!("SELECT count(*) FROM {schema}.sqlite_master"),
        [],
        |r| r.get::<_, i64>(0),
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(StoreError::WrongKey)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the file at `path` looks like an encrypted store rather than a damaged one: whole
/// pages, no SQLite header, and a first page of random-looking bytes (SQLCipher's salt and
/// ciphertext use nearly all 256 byte values; junk rarely does).
fn looks_encrypted(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if len == 0 || len % 512 != 0 || is_plaintext_database(path)? {
        return Ok(false);
    }
    let mut page = vec![0u8; 4096.min(len as usize)];
    std::fs::File::open(path)?.read_exact(&mut page)?;
    let mut seen = [false; 256];
    for b in &page {
        seen[*b as usize] = true;
    }
    Ok(seen.iter().filter(|s| **s).count() >= 200)
}

/// SQLCipher's spelling of a raw key: `x'` 64 hex digits `'`.
fn raw_key(key: &StoreKey) -> zeroize::Zeroizing<String> {
    let mut s = zeroize::Zeroizing::new(String::with_capacity(67));
    s.push_str("x'");
    for b in key.0 {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('\'');
    s
}

/// Whether the file at `path` is an unencrypted SQLite database (it starts with SQLite's
/// header); `false` for an encrypted one, which looks like random bytes.
pub fn is_plaintext_database(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut head)?;
    Ok(n == 16 && &head == b"SQLite format 3\0")
}

/// A write in progress: chunks and index rows commit together or not at all.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    /// Full-text rows (rowid, folded text) written at commit in one statement. FTS5 moves its
    /// pending terms to disk whenever a statement opens a savepoint, which most writes in the
    /// transaction do: inserted one by one, every record became a segment of its own (a tenth
    /// of a bulk pull's CPU, flushing and then merging them).
    fts: std::cell::RefCell<Vec<(i64, String)>>,
}

impl Store {
    /// Opens (creating if needed) the unencrypted store at `path` and applies pending
    /// migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_keyed(path, None)
    }

    /// Opens (creating if needed) the store at `path`, encrypted with `key` (SQLCipher, a raw
    /// 256-bit key, so no second key derivation) or unencrypted when `key` is `None`, and
    /// applies pending migrations. A wrong key is [`StoreError::WrongKey`] and changes nothing.
    ///
    /// The app and the command line may open the same fresh store at the same moment. While a
    /// new file is still in rollback mode SQLite answers some lock conflicts with
    /// `SQLITE_BUSY` at once instead of waiting (waiting could deadlock), so the whole opening,
    /// which is idempotent, is retried for up to ten seconds.
    pub fn open_keyed(path: &Path, key: Option<&StoreKey>) -> Result<Store, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open_once(path, key) {
                Err(StoreError::Busy) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path, key: Option<&StoreKey>) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        match key {
            Some(key) => apply_key(&conn, "main", key)?,
            None if looks_encrypted(path)
                .map_err(|e| StoreError::Io(format!("reading {}: {e}", path.display())))? =>
            {
                return Err(StoreError::Encrypted);
            }
            None => {}
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Writing a record runs a couple of dozen distinct statements (document, chunks, index,
        // search, per-kind tables, sync state): keep them all prepared.
        conn.set_prepared_statement_cache_capacity(128);
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

    /// Writes an encrypted copy of the unencrypted store at `plain` to `encrypted` (which must
    /// not exist), with `key`, and syncs it to disk. The original is left as it was; the caller
    /// swaps the files. The copy holds every table, index and the schema version.
    pub fn export_encrypted(
        plain: &Path,
        encrypted: &Path,
        key: &StoreKey,
    ) -> Result<(), StoreError> {
        let store = Store::open(plain)?;
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        store.conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            [encrypted.to_string_lossy().as_ref(), raw_key(key).as_str()],
        )?;
        store
            .conn
            .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        store
            .conn
            .execute_batch(&format!("PRAGMA encrypted.user_version = {version};"))?;
        store.conn.execute_batch("DETACH DATABASE encrypted;")?;
        drop(store);
        std::fs::File::open(encrypted)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Io(format!("syncing the encrypted copy: {e}")))?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
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
        Ok(Tx {
            tx,
            fts: Default::default(),
        })
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
        self.flush_search_rows()?;
        self.tx.commit()?;
        Ok(())
    }
}
