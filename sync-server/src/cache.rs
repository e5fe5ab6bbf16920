//! Loaded documents kept between sync rounds, under a memory budget, evicted when idle.
//!
//! The database stays the only truth: an entry is put back only after its changes committed,
//! and anything that fails on the way simply drops the entry, so the next round reloads it.
//! Each entry remembers the document's stored version (its newest chunk's sequence number); an
//! entry whose version no longer matches the database (an admin `bundle import` wrote to it
//! from another process) is dropped on `take`, so the caller reloads it.
//!
//! Beside the documents, the cache keeps each document's *first offers*: the message the relay
//! sends a device that holds none of it, with the sync state that leaves behind, one for a
//! device that may write and one for a reader. It is the same for every such device of a kind
//! (the state it starts from is empty), so under many devices it is made once per stored
//! version and kind instead of once per device: in S5, where 200 devices bring a patrol each
//! and read their station's, most of the relay's offers are these.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use automerge::sync::State;
use automerge::{AutoCommit, ReadDoc};
use tidemark_sync_protocol::ChangeSignature;

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
    /// First offers by document id: one for a device that may write, one for a reader.
    offers: HashMap<String, Offers>,
    /// Ids of `offers` (and whether the reader's) by when they were made, oldest first (an
    /// offer made again is listed again; its older listing evicts nothing once it is newer).
    offer_order: VecDeque<(Instant, String, bool)>,
    /// Bytes the offers hold, within a tenth of the budget.
    offer_bytes: usize,
}

/// A document's first offers, by the access of the device: a reader's message says it sends
/// no changes of its own, so it differs from a writer's. Both are kept: a station's patrol goes
/// to its own devices (writers) and to headquarters (readers) in no particular order, and with
/// one place per document each kind pushed the other out. S5 made each patrol's first offer
/// about six times instead of once (7,108 of 8,305 offers made were for a version already made
/// for the other kind).
/// The second kind's is made from the first's ([`FirstOffer::for_other_kind`]), not from the
/// document again.
#[derive(Debug, Default)]
struct Offers([Option<FirstOffer>; 2]);

impl Offers {
    fn slot(&mut self, read_only: bool) -> &mut Option<FirstOffer> {
        &mut self.0[usize::from(read_only)]
    }

    fn get(&self, read_only: bool) -> Option<&FirstOffer> {
        self.0[usize::from(read_only)].as_ref()
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// A document's first message to a device that holds none of it.
#[derive(Debug, Clone)]
pub struct FirstOffer {
    /// The stored version it was made from.
    pub version: i64,
    /// Whether it was made for a device that may only read.
    pub read_only: bool,
    /// The encoded message.
    pub message: Vec<u8>,
    /// The device's sync state once the message is sent.
    pub state: State,
    /// The signatures of the changes it carries. The relay stores a change's signatures only
    /// in the transaction that brings the change into the document (a held change's signature
    /// is stored, but not the change), so they cannot grow while the stored version stands;
    /// kept here, they are not read again for every device (a statement per offer, 2.4 % of
    /// the relay's CPU in S5's first wave).
    pub signatures: Vec<ChangeSignature>,
    /// When it was made.
    made: Instant,
}

impl FirstOffer {
    /// An offer made now.
    pub fn new(
        version: i64,
        read_only: bool,
        message: Vec<u8>,
        state: State,
        signatures: Vec<ChangeSignature>,
    ) -> FirstOffer {
        FirstOffer {
            version,
            read_only,
            message,
            state,
            signatures,
            made: Instant::now(),
        }
    }

    /// The same offer for the other kind of device, without generating it again from the
    /// document (a whole-document save for a new patrol: S5 made each patrol's first offer
    /// twice, once for its station's devices and once for headquarters'). A first message asks
    /// for nothing (it presumes the device holds nothing, so it needs nothing of it), so a
    /// reader's differs from a writer's only in its read-only flag, and the state it leaves in
    /// `read_only`. `None` when the message does not decode, asks for changes, or carries a flag
    /// this relay does not know: then the offer is generated as before.
    pub fn for_other_kind(&self) -> Option<FirstOffer> {
        use automerge::sync::{Message, MessageFlags};
        let mut message = Message::decode(&self.message).ok()?;
        if !message.need.is_empty() {
            return None;
        }
        let known = [MessageFlags::SYNC_RESET, MessageFlags::SUPPORTS_SYNC_RESET];
        let was = message.flags.unwrap_or_default();
        let mut same = MessageFlags::new();
        let mut other = MessageFlags::new();
        for flag in known {
            if was.contains(flag) {
                same.set(flag);
                other.set(flag);
            }
        }
        if self.read_only {
            same.set(MessageFlags::READ_ONLY);
        } else {
            other.set(MessageFlags::READ_ONLY);
        }
        if was != same {
            return None;
        }
        message.flags = Some(other);
        let mut state = self.state.clone();
        state.read_only = !self.read_only;
        Some(FirstOffer::new(
            self.version,
            !self.read_only,
            message.encode(),
            state,
            self.signatures.clone(),
        ))
    }

    fn cost(&self) -> usize {
        // The message, the state's hashes (heads, sent), the signatures and the entry itself.
        self.message.len()
            + 32 * (self.state.sent_hashes.len() + self.state.last_sent_heads.len())
            + std::mem::size_of::<ChangeSignature>() * self.signatures.len()
            + 256
    }
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
            offers: HashMap::new(),
            offer_order: VecDeque::new(),
            offer_bytes: 0,
        }
    }

    /// The first offer of document `id` at stored `version` for a device that may write (or
    /// only read, `read_only`), if one was kept.
    pub fn first_offer(&self, id: &str, version: i64, read_only: bool) -> Option<&FirstOffer> {
        self.offers
            .get(id)
            .and_then(|o| o.get(read_only))
            .filter(|o| o.version == version)
    }

    /// Keeps a document's first offer for its kind of device (replacing the one kept for that
    /// kind), then evicts the oldest offers while they take more than a tenth of the budget.
    pub fn keep_first_offer(&mut self, id: &str, offer: FirstOffer) {
        let cost = offer.cost();
        if cost > self.budget / 10 {
            return;
        }
        let read_only = offer.read_only;
        self.drop_offer(id, read_only);
        self.offer_bytes += cost;
        self.offer_order
            .push_back((offer.made, id.to_string(), read_only));
        *self
            .offers
            .entry(id.to_string())
            .or_default()
            .slot(read_only) = Some(offer);
        while self.offer_bytes > self.budget / 10 && self.pop_oldest_offer() {}
    }

    /// Drops the offer listed first in `offer_order`, unless it was made again since (then only
    /// its old listing goes); `false` when none is listed.
    fn pop_oldest_offer(&mut self) -> bool {
        let Some((made, id, read_only)) = self.offer_order.pop_front() else {
            return false;
        };
        let kept = self.offers.get(&id).and_then(|o| o.get(read_only));
        if kept.is_some_and(|o| o.made <= made) {
            self.drop_offer(&id, read_only);
        }
        true
    }

    /// Drops document `id`'s first offer for one kind of device.
    fn drop_offer(&mut self, id: &str, read_only: bool) {
        let Some(offers) = self.offers.get_mut(id) else {
            return;
        };
        if let Some(o) = offers.slot(read_only).take() {
            self.offer_bytes = self.offer_bytes.saturating_sub(o.cost());
        }
        if offers.is_empty() {
            self.offers.remove(id);
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

    /// Drops a document, whatever its version, and its first offers.
    pub fn forget(&mut self, id: &str) {
        self.remove(id);
        self.drop_offer(id, false);
        self.drop_offer(id, true);
    }

    /// Keeps a document at stored `version`, then evicts idle entries and, oldest first, any
    /// over the budget.
    pub fn put(&mut self, id: &str, doc: AutoCommit, stored: usize, version: i64, now: Instant) {
        self.remove(id);
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
        while self
            .offer_order
            .front()
            .is_some_and(|(made, _, _)| now.saturating_duration_since(*made) >= self.idle)
        {
            self.pop_oldest_offer();
        }
        let evicted = before - self.entries.len();
        if evicted > 0 {
            tracing::debug!(evicted, kept = self.entries.len(), "documents evicted");
        }
    }

    /// Drops every document and every first offer.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.used = 0;
        self.offers.clear();
        self.offer_order.clear();
        self.offer_bytes = 0;
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn doc() -> AutoCommit {
        AutoCommit::new()
    }

    /// A document's first offer for one kind of device, made as `sync::offer` makes it.
    fn made(doc: &mut AutoCommit, read_only: bool) -> FirstOffer {
        use automerge::sync::SyncDoc;
        let mut state = State::new();
        state.set_read_only(read_only);
        let to_send = doc.get_changes_meta(&[]).len();
        tidemark_sync_protocol::presume::presume_shared(&mut state, to_send);
        let message = doc.sync().generate_sync_message(&mut state).unwrap();
        FirstOffer::new(3, read_only, message.encode(), state, Vec::new())
    }

    /// A writer's first offer re-flagged is byte for byte the reader's, state included, and
    /// back: for a document of one change (changes sent one by one) and of many from two
    /// units (the whole document sent).
    #[test]
    fn a_first_offer_for_the_other_kind_is_the_one_made_for_it() {
        use automerge::{transaction::Transactable, ROOT};
        for changes in [1, 40] {
            let mut doc = AutoCommit::new();
            let mut other = AutoCommit::new();
            for i in 0..changes {
                let (unit, text) = if i % 2 == 0 {
                    (
                        &mut doc,
                        format!("Tuần tra lần {i}: tàu cá QNg-90123 neo đậu trái phép"),
                    )
                } else {
                    (
                        &mut other,
                        format!("Đồn Biên phòng Đồng Đức ghi nhận lần {i}"),
                    )
                };
                unit.put(ROOT, format!("ghi_chú_{i}"), text).unwrap();
                unit.commit();
                let (a, b) = (doc.save(), other.save());
                doc.load_incremental(&b).unwrap();
                other.load_incremental(&a).unwrap();
            }
            let writer = made(&mut doc, false);
            let reader = made(&mut doc, true);
            assert_ne!(writer.message, reader.message);
            for (from, to) in [(&writer, &reader), (&reader, &writer)] {
                let derived = from.for_other_kind().unwrap();
                assert_eq!(derived.read_only, to.read_only);
                assert_eq!(derived.message, to.message, "{changes} changes");
                assert_eq!(derived.state, to.state, "{changes} changes");
                assert_eq!(derived.version, 3);
            }
        }
        // Bytes that are not a sync message are left to be made the usual way.
        let mut broken = made(&mut AutoCommit::new(), false);
        broken.message = b"khong phai thong diep".to_vec();
        assert!(broken.for_other_kind().is_none());
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

    fn first(version: i64, read_only: bool, bytes: usize) -> FirstOffer {
        FirstOffer::new(
            version,
            read_only,
            vec![7; bytes],
            automerge::sync::State::new(),
            Vec::new(),
        )
    }

    #[test]
    fn a_first_offer_serves_only_its_version_and_access_and_leaves_with_its_document() {
        let mut cache = DocCache::new(10 << 20, Duration::from_secs(60));
        cache.keep_first_offer("a", first(3, false, 100));
        assert!(cache.first_offer("a", 3, false).is_some());
        assert!(
            cache.first_offer("a", 4, false).is_none(),
            "a newer version"
        );
        assert!(
            cache.first_offer("a", 3, true).is_none(),
            "a reader's differs"
        );
        // A reader's is kept beside the writer's, and each serves only its kind.
        cache.keep_first_offer("a", first(3, true, 100));
        assert!(cache.first_offer("a", 3, true).is_some());
        assert!(cache.first_offer("a", 3, false).is_some());
        assert!(cache.first_offer("a", 4, true).is_none());
        // A newer version for writers replaces only the writers' offer.
        cache.keep_first_offer("a", first(4, false, 100));
        assert!(cache.first_offer("a", 4, false).is_some());
        assert!(cache.first_offer("a", 3, false).is_none());
        assert!(cache.first_offer("a", 3, true).is_some());
        // Putting the document back keeps them; forgetting or clearing drops them all.
        let t0 = Instant::now();
        cache.put("a", doc(), 100, 3, t0);
        assert!(cache.first_offer("a", 3, true).is_some());
        cache.forget("a");
        assert!(cache.first_offer("a", 3, true).is_none());
        assert!(cache.first_offer("a", 4, false).is_none());
        assert!(cache.offers.is_empty());
        assert_eq!(cache.offer_bytes, 0);
        cache.keep_first_offer("b", first(1, false, 100));
        cache.clear();
        assert!(cache.first_offer("b", 1, false).is_none());
    }

    #[test]
    fn first_offers_stay_within_a_tenth_of_the_budget_and_leave_when_idle() {
        let mut cache = DocCache::new(100_000, Duration::from_secs(60));
        // 2 KB each (and some): a tenth of the budget holds four.
        for i in 0..10 {
            cache.keep_first_offer(&format!("d{i}"), first(1, false, 2_000));
        }
        let kept: Vec<usize> = (0..10)
            .filter(|i| cache.first_offer(&format!("d{i}"), 1, false).is_some())
            .collect();
        assert_eq!(kept, vec![6, 7, 8, 9], "the newest stay");
        assert!(cache.offer_bytes <= 10_000);
        // Made again, an older one is kept anew, and its former place evicts nothing.
        cache.keep_first_offer("d6", first(2, false, 2_000));
        cache.keep_first_offer("e", first(1, false, 2_000));
        assert!(cache.first_offer("d6", 2, false).is_some());
        assert!(cache.first_offer("d7", 1, false).is_none());
        // A reader's offer counts in the same tenth: the oldest listed goes (d8's).
        cache.keep_first_offer("e", first(1, true, 2_000));
        assert!(cache.first_offer("e", 1, true).is_some());
        assert!(cache.first_offer("e", 1, false).is_some());
        assert!(cache.first_offer("d8", 1, false).is_none());
        assert!(cache.offer_bytes <= 10_000);
        // Too big for the tenth: not kept.
        cache.keep_first_offer("big", first(1, false, 20_000));
        assert!(cache.first_offer("big", 1, false).is_none());
        cache.evict(Instant::now() + Duration::from_secs(61));
        assert!(cache.offers.is_empty() && cache.offer_order.is_empty());
        assert_eq!(cache.offer_bytes, 0);
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
