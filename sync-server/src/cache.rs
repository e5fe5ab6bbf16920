//! Loaded documents kept between sync rounds, under a memory budget, evicted when idle.
//!
//! The database stays the only truth: an entry is put back only after its changes committed,
//! and anything that fails on the way simply drops the entry, so the next round reloads it.
//! Each entry remembers the document's stored version (its newest chunk's sequence number); an
//! entry whose version no longer matches the database (an admin `bundle import` wrote to it
//! from another process) is dropped on `take`, so the caller reloads it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use automerge::AutoCommit;

/// Loaded Automerge documents by id.
#[derive(Debug)]
pub struct DocCache {
    budget: usize,
    idle: Duration,
    used: usize,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    doc: AutoCommit,
    stored: usize,
    version: i64,
    at: Instant,
}

/// In-memory size of a document, estimated from its stored (compressed) size: Automerge's
/// op set takes roughly ten times the bytes of its save.
fn estimate(stored: usize) -> usize {
    stored.saturating_mul(10)
}

impl DocCache {
    /// A cache of at most `budget` estimated bytes whose entries leave after `idle` unused.
    pub fn new(budget: usize, idle: Duration) -> DocCache {
        DocCache {
            budget,
            idle,
            used: 0,
            entries: HashMap::new(),
        }
    }

    /// Removes and returns a document with its stored size if it is at `version` (dropping it
    /// otherwise); the caller puts it back after its changes are committed.
    pub fn take(&mut self, id: &str, version: i64) -> Option<(AutoCommit, usize)> {
        let e = self.entries.remove(id)?;
        self.used = self.used.saturating_sub(estimate(e.stored));
        (e.version == version).then_some((e.doc, e.stored))
    }

    /// Drops a document, whatever its version.
    pub fn forget(&mut self, id: &str) {
        if let Some(e) = self.entries.remove(id) {
            self.used = self.used.saturating_sub(estimate(e.stored));
        }
    }

    /// Keeps a document at stored `version`, then evicts idle entries and, oldest first, any
    /// over the budget.
    pub fn put(&mut self, id: &str, doc: AutoCommit, stored: usize, version: i64, now: Instant) {
        self.forget(id);
        if estimate(stored) > self.budget {
            return;
        }
        self.used += estimate(stored);
        let entry = Entry {
            doc,
            stored,
            version,
            at: now,
        };
        self.entries.insert(id.to_string(), entry);
        self.evict(now);
    }

    /// Drops idle entries and the least recently used ones while over the budget.
    pub fn evict(&mut self, now: Instant) {
        let idle = self.idle;
        let before = self.entries.len();
        self.entries.retain(|_, e| now.duration_since(e.at) < idle);
        self.used = self.entries.values().map(|e| estimate(e.stored)).sum();
        while self.used > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.forget(&oldest);
        }
        let evicted = before - self.entries.len();
        if evicted > 0 {
            tracing::debug!(evicted, kept = self.entries.len(), "documents evicted");
        }
    }

    /// Documents held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> AutoCommit {
        AutoCommit::new()
    }

    #[test]
    fn evicts_idle_entries_and_oldest_over_budget() {
        let t0 = Instant::now();
        let mut cache = DocCache::new(estimate(250), Duration::from_secs(60));
        cache.put("a", doc(), 100, 1, t0);
        cache.put("b", doc(), 100, 1, t0 + Duration::from_secs(1));
        cache.put("c", doc(), 100, 1, t0 + Duration::from_secs(2));
        assert_eq!(cache.len(), 2);
        assert!(cache.take("a", 1).is_none());
        let (d, stored) = cache.take("b", 1).expect("b stays");
        assert_eq!(stored, 100);
        cache.put("b", d, 100, 1, t0 + Duration::from_secs(3));
        cache.evict(t0 + Duration::from_secs(62));
        assert_eq!(cache.len(), 1, "c went idle, b was used at 3 s");
        cache.put("huge", doc(), 10_000, 1, t0);
        assert!(cache.take("huge", 1).is_none());
    }

    #[test]
    fn an_entry_written_behind_its_back_is_dropped() {
        let t0 = Instant::now();
        let mut cache = DocCache::new(estimate(1000), Duration::from_secs(60));
        cache.put("tuần tra", doc(), 100, 7, t0);
        assert!(cache.take("tuần tra", 8).is_none(), "stale version");
        assert!(cache.is_empty());
    }
}
