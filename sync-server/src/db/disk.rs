//! Group commit: the serving relay's commits reach the disk in syncs shared by the requests that
//! committed meanwhile, taken off the database's thread.
//!
//! With `synchronous=FULL` every commit synced the write-ahead log inside the database's turn:
//! a burst of devices queued behind one `fsync` each, and on a virtual machine an `fsync` is
//! also CPU (the request to the virtual disk exits to the host; 9 % of the relay's CPU in S5's
//! first wave). Serving, the connection runs `synchronous=NORMAL` instead: a commit writes its
//! WAL frames and returns, the database goes on to the next request, and the request that
//! committed waits for a sync of the WAL file, done by a thread of its own, before it answers.
//! That thread syncs at once when no other request is at the database, and otherwise waits for
//! them (at most [`GROUP_WAIT`]), so that one `fsync` covers their commits too.
//!
//! Why nothing acknowledged is lost: a commit's frames are in the WAL file (in the kernel's page
//! cache) when the commit returns, and `fsync` on any descriptor of the file puts them on disk
//! (Linux syncs the file, not the descriptor). Under `NORMAL` SQLite still syncs the WAL before
//! each checkpoint and the database after it, and rewrites the WAL from its start only after
//! such a checkpoint, so frames a checkpoint moved are on disk too. The WAL file's directory
//! entry, which SQLite syncs once under `FULL`, is synced when serving starts. `kill -9` loses
//! nothing either way (the frames are in the kernel's cache).
//!
//! Not only writers wait. Every turn at the database is given a *ticket*: a turn that changed
//! rows a new one, any other turn the newest handed out. A request answers only once its ticket
//! is on disk, so a device never reads, from the relay, what another device wrote and was not
//! yet told was kept; as under `FULL`, nothing seen outside the relay can be lost with power.
//! After a sync fails, every later wait fails too (the kernel may have dropped the pages it
//! could not write, so a later `fsync` succeeding proves nothing): the relay stops acknowledging
//! until it is restarted, and says so.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::metrics::CommitTimes;

/// The longest a sync waits for requests still at the database to commit, so that it covers
/// theirs too. A request in a burst answers up to this much later; in exchange a burst takes
/// one `fsync` for several commits.
pub const GROUP_WAIT: Duration = Duration::from_millis(10);

/// The syncs to disk of a serving relay's database (see the module's documentation).
#[derive(Debug)]
pub struct DiskSync {
    shared: Arc<Shared>,
    synced: tokio::sync::watch::Receiver<Synced>,
    thread: Option<JoinHandle<()>>,
}

/// How far the syncs have come.
#[derive(Debug, Clone, Copy, Default)]
struct Synced {
    /// Every ticket up to this one is on disk.
    through: u64,
    /// A sync failed: nothing is acknowledged any more.
    failed: bool,
}

#[derive(Debug)]
struct Shared {
    /// The WAL file; `None` when the database is not in WAL mode (then commits sync themselves
    /// and there is nothing to wait for).
    wal: Option<PathBuf>,
    /// Tickets handed out to turns that changed rows.
    written: AtomicU64,
    /// The connection's count of changed rows at the end of the last turn (read and written on
    /// the database's thread only).
    changes: AtomicU64,
    /// Requests waiting for the database or holding it: while there are any, a sync waits for
    /// their commits (see [`GROUP_WAIT`]).
    at_db: Arc<AtomicUsize>,
    /// The highest ticket a request waits for, and since when the oldest has waited.
    wanted: Mutex<Wanted>,
    wake: Condvar,
    /// How long each sync took.
    times: Arc<CommitTimes>,
}

#[derive(Debug, Default)]
struct Wanted {
    ticket: u64,
    since: Option<Instant>,
    stop: bool,
}

impl DiskSync {
    /// Syncs for the WAL file `wal` (`None`: nothing to sync) of a connection whose count of
    /// changed rows is `changes` now, grouping while `at_db` counts requests at the database;
    /// each sync's time goes to `times`.
    pub(super) fn start(
        wal: Option<PathBuf>,
        changes: u64,
        at_db: Arc<AtomicUsize>,
        times: Arc<CommitTimes>,
    ) -> Result<DiskSync, AppError> {
        let (send, synced) = tokio::sync::watch::channel(Synced::default());
        let shared = Arc::new(Shared {
            wal,
            written: AtomicU64::new(0),
            changes: AtomicU64::new(changes),
            at_db,
            wanted: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
            times,
        });
        let thread = match shared.wal.clone() {
            Some(wal) => {
                let shared = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("tidemark-disk".into())
                        .spawn(move || shared.run(&wal, &send))
                        .map_err(|e| {
                            AppError::Internal(format!("cannot start the disk sync thread: {e}"))
                        })?,
                )
            }
            None => None,
        };
        Ok(DiskSync {
            shared,
            synced,
            thread,
        })
    }

    /// Whether commits wait here (WAL mode) rather than sync on their own.
    pub fn deferred(&self) -> bool {
        self.shared.wal.is_some()
    }

    /// The ticket of a turn at the database that ends with the connection's count of changed
    /// rows at `changes` (`Db::changes`). Call it on the database's thread, after the turn:
    /// every ticket up to the one returned then stands for frames already in the WAL file. A
    /// turn that failed half-way and left changes behind is counted by the next turn's ticket.
    pub fn ticket(&self, changes: u64) -> u64 {
        let before = self.shared.changes.swap(changes, Ordering::AcqRel);
        if before != changes {
            self.shared.written.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.shared.written.load(Ordering::Acquire)
        }
    }

    /// Returns once every commit behind `ticket` is on disk; an error if a sync failed.
    pub async fn wait(&self, ticket: u64) -> Result<(), AppError> {
        if self.shared.wal.is_none() {
            return Ok(());
        }
        let covered = |s: &Synced| s.failed || s.through >= ticket;
        if !covered(&self.synced.borrow()) {
            {
                let mut wanted = self.shared.lock();
                wanted.ticket = wanted.ticket.max(ticket);
                wanted.since.get_or_insert_with(Instant::now);
            }
            self.shared.wake.notify_one();
        }
        let mut synced = self.synced.clone();
        let state = *synced
            .wait_for(covered)
            .await
            .map_err(|_| AppError::Internal("the disk sync thread has stopped".into()))?;
        if state.failed && state.through < ticket {
            return Err(AppError::Internal(
                "the relay cannot sync its database to disk; restart it once the disk is sound"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl Drop for DiskSync {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Wanted> {
        // Nothing panics while holding it; if something did, its data is still whole.
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sync thread for the WAL file `wal`: waits for a ticket to sync, groups, syncs, tells
    /// the waiters (`send`, which holds how far the syncs have come).
    fn run(&self, wal: &Path, send: &tokio::sync::watch::Sender<Synced>) {
        let mut wanted = self.lock();
        loop {
            if wanted.stop {
                return;
            }
            let synced = *send.borrow();
            if wanted.ticket <= synced.through || synced.failed {
                wanted = self.wake.wait(wanted).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let waited = wanted.since.map_or(GROUP_WAIT, |s| s.elapsed());
            if self.at_db.load(Ordering::Acquire) > 0 && waited < GROUP_WAIT {
                wanted = self
                    .wake
                    .wait_timeout(wanted, GROUP_WAIT - waited)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            wanted.since = None;
            drop(wanted);
            // Read before the sync: every ticket up to here was handed out after its frames
            // were written, so this sync covers them all.
            let upto = self.written.load(Ordering::Acquire);
            let started = Instant::now();
            match std::fs::File::open(wal).and_then(|f| f.sync_data()) {
                Ok(()) => {
                    self.times.record(started.elapsed());
                    send.send_modify(|s| s.through = upto);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot sync the database to disk; acknowledging nothing more");
                    send.send_modify(|s| s.failed = true);
                }
            }
            wanted = self.lock();
        }
    }
}

/// Syncs the directory holding `file`, so that a file created in it survives power loss.
pub(super) fn sync_dir_of(file: &Path) -> std::io::Result<()> {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn disk(at_db: &Arc<AtomicUsize>) -> (tempfile::TempDir, DiskSync, Arc<CommitTimes>) {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("relay.sqlite3-wal");
        std::fs::write(&wal, "khung nhật ký").unwrap();
        let times = Arc::new(CommitTimes::default());
        let disk = DiskSync::start(Some(wal), 0, Arc::clone(at_db), Arc::clone(&times)).unwrap();
        (dir, disk, times)
    }

    #[test]
    fn a_turn_that_changed_nothing_takes_the_newest_ticket() {
        let at_db = Arc::default();
        let (_dir, disk, _) = disk(&at_db);
        assert_eq!(disk.ticket(0), 0, "nothing written yet");
        assert_eq!(disk.ticket(3), 1);
        assert_eq!(disk.ticket(3), 1, "a read after it waits for the same");
        assert_eq!(disk.ticket(5), 2);
    }

    #[tokio::test]
    async fn alone_a_wait_syncs_at_once_and_a_covered_ticket_does_not_sync_again() {
        let at_db = Arc::default();
        let (_dir, disk, times) = disk(&at_db);
        let first = disk.ticket(1);
        let started = Instant::now();
        disk.wait(first).await.unwrap();
        assert!(started.elapsed() < GROUP_WAIT * 50);
        assert_eq!(times.count(), 1);
        // A read after it is covered by that sync.
        disk.wait(disk.ticket(1)).await.unwrap();
        assert_eq!(times.count(), 1);
        disk.wait(disk.ticket(2)).await.unwrap();
        assert_eq!(times.count(), 2);
    }

    /// While other requests are at the database a sync waits for them, so one `fsync` covers
    /// the commits of a queue; then it syncs without waiting any longer.
    #[tokio::test]
    async fn a_sync_waits_for_the_requests_at_the_database_and_covers_them() {
        let at_db = Arc::new(AtomicUsize::new(0));
        let (_dir, disk, times) = disk(&at_db);
        let disk = Arc::new(disk);
        // Eight requests queued: each takes its turn (a ticket), then waits.
        at_db.store(8, Ordering::Release);
        let mut waits = tokio::task::JoinSet::new();
        for changes in 1..=8u64 {
            let ticket = disk.ticket(changes);
            at_db.fetch_sub(1, Ordering::AcqRel);
            let disk = Arc::clone(&disk);
            waits.spawn(async move { disk.wait(ticket).await });
        }
        while let Some(done) = waits.join_next().await {
            done.unwrap().unwrap();
        }
        assert!(times.count() <= 2, "{} syncs for 8 commits", times.count());

        // A request that never leaves the database holds a sync back at most GROUP_WAIT.
        at_db.store(1, Ordering::Release);
        let started = Instant::now();
        disk.wait(disk.ticket(9)).await.unwrap();
        assert!(started.elapsed() >= GROUP_WAIT);
    }

    #[tokio::test]
    async fn after_a_failed_sync_nothing_more_is_acknowledged() {
        let at_db = Arc::default();
        let (dir, disk, _) = disk(&at_db);
        std::fs::remove_file(dir.path().join("relay.sqlite3-wal")).unwrap();
        let err = disk.wait(disk.ticket(1)).await.unwrap_err();
        assert!(err.to_string().contains("cannot sync"), "{err}");
        // Even with the file back, a later sync would prove nothing: still refused.
        std::fs::write(dir.path().join("relay.sqlite3-wal"), "").unwrap();
        assert!(disk.wait(disk.ticket(2)).await.is_err());
        // What was on disk before stays acknowledged (a read of nothing written).
        assert!(disk.wait(0).await.is_ok());
    }

    #[tokio::test]
    async fn without_a_wal_there_is_nothing_to_wait_for() {
        let disk =
            DiskSync::start(None, 0, Arc::default(), Arc::new(CommitTimes::default())).unwrap();
        assert!(!disk.deferred());
        disk.wait(disk.ticket(7)).await.unwrap();
    }
}
