//! The background sync engine: runs sessions when something changed locally (debounced), on a
//! timer, and when the link comes back; backs off with full jitter on network failures; stops
//! retrying on errors only the user can fix; publishes its status.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{connect, lock, sync_once, SharedClient, SyncError, SyncOptions, SyncReport};
use super::{WireCounters, WireTotals};

/// What sync is doing, as the app's sync bar and `tidemark sync` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// Not enrolled, or not started yet.
    Idle,
    /// The relay cannot be reached; the engine tries again in `retry_in_secs`.
    Offline {
        /// Why (`offline`, `timeout`, `network`, `relay_error`…).
        code: String,
        /// Seconds until the next attempt.
        retry_in_secs: u64,
        /// Documents with changes the relay has not confirmed.
        pending: usize,
    },
    /// Starting a session.
    Connecting,
    /// A session is running.
    Syncing {
        /// Documents settled so far.
        docs_done: usize,
        /// Documents in this session.
        docs_total: usize,
        /// Bytes sent so far.
        bytes_up: u64,
        /// Bytes received so far.
        bytes_down: u64,
    },
    /// A file (attachment or thumbnail) is moving, after the records.
    Transferring {
        /// Up to the relay or down from it.
        direction: super::files::Direction,
        /// The file's hash (names stay out of status events, which may be logged).
        hash: String,
        /// Whether it is a thumbnail.
        thumb: bool,
        /// Bytes of this file moved so far (including chunks moved in earlier sessions).
        done: u64,
        /// The file's size.
        total: u64,
        /// Which file of this session (from 1).
        file: usize,
        /// Files in this session.
        files: usize,
    },
    /// Everything local is at the relay and everything the relay had is here.
    UpToDate {
        /// When, seconds since the epoch.
        at: i64,
        /// Documents with changes still unconfirmed (made during the session).
        pending: usize,
        /// The session's bytes and round trips.
        wire: WireTotals,
        /// Records that changed here in the session (at most 1,000 ids).
        changed: Vec<String>,
    },
    /// Sync stopped on something the user must fix; the engine waits for a nudge.
    Error {
        /// Stable code (`unauthorized`, `forbidden`, `not_enrolled`, `store`…).
        code: String,
        /// What happened and what to do.
        message: String,
    },
}

/// The exponential backoff delay before attempt `failures + 1`, with full jitter: a uniform
/// random delay between zero and `min(cap, base × 2^(failures−1))`.
pub fn backoff_delay(failures: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let ceiling = exp.min(cap);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(0..=ms.max(1)))
}

/// A running engine. Dropping it stops the task.
#[derive(Debug)]
pub struct SyncEngine {
    status: watch::Receiver<SyncStatus>,
    nudge: Arc<Notify>,
    stop: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl SyncEngine {
    /// Starts the engine on the current tokio runtime. It syncs at once, then on triggers.
    pub fn start(shared: SharedClient, opts: SyncOptions) -> SyncEngine {
        let (tx, rx) = watch::channel(SyncStatus::Idle);
        let nudge = Arc::new(Notify::new());
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(run(shared, opts, tx, nudge.clone(), stop.clone()));
        SyncEngine {
            status: rx,
            nudge,
            stop,
            task: Some(task),
        }
    }

    /// A receiver of status changes.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Tells the engine something changed locally (it syncs after the debounce delay), or
    /// that the user asked to retry after an error.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Stops the engine and waits for it (a session in flight is abandoned; what it applied
    /// is kept).
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for SyncEngine {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// How the loop waits for its next session.
enum Next {
    At(Instant),
    /// Only a nudge (or another process's write) starts the next session.
    Nudge,
}

async fn run(
    shared: SharedClient,
    opts: SyncOptions,
    status: watch::Sender<SyncStatus>,
    nudge: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let mut failures: u32 = 0;
    let mut next = Next::At(Instant::now());
    let mut version = lock(&shared).store().data_version().unwrap_or(0);
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Wait for a trigger.
        let deadline = match next {
            Next::At(t) => t,
            Next::Nudge => Instant::now() + Duration::from_secs(365 * 24 * 3600),
        };
        let mut debounce = false;
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep_until(deadline) => {}
            _ = nudge.notified() => { debounce = true; failures = 0; }
            _ = poll.tick() => {
                // Another process (the CLI beside the app) wrote to the store.
                let v = lock(&shared).store().data_version().unwrap_or(version);
                if v == version { continue; }
                version = v;
                if failures > 0 { continue; } // the backoff timer decides
                debounce = true;
            }
        }
        if debounce {
            tokio::select! {
                _ = stop.notified() => return,
                _ = tokio::time::sleep(opts.debounce) => {}
            }
        }
        // After failures, a cheap probe first: is the link back?
        if failures > 0 {
            if let Err(e) = probe(&shared, &opts).await {
                failures = failures.saturating_add(1);
                next = offline(&shared, &opts, &status, failures, &e);
                continue;
            }
        }
        let tx = status.clone();
        let progress = move |s: SyncStatus| {
            let _ = tx.send(s);
        };
        match sync_once(&shared, &opts, &progress).await {
            Ok(report) => {
                failures = 0;
                up_to_date(&shared, &status, &report);
                next = Next::At(Instant::now() + opts.period);
            }
            Err(e) if e.retryable => {
                failures = failures.saturating_add(1);
                next = offline(&shared, &opts, &status, failures, &e);
            }
            Err(e) => {
                let _ = status.send(SyncStatus::Error {
                    code: e.code.clone(),
                    message: e.message.clone(),
                });
                next = Next::Nudge;
            }
        }
        version = lock(&shared).store().data_version().unwrap_or(version);
    }
}

async fn probe(shared: &SharedClient, opts: &SyncOptions) -> Result<(), SyncError> {
    let (_, http) = connect(shared, opts, Arc::new(WireCounters::default()))?;
    http.health().await
}

fn pending(shared: &SharedClient) -> usize {
    lock(shared)
        .sync_summary()
        .map(|s| s.pending)
        .unwrap_or_default()
}

fn offline(
    shared: &SharedClient,
    opts: &SyncOptions,
    status: &watch::Sender<SyncStatus>,
    failures: u32,
    e: &SyncError,
) -> Next {
    let delay = backoff_delay(failures, opts.backoff_base, opts.backoff_cap);
    let _ = status.send(SyncStatus::Offline {
        code: e.code.clone(),
        retry_in_secs: delay.as_secs(),
        pending: pending(shared),
    });
    tracing::info!(code = %e.code, failures, delay_ms = delay.as_millis() as u64, "sync offline; will retry");
    Next::At(Instant::now() + delay)
}

fn up_to_date(shared: &SharedClient, status: &watch::Sender<SyncStatus>, report: &SyncReport) {
    let _ = status.send(SyncStatus::UpToDate {
        at: crate::now_secs(),
        pending: pending(shared),
        wire: report.wire,
        changed: report.changed.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(300);
        for failures in 1..40 {
            let d = backoff_delay(failures, base, cap);
            assert!(d <= cap, "{failures}: {d:?}");
            let ceiling = base.saturating_mul(1 << (failures - 1).min(20)).min(cap);
            assert!(d <= ceiling);
        }
        // Full jitter: many draws at a high failure count spread over the range.
        let draws: Vec<Duration> = (0..200).map(|_| backoff_delay(12, base, cap)).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_secs(100)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(200)));
    }
}
