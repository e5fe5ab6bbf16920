//! Loaded documents kept between sync rounds, under a memory budget, evicted when idle.
//!
//! The database stays the only truth: an entry is put back only after its changes committed,
//! and anything that fails on the way simply drops the entry, so the next round reloads it.
//! Each entry remembers the document's stored version (its newest chunk's sequence number); an
//! entry whose version no longer matches the database (an admin `bundle import` wrote to it
//! from another process) is dropped on `take`, so the caller reloads it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use automerge::{AutoCommit, ReadDoc};

/// Loaded Automerge documents by id.
#[derive(Debug)]
pub struct DocCache {
    budget: usize,
    idle: Duration,
    used: usize,
    entries: HashMap<String, Entry>,
    /// The same ids by last use, oldest first: eviction takes from the front instead of
    /// scanning every entry (which, at every put, made a pull of thousands of documents
    /// quadratic: a fifth of the relay's CPU in S2).
    order: BTreeMap<(Instant, u64), String>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    doc: AutoCommit,
    stored: usize,
    cost: usize,
    version: i64,
    /// Its key in `order`.
    key: (Instant, u64),
}

/// Fixed bytes a loaded document takes however small it is (its op set's columns, indexes,
/// change graph and actor table).
const PER_DOC: usize = 16 * 1024;
/// Bytes per operation and per change once loaded.
const PER_OP: usize = 256;
const PER_CHANGE: usize = 512;

/// In-memory size of a loaded document, estimated from its shape. Measured on the benchmark's
/// patrols (about 1 KB saved, 74 operations, 1 change): 26 KB resident once loaded, 33 KB
/// after a fork and a sync exchange, so 25 to 33 times the stored size; the former estimate,
/// ten times the stored size, let the cache hold three times its budget and more.
fn estimate(doc: &AutoCommit, stored: usize) -> usize {
    let stats = doc.stats();
    PER_DOC
        .saturating_add(stored.saturating_mul(4))
        .saturating_add((stats.num_ops as usize).saturating_mul(PER_OP))
        .saturating_add((stats.num_changes as usize).saturating_mul(PER_CHANGE))
}

impl DocCache {
    /// A cache of at most `budget` estimated bytes whose entries leave after `idle` unused.
    pub fn new(budget: usize, idle: Duration) -> DocCache {
        DocCache {
            budget,
            idle,
            used: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
        }
    }

    /// Removes an entry from both maps.
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let e = self.entries.remove(id)?;
        self.order.remove(&e.key);
        self.used = self.used.saturating_sub(e.cost);
        Some(e)
    }

    /// Removes and returns a document with its stored size if it is at `version` (dropping it
    /// otherwise); the caller puts it back after its changes are committed.
    pub fn take(&mut self, id: &str, version: i64) -> Option<(AutoCommit, usize)> {
        let e = self.remove(id)?;
        (e.version == version).then_some((e.doc, e.stored))
    }

    /// Drops a document, whatever its version.
    pub fn forget(&mut self, id: &str) {
        self.remove(id);
    }

    /// Keeps a document at stored `version`, then evicts idle entries and, oldest first, any
    /// over the budget.
    pub fn put(&mut self, id: &str, doc: AutoCommit, stored: usize, version: i64, now: Instant) {
        self.forget(id);
        let cost = estimate(&doc, stored);
        if cost > self.budget {
            return;
        }
        self.used += cost;
        self.next += 1;
        let key = (now, self.next);
        self.order.insert(key, id.to_string());
        let entry = Entry {
            doc,
            stored,
            cost,
            version,
            key,
        };
        self.entries.insert(id.to_string(), entry);
        self.evict(now);
    }

    /// Drops idle entries and the least recently used ones while over the budget.
    pub fn evict(&mut self, now: Instant) {
        let before = self.entries.len();
        while let Some((&(at, _), _)) = self.order.first_key_value() {
            let idle = now.saturating_duration_since(at) >= self.idle;
            if !idle && self.used <= self.budget {
                break;
            }
            if let Some((_, id)) = self.order.pop_first() {
                if let Some(e) = self.entries.remove(&id) {
                    self.used = self.used.saturating_sub(e.cost);
                }
            }
        }
        let evicted = before - self.entries.len();
        if evicted > 0 {
            tracing::debug!(evicted, kept = self.entries.len(), "documents evicted");
        }
    }

    /// Drops every document.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.used = 0;
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
    fn many_puts_keep_the_newest_within_the_budget() {
        let t0 = Instant::now();
        let one = estimate(&doc(), 100);
        let mut cache = DocCache::new(one * 100, Duration::from_secs(60));
        for i in 0..10_000u64 {
            cache.put(
                &format!("patrol:{i}"),
                doc(),
                100,
                1,
                t0 + Duration::from_millis(i),
            );
        }
        assert_eq!(cache.len(), 100);
        assert!(cache.take("patrol:9999", 1).is_some());
        assert!(cache.take("patrol:9900", 1).is_some());
        assert!(cache.take("patrol:9899", 1).is_none());
    }

    #[test]
    fn evicts_idle_entries_and_oldest_over_budget() {
        let t0 = Instant::now();
        let one = estimate(&doc(), 100);
        let mut cache = DocCache::new(one * 2 + one / 2, Duration::from_secs(60));
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
        cache.put("huge", doc(), one * 10, 1, t0);
        assert!(cache.take("huge", 1).is_none());
    }

    #[test]
    fn bigger_documents_cost_more_than_their_saved_size_suggests() {
        use automerge::transaction::Transactable;
        let mut d = doc();
        let list = d
            .put_object(automerge::ROOT, "điểm", automerge::ObjType::List)
            .expect("list");
        for i in 0..1000 {
            d.insert(&list, i, i as i64).expect("insert");
        }
        d.commit();
        let stored = d.save().len();
        let cost = estimate(&d, stored);
        assert!(cost > 1000 * PER_OP, "{cost}");
        assert!(cost > stored * 25, "{cost} for {stored} stored bytes");
        assert_eq!(
            estimate(&doc(), 0),
            PER_DOC,
            "an empty document costs its fixed part"
        );
    }

    #[test]
    fn an_entry_written_behind_its_back_is_dropped() {
        let t0 = Instant::now();
        let mut cache = DocCache::new(estimate(&doc(), 1000), Duration::from_secs(60));
        cache.put("tuần tra", doc(), 100, 7, t0);
        assert!(cache.take("tuần tra", 8).is_none(), "stale version");
        assert!(cache.is_empty());
    }
}
