//! What S5 reads from a load once it is over: the relay's commits from its `/metrics`
//! counters, the first wave of requests, and how many requests took the target's time or more.
//! Pure functions of what was recorded, so that they can be tested on made-up records.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::measure::ms;

/// The relay's counters now less `before` (a counter missing before counts from 0).
pub(super) fn since(
    before: &BTreeMap<String, f64>,
    now: BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    now.into_iter()
        .map(|(k, v)| {
            let was = before.get(&k).copied().unwrap_or(0.0);
            (k, v - was)
        })
        .collect()
}

/// The relay's commits during a load, and the syncs to disk that made them durable, from the
/// differences of its `/metrics` counters. Every request that needs the database waits behind
/// a commit, then for a sync to disk that covers it (shared by the requests that committed
/// meanwhile).
#[derive(Debug, PartialEq)]
pub(super) struct Commits {
    pub(super) count: f64,
    /// Their time in all.
    pub(super) secs: f64,
    pub(super) over_50ms: f64,
    pub(super) over_200ms: f64,
    pub(super) syncs: f64,
    /// The syncs' time in all.
    pub(super) sync_secs: f64,
    pub(super) syncs_over_50ms: f64,
}

impl Commits {
    pub(super) fn from(counted: &BTreeMap<String, f64>) -> Commits {
        let get = |name: &str| counted.get(name).copied().unwrap_or(0.0);
        let histogram = |name: &str| {
            let count = get(&format!("{name}_count"));
            let over = |le: &str| count - get(&format!("{name}_bucket{{le=\"{le}\"}}"));
            (
                count,
                get(&format!("{name}_sum")),
                over("0.05"),
                over("0.2"),
            )
        };
        let (count, secs, over_50ms, over_200ms) = histogram("tidemark_db_commit_seconds");
        let (syncs, sync_secs, syncs_over_50ms, _) = histogram("tidemark_db_sync_seconds");
        Commits {
            count,
            secs,
            over_50ms,
            over_200ms,
            syncs,
            sync_secs,
            syncs_over_50ms,
        }
    }

    /// "1200 commits (0.41 s in all; 3 took over 50 ms, 1 over 200 ms), on disk in 310 syncs
    /// (0.12 s in all; 0 took over 50 ms)".
    pub(super) fn describe(&self) -> String {
        format!(
            "{:.0} commits ({:.2} s in all; {:.0} took over 50 ms, {:.0} over 200 ms), on disk in \
             {:.0} syncs ({:.2} s in all; {:.0} took over 50 ms)",
            self.count,
            self.secs,
            self.over_50ms,
            self.over_200ms,
            self.syncs,
            self.sync_secs,
            self.syncs_over_50ms
        )
    }
}

/// The first `n` requests of a load (one per device when they all start at once).
pub(super) struct Wave {
    pub(super) requests: usize,
    /// From the first request's first byte to the last one's.
    pub(super) arrival_ms: f64,
    /// From the first request's first byte to the last answer's last.
    pub(super) drained_ms: f64,
    /// The most of them that arrived within any [`DENSE_MS`].
    pub(super) densest: usize,
    /// How many of them took [`TARGET_MS`] or more.
    pub(super) slow: usize,
    /// When the first of them arrived and when the last answer ended.
    pub(super) window: (Instant, Instant),
    /// Requests answered within [`Wave::window`]: the wave's own, and any later request
    /// answered before its last.
    pub(super) answered: usize,
    /// The most relay time a request could have taken, all answered one at a time in order of
    /// arrival, for these arrivals to leave no more requests over the target than allowed
    /// ([`service_budget`]): what the relay must do a request in, whatever the wave's density.
    pub(super) budget_ms: f64,
}

/// The most time a server answering one request at a time, in order of arrival, could take
/// for each, for all but `allowed` of requests arriving at `arrivals_ms` (in order) to be
/// answered in under [`TARGET_MS`]; within 0.01 ms, and 0 when not even that would do.
pub(super) fn service_budget(arrivals_ms: &[f64], allowed: usize) -> f64 {
    let slow = |each: f64| {
        let (mut free, mut slow) = (f64::MIN, 0);
        for &at in arrivals_ms {
            free = free.max(at) + each;
            if free - at >= TARGET_MS {
                slow += 1;
            }
        }
        slow
    };
    // More time a request never helps, so the largest that works is found by halving.
    let (mut works, mut fails) = (0.0, TARGET_MS);
    if slow(works) > allowed {
        return 0.0;
    }
    while fails - works > 0.01 {
        let mid = (works + fails) / 2.0;
        if slow(mid) <= allowed {
            works = mid;
        } else {
            fails = mid;
        }
    }
    works
}

/// S5's latency target: a p99 under this many milliseconds.
pub(super) const TARGET_MS: f64 = 250.0;

/// How many of `times` (ms) took [`TARGET_MS`] or more, and how many may for a p99 under it
/// (the nearest-rank p99 of [`percentile`](crate::measure::percentile) is under the target
/// while at most 1 % are slow).
pub(super) fn slow_and_allowed(times: &[f64]) -> (usize, usize) {
    let slow = times.iter().filter(|t| **t >= TARGET_MS).count();
    let n = times.len();
    let allowed = n - ((0.99 * n as f64).ceil() as usize).min(n);
    (slow, allowed)
}

/// The window [`Wave::densest`] counts arrivals in.
pub(super) const DENSE_MS: u64 = 100;

/// The first wave of `recorded`: its first `n` exchanges by start, with the budget a request
/// had for no more than `allowed` of the whole load over the target; `None` if there are none.
pub(super) fn first_wave(
    recorded: &[tidemark_testkit::faultproxy::Exchange],
    n: usize,
    allowed: usize,
) -> Option<Wave> {
    let mut by_start: Vec<_> = recorded.iter().collect();
    by_start.sort_by_key(|x| x.started);
    let wave = &by_start[..n.min(by_start.len())];
    let first = wave.first()?.started;
    let last = wave.last()?.started;
    let done = wave.iter().map(|x| x.started + x.took).max()?;
    let window = Duration::from_millis(DENSE_MS);
    let mut from = 0;
    let mut densest = 0;
    for (to, x) in wave.iter().enumerate() {
        while x.started.saturating_duration_since(wave[from].started) >= window {
            from += 1;
        }
        densest = densest.max(to + 1 - from);
    }
    let slow = wave.iter().filter(|x| ms(x.took) >= TARGET_MS).count();
    let answered = recorded
        .iter()
        .filter(|x| x.started >= first && x.started + x.took <= done)
        .count();
    let arrivals: Vec<f64> = wave
        .iter()
        .map(|x| ms(x.started.saturating_duration_since(first)))
        .collect();
    Some(Wave {
        requests: wave.len(),
        arrival_ms: ms(last.saturating_duration_since(first)),
        drained_ms: ms(done.saturating_duration_since(first)),
        densest,
        slow,
        window: (first, done),
        answered,
        budget_ms: service_budget(&arrivals, allowed),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::measure::percentile;
    use tidemark_testkit::faultproxy::Exchange;

    fn exchange(t0: Instant, start_ms: u64, took_ms: u64) -> Exchange {
        Exchange {
            request: "POST /v1/session".into(),
            up: 1,
            down: 1,
            started: t0 + Duration::from_millis(start_ms),
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn commits_during_a_load_come_from_the_differences_of_the_histogram() {
        let scrape = |count: f64, within_50: f64, within_200: f64, sum: f64, syncs: f64| {
            crate::harness::counters(&format!(
                "tidemark_db_commit_seconds_bucket{{le=\"0.05\"}} {within_50}\n\
                 tidemark_db_commit_seconds_bucket{{le=\"0.2\"}} {within_200}\n\
                 tidemark_db_commit_seconds_sum {sum}\n\
                 tidemark_db_commit_seconds_count {count}\n\
                 tidemark_db_sync_seconds_bucket{{le=\"0.05\"}} {}\n\
                 tidemark_db_sync_seconds_bucket{{le=\"0.2\"}} {syncs}\n\
                 tidemark_db_sync_seconds_sum {}\n\
                 tidemark_db_sync_seconds_count {syncs}\n",
                syncs - 1.0,
                syncs / 1000.0
            ))
        };
        // Enrolment's 200 commits before, all fast; the load's 1200 after, four slow, on disk
        // in 300 syncs, one of them slow.
        let before = scrape(200.0, 200.0, 200.0, 0.25, 200.0);
        let after = scrape(1400.0, 1396.0, 1399.0, 1.75, 500.0);
        let c = Commits::from(&since(&before, after));
        assert_eq!(c.count, 1200.0);
        assert!((c.secs - 1.5).abs() < 1e-9);
        assert_eq!((c.over_50ms, c.over_200ms), (4.0, 1.0));
        assert_eq!((c.syncs, c.syncs_over_50ms), (300.0, 0.0));
        assert!((c.sync_secs - 0.3).abs() < 1e-9);
        assert_eq!(
            c.describe(),
            "1200 commits (1.50 s in all; 4 took over 50 ms, 1 over 200 ms), on disk in 300 \
             syncs (0.30 s in all; 0 took over 50 ms)"
        );
        // A relay without the histogram (older): nothing, not a failure.
        let none = Commits::from(&BTreeMap::new());
        assert_eq!(none.count, 0.0);
    }

    #[test]
    fn the_first_wave_is_the_first_requests_by_start_and_ends_with_their_last_answer() {
        let t0 = Instant::now();
        // Recorded in the order they ended, not started; the fourth is the second wave.
        let recorded = vec![
            exchange(t0, 30, 10),
            exchange(t0, 0, 500),
            exchange(t0, 20, 100),
            exchange(t0, 900, 5),
        ];
        let w = first_wave(&recorded, 3, 12).unwrap();
        assert_eq!(w.requests, 3);
        assert!((w.arrival_ms - 30.0).abs() < 1e-6);
        assert!(
            (w.drained_ms - 500.0).abs() < 1e-6,
            "the slowest, not the last to start"
        );
        assert_eq!(w.densest, 3, "all three within 100 ms");
        assert_eq!(w.slow, 1, "the one of 500 ms is over 250 ms");
        assert_eq!(w.window, (t0, t0 + Duration::from_millis(500)));
        assert_eq!(w.answered, 3, "the fourth ends after the wave");
        // Three arrivals within 30 ms, twelve allowed over: any time up to the target does.
        assert!(w.budget_ms > 249.9 && w.budget_ms <= TARGET_MS);
        // None allowed: the third, arriving at 30 ms, done by 3 × t under 280 ms: t < 93.33 ms.
        let none = first_wave(&recorded, 3, 0).unwrap().budget_ms;
        assert!((93.32..93.34).contains(&none), "{none}");
        let spread = first_wave(&recorded, 10, 12).unwrap();
        assert_eq!(spread.requests, 4);
        assert_eq!(spread.densest, 3, "the fourth is 870 ms after the third");
        // A window is 100 ms: starts at 0, 99 and 100 count two at most.
        let edge = [
            exchange(t0, 0, 1),
            exchange(t0, 99, 1),
            exchange(t0, 100, 1),
        ];
        assert_eq!(first_wave(&edge, 3, 12).unwrap().densest, 2);
        assert!(first_wave(&[], 3, 12).is_none());
    }

    #[test]
    fn the_budget_is_the_most_time_a_request_that_leaves_no_more_slow_than_allowed() {
        // 200 at once, 12 allowed: the 188th must be done under 250 ms, 250 / 188 = 1.3298 ms.
        let at_once = vec![0.0; 200];
        let b = service_budget(&at_once, 12);
        assert!((1.32..1.3298).contains(&b), "{b}");
        // Spread evenly over 100 ms, the 188th arrives at 93.5 ms: (250 + 93.5) / 188 ms.
        let spread: Vec<f64> = (0..200).map(|k| k as f64 * 0.5).collect();
        let b = service_budget(&spread, 12);
        assert!((1.817..1.8272).contains(&b), "{b}");
        // The same arrivals, none allowed over: all 200 by 250 ms after their arrival.
        assert!(service_budget(&spread, 0) < b);
        // Arrivals 300 ms apart never queue: anything under the target does.
        assert!(service_budget(&[0.0, 300.0, 600.0], 0) > 249.9);
        assert!(service_budget(&[], 0) > 249.9);
    }

    #[test]
    fn a_p99_under_the_target_allows_one_request_in_a_hundred_over_it() {
        // 1,200 requests: the p99 is the 1,188th fastest, so 12 may be slow.
        let mut times = vec![10.0; 1188];
        times.extend([TARGET_MS; 12]);
        assert_eq!(slow_and_allowed(&times), (12, 12));
        assert!(percentile(&times, 99.0) < TARGET_MS, "12 slow: met");
        times[0] = 300.0;
        assert_eq!(slow_and_allowed(&times), (13, 12));
        assert!(percentile(&times, 99.0) >= TARGET_MS, "13 slow: not met");
        // 150 requests: ceil(148.5) = 149 must be fast, so one may be slow.
        assert_eq!(slow_and_allowed(&[1.0; 150]), (0, 1));
        assert_eq!(slow_and_allowed(&[]), (0, 0));
    }
}
