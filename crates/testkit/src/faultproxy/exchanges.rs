//! The proxy's record of HTTP/1.1 exchanges: each request line, its bytes each way, and its
//! time from the request's first byte to the response's last.

use std::time::{Duration, Instant};

use super::Direction;

/// One HTTP/1.1 request and its response, as the proxy saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Method and path of the request line, without the query (`POST /v1/sync`).
    pub request: String,
    /// Request bytes (headers and body).
    pub up: u64,
    /// Response bytes (headers and body).
    pub down: u64,
    /// When the request's first byte came.
    pub started: Instant,
    /// From the request's first byte to the response's last.
    pub took: Duration,
}

/// Method and path of an HTTP request line at the start of `bytes`, without the query.
fn request_line(bytes: &[u8]) -> String {
    let line = bytes
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or_default();
    let line = String::from_utf8_lossy(&line[..line.len().min(200)]);
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    format!("{method} {path}")
}

/// The request/response exchange in progress on one connection.
#[derive(Debug, Default)]
pub(super) struct ExchangeClock {
    /// The request line of the current exchange.
    request: String,
    /// When the first byte of the current request arrived.
    started: Option<Instant>,
    /// When the last response byte so far was forwarded.
    answered: Option<Instant>,
    up: u64,
    down: u64,
}

impl ExchangeClock {
    /// `bytes` went `dir` now. A request byte after response bytes starts a new exchange and
    /// returns the one it ends.
    pub(super) fn saw(&mut self, dir: Direction, bytes: &[u8]) -> Option<Exchange> {
        let now = Instant::now();
        match dir {
            Direction::Upstream => {
                let done = match (self.started, self.answered) {
                    (Some(_), None) => None,
                    _ => {
                        let done = self.finish();
                        self.started = Some(now);
                        self.request = request_line(bytes);
                        done
                    }
                };
                self.up += bytes.len() as u64;
                done
            }
            Direction::Downstream => {
                self.answered = Some(now);
                self.down += bytes.len() as u64;
                None
            }
        }
    }

    /// Ends the current exchange; returns it if it got an answer.
    pub(super) fn finish(&mut self) -> Option<Exchange> {
        let done = match (self.started, self.answered) {
            (Some(s), Some(a)) => Some(Exchange {
                request: std::mem::take(&mut self.request),
                up: self.up,
                down: self.down,
                started: s,
                took: a.saturating_duration_since(s),
            }),
            _ => None,
        };
        *self = ExchangeClock::default();
        done
    }
}
