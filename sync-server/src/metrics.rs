//! Counters for `/metrics` in the Prometheus text format: requests by route and status, errors
//! by code, sync rounds and items by code, bytes in and out, documents loaded, first offers made
//! and reused, attachment chunks received and refused, attachment bytes received and served,
//! database commits (each one sync to disk). Counts only.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    /// The database's own count (see `Db::commits`).
    db_commits: Arc<AtomicU64>,
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
    /// Counters that report `db_commits` as the database's commits.
    pub fn with_db_commits(db_commits: Arc<AtomicU64>) -> Metrics {
        Metrics {
            db_commits,
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
            ("tidemark_db_commits_total", &*self.db_commits),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}
