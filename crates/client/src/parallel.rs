//! Independent CPU work spread over the machine's cores, results kept in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most threads one call uses, this one included.
const MAX_THREADS: usize = 4;

/// `items` mapped with `f`, in their order, on up to [`MAX_THREADS`] threads (the calling one
/// among them). Items are handed out one at a time, so one large item does not hold up a
/// share of the others. A panic in `f` reaches the caller, as it would without threads.
pub(crate) fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(items.len());
    if threads < 2 {
        return items.into_iter().map(f).collect();
    }
    let count = items.len();
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                return done;
            }
            let item = slots[i]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(item) = item {
                done.push((i, f(item)));
            }
        }
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_and_maps_every_item() {
        let items: Vec<u64> = (0..1000).collect();
        let out = map(items, |n| {
            // Uneven work, so that the threads finish out of order.
            let spin: u64 = (0..(n % 7) * 1000).map(std::hint::black_box).sum();
            n * 2 + spin - spin
        });
        assert_eq!(out, (0..1000).map(|n| n * 2).collect::<Vec<u64>>());
        assert!(map(Vec::<u8>::new(), |b| b).is_empty());
        assert_eq!(map(vec!["một"], |s| s.chars().count()), vec![3]);
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            map((0..64).collect::<Vec<u32>>(), |n| {
                assert!(n != 40, "item 40 is bad");
                n
            })
        });
        assert!(caught.is_err());
    }
}
