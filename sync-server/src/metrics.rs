//! Counters for `/metrics` in the Prometheus text format: requests by route and status, errors
//! by code, sync rounds and items by code, bytes in and out, documents loaded, first offers made
//! and reused, attachment chunks received and refused, attachment bytes received and served,
//! database commits and the syncs to disk that made them durable, with their times. Counts only.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The relay's counters, shared by all handlers.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    items: Mutex<BTreeMap<&'static str, u64>>,
    sync_rounds: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    documents_loaded: AtomicU64,
    attachment_chunks_received: AtomicU64,
    attachment_chunks_refused: AtomicU64,
    attachment_bytes_received: AtomicU64,
    attachment_bytes_served: AtomicU64,
    first_offers_made: AtomicU64,
    first_offers_reused: AtomicU64,
    /// The database's own count and times (see `Db::commits`).
    db_commits: Arc<CommitTimes>,
    /// The serving relay's syncs of the database to disk and their times (see `DiskSync`).
    db_syncs: Arc<CommitTimes>,
}

/// The upper bounds (seconds) of [`CommitTimes`]' buckets. A sync to disk takes well under a
/// millisecond on a quiet SSD; a commit (which no longer syncs while serving) less.
pub const COMMIT_BUCKETS: [f64; 6] = [0.001, 0.005, 0.02, 0.05, 0.2, 1.0];

/// How long the database's commits (or its syncs to disk) took, as a Prometheus histogram:
/// written by the database (or the sync thread), read for `/metrics`.
#[derive(Debug, Default)]
pub struct CommitTimes {
    count: AtomicU64,
    micros: AtomicU64,
    /// Commits by the first bucket that holds them (not cumulative; the last: over them all).
    buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
}

impl CommitTimes {
    /// Counts one commit that took `took`.
    pub fn record(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Commits so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The histogram in the Prometheus text format (`name_bucket`, `name_sum`, `name_count`).
    fn render(&self, out: &mut String, name: &str) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut below = 0;
        for (le, n) in COMMIT_BUCKETS.iter().zip(&self.buckets) {
            below += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {below}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let secs = self.micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {secs}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Marks a response with its error code so the metrics layer can count it.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key).or_default() += 1;
    }
}

impl Metrics {
    /// Counters that report `db_commits` as the database's commits and `db_syncs` as its syncs
    /// to disk.
    pub fn with_db(db_commits: Arc<CommitTimes>, db_syncs: Arc<CommitTimes>) -> Metrics {
        Metrics {
            db_commits,
            db_syncs,
            ..Metrics::default()
        }
    }

    /// Counts one finished request.
    pub fn request(&self, route: &str, status: u16, error: Option<&'static str>) {
        bump(&self.requests, (route.to_string(), status));
        if let Some(code) = error {
            bump(&self.errors, code);
        }
    }

    /// Counts one sync round with its body sizes.
    pub fn sync_round(&self, bytes_in: usize, bytes_out: usize) {
        self.sync_rounds.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes_in as u64, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(bytes_out as u64, Ordering::Relaxed);
    }

    /// Counts one sync item by its status code, and whether the document was loaded for it.
    pub fn item(&self, code: &'static str, loaded: bool) {
        bump(&self.items, code);
        if loaded {
            self.documents_loaded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts first offers (a document's message to a device that holds none of it) made
    /// for a request, and those it reused from an earlier device.
    pub fn first_offers(&self, made: usize, reused: usize) {
        self.first_offers_made
            .fetch_add(made as u64, Ordering::Relaxed);
        self.first_offers_reused
            .fetch_add(reused as u64, Ordering::Relaxed);
    }

    /// Counts one attachment chunk stored, with its size.
    pub fn chunk_received(&self, bytes: usize) {
        self.attachment_chunks_received
            .fetch_add(1, Ordering::Relaxed);
        self.attachment_bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts one attachment chunk refused (it, or the file it completed, did not check out).
    pub fn chunk_refused(&self) {
        self.attachment_chunks_refused
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts attachment content bytes sent.
    pub fn attachment_served(&self, bytes: usize) {
        self.attachment_bytes_served
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE tidemark_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "tidemark_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# TYPE tidemark_errors_total counter");
        if let Ok(m) = self.errors.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "tidemark_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# TYPE tidemark_sync_items_total counter");
        if let Ok(m) = self.items.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "tidemark_sync_items_total{{code=\"{code}\"}} {n}");
            }
        }
        for (name, v) in [
            ("tidemark_sync_rounds_total", &self.sync_rounds),
            ("tidemark_sync_bytes_in_total", &self.bytes_in),
            ("tidemark_sync_bytes_out_total", &self.bytes_out),
            ("tidemark_documents_loaded_total", &self.documents_loaded),
            ("tidemark_first_offers_made_total", &self.first_offers_made),
            (
                "tidemark_first_offers_reused_total",
                &self.first_offers_reused,
            ),
            (
                "tidemark_attachment_chunks_received_total",
                &self.attachment_chunks_received,
            ),
            (
                "tidemark_attachment_chunks_refused_total",
                &self.attachment_chunks_refused,
            ),
            (
                "tidemark_attachment_bytes_received_total",
                &self.attachment_bytes_received,
            ),
            (
                "tidemark_attachment_bytes_served_total",
                &self.attachment_bytes_served,
            ),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# TYPE tidemark_db_commits_total counter");
        let _ = writeln!(out, "tidemark_db_commits_total {}", self.db_commits.count());
        self.db_commits
            .render(&mut out, "tidemark_db_commit_seconds");
        let _ = writeln!(out, "# TYPE tidemark_db_syncs_total counter");
        let _ = writeln!(out, "tidemark_db_syncs_total {}", self.db_syncs.count());
        self.db_syncs.render(&mut out, "tidemark_db_sync_seconds");
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commit_times_render_as_a_cumulative_histogram() {
        let times = Arc::new(CommitTimes::default());
        for ms in [0, 1, 3, 30, 30, 150, 2_500] {
            times.record(Duration::from_millis(ms));
        }
        let syncs = Arc::new(CommitTimes::default());
        syncs.record(Duration::from_micros(300));
        let text = Metrics::with_db(Arc::clone(&times), syncs).render();
        let line = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
                .to_string()
        };
        assert_eq!(line("tidemark_db_commits_total"), "7");
        assert_eq!(line("tidemark_db_commit_seconds_count"), "7");
        // A bound holds what took at most that long.
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"0.001\"}"), "2");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"0.005\"}"), "3");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"0.02\"}"), "3");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"0.05\"}"), "5");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"0.2\"}"), "6");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"1\"}"), "6");
        assert_eq!(line("tidemark_db_commit_seconds_bucket{le=\"+Inf\"}"), "7");
        let sum: f64 = line("tidemark_db_commit_seconds_sum").parse().unwrap();
        assert!((sum - 2.714).abs() < 1e-9, "{sum}");
        assert!(text.contains("# TYPE tidemark_db_commit_seconds histogram"));
        // The syncs to disk beside them, counted apart.
        assert_eq!(line("tidemark_db_syncs_total"), "1");
        assert_eq!(line("tidemark_db_sync_seconds_bucket{le=\"0.001\"}"), "1");
        assert!(text.contains("# TYPE tidemark_db_sync_seconds histogram"));
    }
}
