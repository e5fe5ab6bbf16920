//! Exchanges a device can resume after its link broke (see `tidemark_sync_protocol::resume`):
//! the part of a request body that arrived before a cut, and the answers of requests that ran,
//! kept for a while by device and exchange id.
//!
//! An exchange goes `Receiving` (a connection is reading its body) → `Partial` (that
//! connection broke; the bytes so far wait for the rest) or `Running` (the whole body is in)
//! → `Answered`. A resumed upload takes a `Partial` exchange back to `Receiving`. Each reading
//! connection holds a generation number: when a device gives up on a connection the relay has
//! not yet seen break, a newer request supersedes it and the old reader's bytes go nowhere.
//!
//! Memory is bounded: entries live [`KEEP`] after their last change, at most
//! [`PER_DEVICE`] per device, and their bytes together at most the configured budget (the
//! oldest go first; a running exchange is never dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::Notify;

/// How long an exchange is kept after its last change.
pub const KEEP: Duration = Duration::from_secs(15 * 60);
/// Most exchanges kept for one device.
pub const PER_DEVICE: usize = 8;

/// A response as the relay sent it, kept to send again.
#[derive(Debug)]
pub struct Stored {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as sent (compressed when it was).
    pub body: Bytes,
}

/// Where an exchange stands, as [`Exchanges::look`] sees it.
#[derive(Debug, Clone)]
pub enum Look {
    /// The relay never heard of it (or forgot it).
    Unknown,
    /// A connection is still reading its body: this many bytes so far.
    Receiving(usize),
    /// The body's first this many bytes are in; the rest has not come.
    Partial(usize),
    /// The whole body is in and the request is running.
    Running,
    /// It ran; this is its answer.
    Answered(Arc<Stored>),
}

/// Why a request cannot start or resume an exchange.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// It ran already: here is its answer (a repeated request gets it again, not a second run).
    Answered(Arc<Stored>),
    /// It is running: ask where it stands.
    Running,
    /// A resumed upload's offset is not what the relay holds (`None`: it holds nothing).
    Mismatch(Option<usize>),
}

#[derive(Debug)]
enum Phase {
    Receiving {
        generation: u64,
        body: Vec<u8>,
        headers: HeaderMap,
    },
    Partial {
        body: Vec<u8>,
        headers: HeaderMap,
    },
    Running,
    Answered(Arc<Stored>),
}

impl Phase {
    fn bytes(&self) -> usize {
        match self {
            Phase::Receiving { body, .. } | Phase::Partial { body, .. } => body.len(),
            Phase::Running => 0,
            Phase::Answered(stored) => stored.body.len(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    phase: Phase,
    touched: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<(String, String), Entry>,
    next_generation: u64,
}

/// The relay's resumable exchanges.
#[derive(Debug)]
pub struct Exchanges {
    inner: Mutex<Inner>,
    changed: Notify,
    max_bytes: usize,
}

/// A connection's right to write an exchange's body: the generation it read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

fn key(device: &str, id: &str) -> (String, String) {
    (device.to_string(), id.to_string())
}

impl Exchanges {
    /// Exchanges whose kept bytes stay within `max_bytes`.
    pub fn new(max_bytes: usize) -> Exchanges {
        Exchanges {
            inner: Mutex::default(),
            changed: Notify::new(),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves at worst a stale entry: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request starts exchange `id` (`from`: `None`) with its `headers`, or resumes its
    /// upload at byte `from` (the headers of the request that started it stay in force).
    pub fn begin(
        &self,
        device: &str,
        id: &str,
        from: Option<usize>,
        headers: &HeaderMap,
    ) -> Result<Ticket, Refusal> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.next_generation += 1;
        let generation = inner.next_generation;
        let k = key(device, id);
        let held = match inner.entries.remove(&k).map(|e| e.phase) {
            Some(Phase::Answered(stored)) => {
                Self::put_back(&mut inner, k, Phase::Answered(stored.clone()), now);
                return Err(Refusal::Answered(stored));
            }
            Some(Phase::Running) => {
                Self::put_back(&mut inner, k, Phase::Running, now);
                return Err(Refusal::Running);
            }
            Some(Phase::Receiving { body, headers, .. } | Phase::Partial { body, headers }) => {
                Some((body, headers))
            }
            None => None,
        };
        let (body, headers) = match (from, held) {
            (None, _) => (Vec::new(), headers.clone()),
            (Some(n), Some((body, headers))) if body.len() == n => (body, headers),
            (Some(_), held) => {
                let len = held.as_ref().map(|(body, _)| body.len());
                if let Some((body, headers)) = held {
                    // Put back what was there: a mismatched resume changes nothing.
                    Self::put_back(&mut inner, k, Phase::Partial { body, headers }, now);
                }
                return Err(Refusal::Mismatch(len));
            }
        };
        Self::put_back(
            &mut inner,
            k,
            Phase::Receiving {
                generation,
                body,
                headers,
            },
            now,
        );
        Self::trim(&mut inner, device, self.max_bytes, now);
        drop(inner);
        self.changed.notify_waiters();
        Ok(Ticket(generation))
    }

    fn put_back(inner: &mut Inner, k: (String, String), phase: Phase, touched: Instant) {
        inner.entries.insert(k, Entry { phase, touched });
    }

    /// Adds bytes read under `ticket`. False when the exchange is no longer this connection's
    /// (superseded or dropped) or would pass `max` bytes.
    pub fn append(&self, device: &str, id: &str, ticket: Ticket, bytes: &[u8], max: usize) -> bool {
        let mut inner = self.lock();
        match inner.entries.get_mut(&key(device, id)) {
            Some(Entry {
                phase: Phase::Receiving {
                    generation, body, ..
                },
                touched,
            }) if *generation == ticket.0 => {
                if body.len() + bytes.len() > max {
                    return false;
                }
                body.extend_from_slice(bytes);
                *touched = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// The connection reading under `ticket` is done: with the whole body (`complete`) the
    /// exchange runs, and the body and the headers of the request that started it are
    /// returned; otherwise what came waits for the rest.
    pub fn finish(
        &self,
        device: &str,
        id: &str,
        ticket: Ticket,
        complete: bool,
    ) -> Option<(Vec<u8>, HeaderMap)> {
        let mut inner = self.lock();
        let k = key(device, id);
        match inner.entries.get(&k).map(|e| &e.phase) {
            Some(Phase::Receiving { generation, .. }) if *generation == ticket.0 => {}
            _ => return None,
        }
        let Some(Entry {
            phase: Phase::Receiving { body, headers, .. },
            ..
        }) = inner.entries.remove(&k)
        else {
            return None;
        };
        let now = Instant::now();
        let out = if complete {
            Self::put_back(&mut inner, k, Phase::Running, now);
            Some((body, headers))
        } else {
            Self::put_back(&mut inner, k, Phase::Partial { body, headers }, now);
            None
        };
        drop(inner);
        self.changed.notify_waiters();
        out
    }

    /// Forgets an exchange (its body was refused: nothing to resume).
    pub fn forget(&self, device: &str, id: &str) {
        self.lock().entries.remove(&key(device, id));
        self.changed.notify_waiters();
    }

    /// Keeps the answer of a request that ran.
    pub fn answer(&self, device: &str, id: &str, stored: Arc<Stored>) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.entries.insert(
            key(device, id),
            Entry {
                phase: Phase::Answered(stored),
                touched: now,
            },
        );
        Self::trim(&mut inner, device, self.max_bytes, now);
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Where exchange `id` stands now.
    pub fn look(&self, device: &str, id: &str) -> Look {
        match self.lock().entries.get(&key(device, id)).map(|e| &e.phase) {
            None => Look::Unknown,
            Some(Phase::Receiving { body, .. }) => Look::Receiving(body.len()),
            Some(Phase::Partial { body, .. }) => Look::Partial(body.len()),
            Some(Phase::Running) => Look::Running,
            Some(Phase::Answered(stored)) => Look::Answered(stored.clone()),
        }
    }

    /// Where exchange `id` stands once it is neither receiving nor running, waiting at most
    /// `wait` for that. A connection still receiving after it is taken to be dead: its bytes
    /// so far are what the relay holds, and it writes no more.
    pub async fn settled(&self, device: &str, id: &str, wait: Duration) -> Look {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.look(device, id) {
                Look::Receiving(_) | Look::Running => {}
                settled => return settled,
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.supersede(device, id);
            }
        }
    }

    fn supersede(&self, device: &str, id: &str) -> Look {
        let mut inner = self.lock();
        let k = key(device, id);
        if let Some(Phase::Receiving { .. }) = inner.entries.get(&k).map(|e| &e.phase) {
            if let Some(Entry {
                phase: Phase::Receiving { body, headers, .. },
                touched,
            }) = inner.entries.remove(&k)
            {
                Self::put_back(
                    &mut inner,
                    k.clone(),
                    Phase::Partial { body, headers },
                    touched,
                );
            }
        }
        match inner.entries.get(&k).map(|e| &e.phase) {
            None => Look::Unknown,
            Some(Phase::Partial { body, .. } | Phase::Receiving { body, .. }) => {
                Look::Partial(body.len())
            }
            Some(Phase::Running) => Look::Running,
            Some(Phase::Answered(stored)) => Look::Answered(stored.clone()),
        }
    }

    /// Bytes kept now, and how many exchanges.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        let bytes = inner.entries.values().map(|e| e.phase.bytes()).sum();
        (bytes, inner.entries.len())
    }

    /// Drops expired entries, `device`'s oldest past [`PER_DEVICE`], and the oldest of all
    /// while the bytes pass `max_bytes`. Running exchanges stay.
    fn trim(inner: &mut Inner, device: &str, max_bytes: usize, now: Instant) {
        inner.entries.retain(|_, e| {
            matches!(e.phase, Phase::Running) || now.duration_since(e.touched) < KEEP
        });
        let droppable = |e: &Entry| !matches!(e.phase, Phase::Running);
        let mut mine: Vec<(Instant, (String, String))> = inner
            .entries
            .iter()
            .filter(|(k, e)| k.0 == device && droppable(e))
            .map(|(k, e)| (e.touched, k.clone()))
            .collect();
        if mine.len() > PER_DEVICE {
            mine.sort();
            for (_, k) in &mine[..mine.len() - PER_DEVICE] {
                inner.entries.remove(k);
            }
        }
        let mut total: usize = inner.entries.values().map(|e| e.phase.bytes()).sum();
        if total > max_bytes {
            let mut all: Vec<(Instant, (String, String), usize)> = inner
                .entries
                .iter()
                .filter(|(_, e)| droppable(e))
                .map(|(k, e)| (e.touched, k.clone(), e.phase.bytes()))
                .collect();
            all.sort();
            for (_, k, bytes) in all {
                if total <= max_bytes {
                    break;
                }
                inner.entries.remove(&k);
                total -= bytes;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stored(body: &[u8]) -> Arc<Stored> {
        Arc::new(Stored {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
        })
    }

    const MAX: usize = 1 << 20;

    fn h() -> HeaderMap {
        HeaderMap::new()
    }

    #[test]
    fn a_cut_upload_resumes_where_it_stopped() {
        let x = Exchanges::new(MAX);
        let mut first = HeaderMap::new();
        first.insert("tidemark-session", "first".parse().unwrap());
        let t = x.begin("d", "e", None, &first).unwrap();
        assert!(x.append("d", "e", t, b"hello ", MAX));
        assert!(x.finish("d", "e", t, false).is_none());
        assert!(matches!(x.look("d", "e"), Look::Partial(6)));
        // A resume from the wrong offset changes nothing.
        assert!(matches!(
            x.begin("d", "e", Some(3), &h()),
            Err(Refusal::Mismatch(Some(6)))
        ));
        assert!(matches!(x.look("d", "e"), Look::Partial(6)));
        let t2 = x.begin("d", "e", Some(6), &h()).unwrap();
        assert!(x.append("d", "e", t2, b"world", MAX));
        let (body, headers) = x.finish("d", "e", t2, true).unwrap();
        assert_eq!(body, b"hello world");
        // The headers of the request that started the exchange stay in force.
        assert_eq!(headers.get("tidemark-session").unwrap(), "first");
        assert!(matches!(x.look("d", "e"), Look::Running));
        assert!(matches!(
            x.begin("d", "e", None, &h()),
            Err(Refusal::Running)
        ));
        x.answer("d", "e", stored(b"ok"));
        match x.begin("d", "e", None, &h()) {
            Err(Refusal::Answered(s)) => assert_eq!(&s.body[..], b"ok"),
            other => panic!("{other:?}"),
        }
        // Another device's exchange of the same id is another exchange.
        assert!(matches!(x.look("other", "e"), Look::Unknown));
        assert!(matches!(
            x.begin("other", "e", Some(6), &h()),
            Err(Refusal::Mismatch(None))
        ));
    }

    #[tokio::test]
    async fn a_newer_request_supersedes_a_reader_the_relay_has_not_seen_break() {
        let x = Exchanges::new(MAX);
        let old = x.begin("d", "e", None, &h()).unwrap();
        assert!(x.append("d", "e", old, b"abc", MAX));
        let look = x.settled("d", "e", Duration::from_millis(20)).await;
        assert!(matches!(look, Look::Partial(3)), "{look:?}");
        // The old connection writes no more and cannot finish the exchange.
        assert!(!x.append("d", "e", old, b"zzz", MAX));
        let new = x.begin("d", "e", Some(3), &h()).unwrap();
        assert!(x.finish("d", "e", old, true).is_none());
        assert!(x.append("d", "e", new, b"def", MAX));
        assert_eq!(x.finish("d", "e", new, true).unwrap().0, b"abcdef");
    }

    #[tokio::test]
    async fn a_look_waits_for_the_answer_of_a_running_request() {
        let x = Arc::new(Exchanges::new(MAX));
        let t = x.begin("d", "e", None, &h()).unwrap();
        x.finish("d", "e", t, true).unwrap();
        let y = x.clone();
        let waiter =
            tokio::spawn(async move { y.settled("d", "e", Duration::from_secs(10)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        x.answer("d", "e", stored(b"done"));
        match waiter.await.unwrap() {
            Look::Answered(s) => assert_eq!(&s.body[..], b"done"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kept_bytes_stay_within_the_budget_and_the_count_per_device() {
        let x = Exchanges::new(1000);
        for i in 0..20 {
            x.answer("d", &format!("e{i}"), stored(&[0; 100]));
        }
        let (bytes, count) = x.usage();
        assert_eq!(count, PER_DEVICE);
        assert!(bytes <= 1000);
        // The newest stay.
        assert!(matches!(x.look("d", "e19"), Look::Answered(_)));
        assert!(matches!(x.look("d", "e0"), Look::Unknown));
        for i in 0..20 {
            x.answer(&format!("dev{i}"), "e", stored(&[0; 300]));
        }
        assert!(x.usage().0 <= 1000);
        assert!(matches!(x.look("dev19", "e"), Look::Answered(_)));
        // Appending past the request limit is refused.
        let t = x.begin("d", "big", None, &h()).unwrap();
        assert!(!x.append("d", "big", t, &[0; 11], 10));
    }
}
