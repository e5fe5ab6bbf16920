//! Runs of first offers sent as zstd frames compressed once, while the relay is busy.
//!
//! A device's first session brings the first offer of every document it may read, and every
//! device of a station gets the same first offers (see `crate::sync::offer`): in S5's first
//! wave, 257 answers came to 16.3 MB before compression, and compressing them was a sixth of
//! the relay's CPU, the same patrols compressed again for every device.
//!
//! The offers of an answer are cut into runs where a document's id says so (a hash of it), not
//! by position: two devices whose offers differ by a few documents still cut the others into
//! the same runs. A run that ends at such a cut is compressed once, kept, and spliced as its own
//! frame into every answer that carries the same run (zstd frames concatenate; see
//! [`super::keyframe`] for the key directory, sent the same way). A run costs the matches its
//! bytes would have found in the rest of the answer, so runs are used only while requests wait
//! for the database, as the busy compression level is: an idle relay, as on a weak link,
//! compresses each answer whole.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// What makes an offered item the same for every device that gets it: the document, the
/// stored version its message was made from, and whether it was made for a reader.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SharedOffer {
    pub(crate) doc_id: String,
    pub(crate) version: i64,
    pub(crate) read_only: bool,
}

/// An item of an answer's envelope: where its bytes are in the answer and, for a first offer,
/// what makes it the same for every device that gets it.
pub(super) type ItemAt = (Range<usize>, Option<SharedOffer>);

/// On average, a run ends after one document in this many.
const CUT_EVERY: u64 = 8;

/// Most bytes (before and after compression) of the runs kept.
const MAX_KEPT_BYTES: usize = 32 * 1024 * 1024;

/// Whether a run ends after the document `doc_id`.
fn cuts_after(doc_id: &str) -> bool {
    let mut h = DefaultHasher::new();
    doc_id.hash(&mut h);
    h.finish().is_multiple_of(CUT_EVERY)
}

/// One run's bytes as they are in an answer, and its frame.
#[derive(Debug)]
pub(super) struct Kept {
    raw: Vec<u8>,
    level: i32,
    frame: Vec<u8>,
}

impl Kept {
    /// The compressed frame.
    pub(super) fn frame(&self) -> &[u8] {
        &self.frame
    }

    fn bytes(&self) -> usize {
        self.raw.len() + self.frame.len()
    }
}

#[derive(Debug, Default)]
struct Runs {
    kept: HashMap<Vec<SharedOffer>, Arc<Kept>>,
    /// The order they were kept in, oldest first: the first to go when too many bytes are kept.
    order: VecDeque<Vec<SharedOffer>>,
    bytes: usize,
}

/// The runs of first offers compressed so far.
#[derive(Debug, Default)]
pub(crate) struct OfferFrames {
    runs: Mutex<Runs>,
}

impl OfferFrames {
    /// The frames for the runs of `body`'s items: `items` are the envelope's items in order,
    /// each with its bytes in `body` and, for a first offer, what makes it shared. Gives each
    /// closed run's range and frame (compressed at `level` or better), kept or made now.
    pub(super) fn frames(
        &self,
        body: &[u8],
        items: &[ItemAt],
        level: i32,
    ) -> std::io::Result<Vec<(Range<usize>, Arc<Kept>)>> {
        let mut out = Vec::new();
        let mut run: Vec<SharedOffer> = Vec::new();
        let mut start = 0;
        for (range, shared) in items {
            let Some(shared) = shared else {
                run.clear();
                continue;
            };
            if run.is_empty() {
                start = range.start;
            }
            run.push(shared.clone());
            if cuts_after(&shared.doc_id) {
                let whole = start..range.end;
                if let Some(raw) = body.get(whole.clone()) {
                    out.push((whole, self.frame(std::mem::take(&mut run), raw, level)?));
                }
                run.clear();
            }
        }
        Ok(out)
    }

    /// The frame of the run `key` whose bytes are `raw`: kept when its bytes are the same and
    /// its level high enough, else made now (outside the lock) and kept.
    fn frame(&self, key: Vec<SharedOffer>, raw: &[u8], level: i32) -> std::io::Result<Arc<Kept>> {
        let found = self
            .runs
            .lock()
            .ok()
            .and_then(|runs| runs.kept.get(&key).cloned());
        if let Some(k) = found.filter(|k| k.level >= level && k.raw == raw) {
            return Ok(k);
        }
        let made = Arc::new(Kept {
            raw: raw.to_vec(),
            level,
            frame: super::sync::compress(raw, level, &[])?,
        });
        if let Ok(mut runs) = self.runs.lock() {
            runs.keep(key, Arc::clone(&made));
        }
        Ok(made)
    }
}

impl Runs {
    fn keep(&mut self, key: Vec<SharedOffer>, kept: Arc<Kept>) {
        self.bytes += kept.bytes();
        match self.kept.insert(key.clone(), kept) {
            Some(old) => self.bytes -= old.bytes(),
            None => self.order.push_back(key),
        }
        while self.bytes > MAX_KEPT_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.kept.remove(&oldest) {
                self.bytes -= gone.bytes();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shared(doc_id: &str) -> SharedOffer {
        SharedOffer {
            doc_id: doc_id.into(),
            version: 1,
            read_only: false,
        }
    }

    /// Documents' ids, and for each the bytes of its item: a patrol's note in Vietnamese.
    fn patrols(n: usize) -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let id = format!("patrol:TT:20260320:{i:03}");
                let note = format!("{id}: tuần tra cửa sông Soài Rạp, đã kiểm tra {i} tàu cá; ")
                    .repeat(20);
                (id, note.into_bytes())
            })
            .collect()
    }

    /// An answer's body: `head`, then the items; with each item's range and shared key.
    fn answer(
        head: &[u8],
        items: &[(String, Vec<u8>)],
        own: Option<usize>,
    ) -> (Vec<u8>, Vec<ItemAt>) {
        let mut body = head.to_vec();
        let mut ranges = Vec::new();
        for (i, (id, bytes)) in items.iter().enumerate() {
            let start = body.len();
            body.extend_from_slice(bytes);
            let key = (own != Some(i)).then(|| shared(id));
            ranges.push((start..body.len(), key));
        }
        (body, ranges)
    }

    /// Runs end where a document's id cuts, whatever came before: an answer with some
    /// documents more or fewer, or one of its own in the middle, reuses the other runs; the
    /// frames decode to the run's bytes; an open run at the end is left to the answer.
    #[test]
    fn runs_cut_by_document_are_compressed_once_for_every_answer_that_carries_them() {
        let frames = OfferFrames::default();
        let docs = patrols(60);
        let cuts = docs.iter().filter(|(id, _)| cuts_after(id)).count();
        assert!((3..20).contains(&cuts), "{cuts} cuts in 60 documents");

        let (body, items) = answer(b"TMR status", &docs, None);
        let first = frames.frames(&body, &items, 3).unwrap();
        assert_eq!(first.len(), cuts);
        for (range, kept) in &first {
            let raw = zstd::bulk::decompress(kept.frame(), range.len()).unwrap();
            assert_eq!(raw, &body[range.clone()]);
        }
        // Runs are contiguous, from the first item, and the last ends at a cut.
        assert_eq!(first[0].0.start, items[0].0.start);
        for pair in first.windows(2) {
            assert_eq!(pair[0].0.end, pair[1].0.start);
        }
        let last_cut = docs.iter().rposition(|(id, _)| cuts_after(id)).unwrap();
        assert_eq!(first.last().unwrap().0.end, items[last_cut].0.end);

        // A later device: a longer head, two more documents at the end. Every run is reused.
        let more = patrols(62);
        let (body2, items2) = answer(b"TMR a longer status", &more, None);
        let second = frames.frames(&body2, &items2, 3).unwrap();
        assert!(second.len() >= first.len());
        for ((_, a), (_, b)) in first.iter().zip(&second) {
            assert!(Arc::ptr_eq(a, b));
        }

        // The device's own document in the middle is not shared: the run it falls in is
        // broken, every other run is the same.
        let (body3, items3) = answer(b"TMR", &docs, Some(30));
        let third = frames.frames(&body3, &items3, 3).unwrap();
        let own = &items3[30].0;
        assert!(third
            .iter()
            .all(|(r, _)| r.end <= own.start || r.start >= own.end));
        let broken = first.iter().filter(|(r, _)| r.contains(&items[30].0.start));
        let reused = third
            .iter()
            .filter(|(_, k)| first.iter().any(|(_, f)| Arc::ptr_eq(f, k)))
            .count();
        assert_eq!(reused, cuts - broken.count());
        for (range, kept) in &third {
            let raw = zstd::bulk::decompress(kept.frame(), range.len()).unwrap();
            assert_eq!(raw, &body3[range.clone()]);
        }

        // The same key with other bytes (a document made again) is compressed again.
        let mut changed = docs.clone();
        changed[0].1.extend_from_slice("đã sửa".as_bytes());
        let (body4, items4) = answer(b"TMR", &changed, None);
        let fourth = frames.frames(&body4, &items4, 3).unwrap();
        assert!(!Arc::ptr_eq(&fourth[0].1, &first[0].1));
        let raw = zstd::bulk::decompress(fourth[0].1.frame(), fourth[0].0.len()).unwrap();
        assert_eq!(raw, &body4[fourth[0].0.clone()]);
        // A higher level makes it again; a lower one takes the kept frame.
        let higher = frames.frames(&body4, &items4, 9).unwrap();
        assert!(!Arc::ptr_eq(&higher[0].1, &fourth[0].1));
        let lower = frames.frames(&body4, &items4, 1).unwrap();
        assert!(Arc::ptr_eq(&lower[0].1, &higher[0].1));
    }

    #[test]
    fn the_oldest_runs_go_when_too_many_bytes_are_kept() {
        let mut runs = Runs::default();
        let big = MAX_KEPT_BYTES / 3;
        for i in 0..5 {
            let kept = Arc::new(Kept {
                raw: vec![0; big],
                level: 3,
                frame: vec![1; 16],
            });
            runs.keep(vec![shared(&format!("patrol:TT:{i}"))], kept);
        }
        assert!(runs.bytes <= MAX_KEPT_BYTES);
        assert_eq!(runs.kept.len(), 2);
        assert!(runs.kept.contains_key(&vec![shared("patrol:TT:4")]));
        assert!(!runs.kept.contains_key(&vec![shared("patrol:TT:0")]));
        assert_eq!(runs.order.len(), runs.kept.len());
    }
}
