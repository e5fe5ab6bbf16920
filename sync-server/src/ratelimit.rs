//! Fixed-window rate limits per client address: enrolment attempts and failed authentications.
//! A client over its limit gets 429 `rate_limited` until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events per address in windows of `window`.
#[derive(Debug)]
pub struct RateLimit {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimit {
    /// At most `max` events per address per `window` (0 disables the limit).
    pub fn new(max: u32, window: Duration) -> RateLimit {
        RateLimit {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is over its limit now (without counting an event).
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        if self.max == 0 {
            return false;
        }
        let Ok(seen) = self.seen.lock() else {
            return false;
        };
        matches!(seen.get(&ip), Some((start, n)) if now.duration_since(*start) < self.window && *n >= self.max)
    }

    /// Counts one event for `ip`.
    pub fn record(&self, ip: IpAddr, now: Instant) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() > 100_000 {
            // Bound memory under a flood of addresses: forget expired windows.
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_events_until_the_window_ends() {
        let limit = RateLimit::new(2, Duration::from_secs(60));
        let ip = IpAddr::from([127, 0, 0, 1]);
        let t0 = Instant::now();
        assert!(!limit.blocked(ip, t0));
        limit.record(ip, t0);
        limit.record(ip, t0);
        assert!(limit.blocked(ip, t0));
        assert!(!limit.blocked(IpAddr::from([127, 0, 0, 2]), t0));
        let later = t0 + Duration::from_secs(61);
        assert!(!limit.blocked(ip, later));
    }
}
