//! The relay's SQLite store: one connection, WAL, migrations on open.
//!
//! Only this module knows SQL. Every write that a client sees acknowledged is on disk first, so
//! it survives `kill -9` and power loss: opened alone (admin commands) each commit syncs itself
//! (`synchronous=FULL`); serving, commits sync in groups off the database's thread
//! ([`Db::defer_syncs`], [`DiskSync`]).

mod attachments;
mod chunks;
mod disk;
mod docs;
mod identity;
mod schema;
mod signatures;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension};

use crate::error::AppError;
use crate::metrics::CommitTimes;

pub use attachments::{ChunkState, StoredAttachment, UploadState};
pub use chunks::{FeedEntry, ImportWrite, SyncAck, SyncWrite};
pub use disk::DiskSync;
pub(crate) use docs::access_rule;
pub use docs::{Access, DocMeta, Grant, NewDocument};
pub use identity::{Device, DeviceRow, Enrolment, HeldChange, Tokens};
pub use schema::CURRENT as SCHEMA_VERSION;
pub use signatures::{KeyEntry, KeysAfter};

/// How long [`Db::open`] keeps retrying when another process holds the database's locks.
pub const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `e` is SQLite's "database is locked" (`SQLITE_BUSY`, any extended code).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// The relay database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    /// The key log, serialized as devices read it (see [`signatures::KeyMirror`]).
    keys: std::cell::RefCell<signatures::KeyMirror>,
    /// Transactions committed so far and how long they took (see [`Db::commits`]).
    commits: Arc<CommitTimes>,
    /// Documents' sync states as last read for receipts (see [`Db::sync_acks`]).
    acks: std::cell::RefCell<chunks::Acks>,
}

/// One write: a savepoint, committed by [`Write::commit`] and undone when dropped without it.
/// Alone it is a transaction of its own; inside [`Db::batch`] it nests, so that a failing
/// item undoes only itself and the batch commits (and syncs to disk) once.
pub(crate) struct Write<'a> {
    conn: &'a Connection,
    open: bool,
    commits: &'a CommitTimes,
}

impl<'a> Write<'a> {
    fn begin(conn: &'a Connection, commits: &'a CommitTimes) -> rusqlite::Result<Write<'a>> {
        conn.execute_batch("SAVEPOINT write")?;
        Ok(Write {
            conn,
            open: true,
            commits,
        })
    }

    /// Keeps what was written (made durable now unless inside a batch).
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.open = false;
        let started = std::time::Instant::now();
        self.conn.execute_batch("RELEASE write").inspect_err(|_| {
            // A commit that failed (a full disk) leaves nothing half-done behind.
            undo(self.conn);
        })?;
        // The outermost write ends the transaction: that is a commit (and, unless serving, a
        // sync to disk), which every request that needs the database waits behind.
        if self.conn.is_autocommit() {
            self.commits.record(started.elapsed());
        }
        Ok(())
    }
}

/// Undoes the innermost open write; a last `ROLLBACK` if even that fails.
fn undo(conn: &Connection) {
    if conn
        .execute_batch("ROLLBACK TO write; RELEASE write")
        .is_err()
        && !conn.is_autocommit()
    {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if self.open {
            undo(self.conn);
        }
    }
}

impl std::ops::Deref for Write<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Db {
    /// Starts a write (see [`Write`]).
    pub(crate) fn write(&self) -> rusqlite::Result<Write<'_>> {
        Write::begin(&self.conn, &self.commits)
    }

    /// The transactions the relay's writes have committed and how long each took, shared so
    /// that `/metrics` reads them without waiting for the database.
    pub fn commits(&self) -> Arc<CommitTimes> {
        Arc::clone(&self.commits)
    }

    /// Runs `f`, whose writes then commit together: one sync to disk for a request's items
    /// instead of one per item. A write inside that fails undoes only itself; if the commit
    /// fails, none of them is kept and the caller answers with the error, so that nothing a
    /// device is told was kept is lost.
    pub fn batch<T>(&self, f: impl FnOnce() -> T) -> Result<T, AppError> {
        self.try_batch(|| Ok(f()))
    }

    /// Like [`Db::batch`], except that when `f` fails nothing it wrote is kept: its error is
    /// returned and the batch is undone whole.
    pub fn try_batch<T>(&self, f: impl FnOnce() -> Result<T, AppError>) -> Result<T, AppError> {
        let outer = self.write()?;
        // Whichever way the batch is undone, the key log may lose entries the mirror read.
        match f() {
            Ok(out) => {
                outer.commit().inspect_err(|_| self.forget_keys())?;
                Ok(out)
            }
            Err(e) => {
                drop(outer);
                self.forget_keys();
                Err(e)
            }
        }
    }

    /// Runs `f`, which only reads, in one read transaction: its statements see one state of
    /// the database, and take SQLite's locks on the shared-memory index once rather than once
    /// each (a first sync's feed page and offers are some seventy statements, and those locks
    /// were 3 % of the relay's CPU in S5's first wave). Inside a transaction already, `f` just
    /// runs in it.
    pub fn read<T>(&self, f: impl FnOnce() -> Result<T, AppError>) -> Result<T, AppError> {
        if !self.conn.is_autocommit() {
            return f();
        }
        self.conn.execute_batch("BEGIN")?;
        let out = f();
        // Nothing was written, so ending the transaction either way loses nothing.
        let end = self
            .conn
            .execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        if end.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let out = out?;
        end?;
        Ok(out)
    }

    /// Rows changed through this connection so far, kept or undone (`sqlite3_total_changes`):
    /// a turn at the database that leaves it where it was wrote nothing that needs syncing.
    pub fn changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// Stops syncing at each commit, for the serving relay, which syncs in groups off the
    /// database's thread instead: `synchronous=NORMAL`, and the [`DiskSync`] whose tickets each
    /// turn at the database must wait for before it answers. `at_db` counts the requests at the
    /// database (a sync waits for their commits too); the syncs' times go to `times`. Outside
    /// WAL mode (a file system without shared memory) commits keep syncing themselves, and the
    /// [`DiskSync`] has nothing to wait for.
    pub fn defer_syncs(
        &self,
        at_db: Arc<std::sync::atomic::AtomicUsize>,
        times: Arc<CommitTimes>,
    ) -> Result<DiskSync, AppError> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let wal = self
            .conn
            .path()
            .filter(|p| !p.is_empty() && mode.eq_ignore_ascii_case("wal"))
            .map(|p| std::path::PathBuf::from(format!("{p}-wal")));
        if let Some(wal) = &wal {
            // The WAL file exists while the connection is open; SQLite syncs its directory
            // entry once under FULL, and under NORMAL not before a checkpoint.
            disk::sync_dir_of(wal)
                .map_err(|e| AppError::Internal(format!("cannot sync the data directory: {e}")))?;
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        DiskSync::start(wal, self.changes(), at_db, times)
    }

    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// The relay and an admin command may open the same fresh database at the same moment.
    /// SQLite's busy handler covers most of that, but not every case: while a fresh file is
    /// still in rollback mode, a connection holding a read lock that needs the write lock gets
    /// `SQLITE_BUSY` at once (waiting could deadlock). So the whole opening is retried for up to
    /// [`OPEN_PATIENCE`]; it is idempotent (the pragmas are, and each migration step checks the
    /// version under the write lock).
    pub fn open(path: &Path) -> Result<Db, AppError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Internal(format!("cannot create data dir: {e}")))?;
        }
        let deadline = std::time::Instant::now() + OPEN_PATIENCE;
        loop {
            match Db::open_once(path) {
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.map_err(AppError::from),
            }
        }
    }

    fn open_once(path: &Path) -> rusqlite::Result<Db> {
        let mut conn = Connection::open(path)?;
        // First, so that the relay and an admin command opening together wait for each other.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // A sync round runs a few dozen distinct statements per document: keep them prepared.
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Db {
            conn,
            keys: Default::default(),
            commits: Arc::default(),
            acks: Default::default(),
        })
    }

    /// Appends one row to the admin audit log.
    pub fn audit(&self, actor: &str, action: &str, subject: &str) -> Result<(), AppError> {
        audit(&self.conn, actor, action, subject)
    }

    /// The audit log, oldest first: (time, actor, action, subject).
    pub fn audit_log(&self) -> Result<Vec<(i64, String, String, String)>, AppError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, actor, action, subject FROM audit ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The parent of `unit`, `None` for a root; `NotFound` if the unit is unknown.
    pub fn unit_parent(&self, unit: &str) -> Result<Option<String>, AppError> {
        self.conn
            .prepare_cached("SELECT parent FROM units WHERE name = ?1")?
            .query_row([unit], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .ok_or(AppError::NotFound { what: "unit" })
    }

    /// `unit` and all its ancestors, nearest first.
    pub fn unit_chain(&self, unit: &str) -> Result<Vec<String>, AppError> {
        let mut chain = vec![unit.to_string()];
        let mut next = self.unit_parent(unit)?;
        while let Some(p) = next {
            if chain.contains(&p) || chain.len() > 64 {
                return Err(AppError::Internal("unit tree has a cycle".into()));
            }
            next = self.unit_parent(&p)?;
            chain.push(p);
        }
        Ok(chain)
    }
}

fn audit(conn: &Connection, actor: &str, action: &str, subject: &str) -> Result<(), AppError> {
    conn.prepare_cached("INSERT INTO audit (at, actor, action, subject) VALUES (?1, ?2, ?3, ?4)")?
        .execute(rusqlite::params![now(), actor, action, subject])?;
    Ok(())
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random secret of `bytes` bytes, hex encoded.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of `secret`, hex encoded: what the relay stores instead of tokens and codes.
pub fn sha256_hex(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_suffix() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    }

    /// CI once failed with "database is locked" when a test opened the database while the
    /// relay it had just started was creating it. Many openers racing on fresh files all win.
    #[test]
    fn many_connections_opening_a_fresh_database_at_once_all_succeed() {
        for round in 0..100 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("relay.sqlite3");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        // Opening and closing again: the last connection to close checkpoints
                        // and removes the WAL file, another race an opener can meet.
                        let mut version = 0;
                        for _ in 0..5 {
                            let db = Db::open(&path)?;
                            db.add_unit(&format!("Đồn {}", rand_suffix()), None).ok();
                            version = db
                                .conn
                                .prepare_cached("PRAGMA user_version")?
                                .query_row([], |r| r.get::<_, u32>(0))?;
                        }
                        Ok::<_, AppError>(version)
                    })
                })
                .collect();
            for opener in openers {
                let version = opener
                    .join()
                    .expect("thread")
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert_eq!(version, schema::CURRENT);
            }
        }
    }

    /// Writes in a batch commit together, and one dropped without commit undoes only itself;
    /// a write alone commits by itself.
    #[test]
    fn writes_in_a_batch_commit_together_and_undo_only_themselves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("relay.sqlite3")).expect("open");
        let subjects = |db: &Db| -> Vec<String> {
            db.audit_log()
                .expect("log")
                .into_iter()
                .map(|(_, _, _, s)| s)
                .collect()
        };
        let write = |db: &Db, subject: &str, keep: bool| -> Result<(), AppError> {
            let w = db.write()?;
            audit(&w, "admin", "test", subject)?;
            if keep {
                w.commit()?;
            }
            Ok(())
        };
        // What another connection (another process) sees: only what was committed.
        let committed = || -> i64 {
            Connection::open(dir.path().join("relay.sqlite3"))
                .and_then(|c| c.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)))
                .expect("reading from a second connection")
        };
        db.batch(|| {
            write(&db, "Đồn Tân Thành", true).expect("kept");
            write(&db, "dropped", false).expect("dropped");
            write(&db, "Đồn Kiểng Phước", true).expect("kept");
            assert_eq!(committed(), 0, "visible before the batch committed");
        })
        .expect("batch");
        assert_eq!(subjects(&db), vec!["Đồn Tân Thành", "Đồn Kiểng Phước"]);
        assert_eq!(committed(), 2);

        assert_eq!(commits(&db), 1, "one commit for the batch");

        write(&db, "alone", true).expect("alone");
        assert_eq!(committed(), 3);
        write(&db, "dropped alone", false).expect("dropped");
        assert_eq!(committed(), 3);
        assert_eq!(commits(&db), 2, "the lone write, not the dropped one");
        assert!(db.conn.is_autocommit(), "a transaction was left open");
    }

    /// A read sees one state of the database however others write meanwhile, ends its
    /// transaction whether `f` succeeds or fails, and inside a batch reads the batch's writes.
    #[test]
    fn a_read_sees_one_state_and_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.sqlite3");
        let db = Db::open(&path).expect("open");
        let count = |db: &Db| -> Result<usize, AppError> { Ok(db.audit_log()?.len()) };
        let other = Connection::open(&path).expect("a second connection");
        let seen = db
            .read(|| {
                let before = count(&db)?;
                // Another process (an admin import) commits between two statements.
                other
                    .execute(
                        "INSERT INTO audit (at, actor, action, subject) \
                         VALUES (0, 'admin', 'import', 'Đồn Tân Thành')",
                        [],
                    )
                    .expect("the other connection writes");
                Ok((before, count(&db)?))
            })
            .expect("read");
        assert_eq!(seen, (0, 0), "the second statement saw a newer state");
        assert!(db.conn.is_autocommit(), "a transaction was left open");
        assert_eq!(
            count(&db).expect("count"),
            1,
            "the write is seen after the read"
        );

        let failed = db.read(|| -> Result<(), AppError> {
            count(&db)?;
            Err(AppError::Internal("the page could not be read".into()))
        });
        assert!(matches!(failed, Err(AppError::Internal(_))), "{failed:?}");
        assert!(
            db.conn.is_autocommit(),
            "a failed read left its transaction open"
        );

        let inside = db
            .try_batch(|| {
                let w = db.write()?;
                audit(&w, "admin", "test", "Đồn Kiểng Phước")?;
                w.commit()?;
                db.read(|| count(&db))
            })
            .expect("batch");
        assert_eq!(inside, 2, "a read inside a batch sees the batch's writes");
        assert!(db.conn.is_autocommit(), "a transaction was left open");
    }

    fn commits(db: &Db) -> u64 {
        db.commits().count()
    }

    #[test]
    fn a_batch_whose_work_fails_keeps_none_of_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("relay.sqlite3")).expect("open");
        let failed = db.try_batch(|| -> Result<(), AppError> {
            let w = db.write()?;
            audit(&w, "admin", "test", "Đồn Biên phòng Tân Thành")?;
            w.commit()?;
            Err(AppError::Internal("the second step failed".into()))
        });
        assert!(matches!(failed, Err(AppError::Internal(_))), "{failed:?}");
        assert!(db.audit_log().expect("log").is_empty(), "a write was kept");
        assert_eq!(commits(&db), 0);
        assert!(db.conn.is_autocommit(), "a transaction was left open");

        let kept = db.try_batch(|| -> Result<u8, AppError> {
            let w = db.write()?;
            audit(&w, "admin", "test", "Đồn Kiểng Phước")?;
            w.commit()?;
            Ok(7)
        });
        assert_eq!(kept.expect("kept"), 7);
        assert_eq!(db.audit_log().expect("log").len(), 1);
        assert_eq!(commits(&db), 1);
    }

    #[tokio::test]
    async fn serving_defers_syncs_to_the_wal_while_a_database_opened_alone_syncs_each_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.sqlite3");
        let synchronous = |db: &Db| -> i64 {
            db.conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .expect("pragma")
        };
        let alone = Db::open(&path).expect("open");
        assert_eq!(synchronous(&alone), 2, "FULL for admin commands");
        let serving = Db::open(&path).expect("open");
        assert!(dir.path().join("relay.sqlite3-wal").exists());
        // Written before serving (as the references' backfill may), and synced by its commit.
        serving
            .audit("admin", "backfill", "Đồn Biên phòng Vàm Láng")
            .expect("audit");
        let times = Arc::new(CommitTimes::default());
        let disk = serving
            .defer_syncs(Arc::default(), Arc::clone(&times))
            .expect("defer");
        assert!(disk.deferred());
        assert_eq!(synchronous(&serving), 1, "NORMAL while serving");
        assert_eq!(synchronous(&alone), 2, "per connection");

        // What the connection wrote before serving synced itself: a first turn that writes
        // nothing takes no new ticket.
        let start = disk.ticket(serving.changes());
        assert_eq!(start, 0);
        // A turn that writes takes a new ticket, and its sync reaches the WAL file.
        serving
            .audit("admin", "test", "Đồn Biên phòng Tân Thành")
            .expect("audit");
        let ticket = disk.ticket(serving.changes());
        assert_eq!(ticket, start + 1);
        disk.wait(ticket).await.expect("synced");
        assert_eq!(times.count(), 1);
        // A turn that only reads waits for nothing more.
        assert_eq!(serving.audit_log().expect("log").len(), 2);
        disk.wait(disk.ticket(serving.changes()))
            .await
            .expect("read");
        assert_eq!(times.count(), 1);

        // In memory there is no file to sync: nothing to wait for, and commits stay FULL.
        let memory = Db {
            conn: Connection::open_in_memory().expect("memory"),
            keys: Default::default(),
            commits: Arc::default(),
            acks: Default::default(),
        };
        assert!(!memory
            .defer_syncs(Arc::default(), Arc::default())
            .expect("defer")
            .deferred());
    }
}
