//! A fault-injecting TCP proxy for tests of weak links.
//!
//! [`FaultProxy`] sits between an HTTP client and the relay and breaks TCP connections at chosen
//! or random points: a clean close (FIN), an abortive close (RST), a stall followed by a close,
//! a truncated response, or a refused connection. Sync tests run many interrupted syncs through
//! it and check that nothing is lost and nothing is applied twice.
//!
//! Faults apply per TCP connection. HTTP clients reuse keep-alive connections, so one connection
//! may carry several requests; byte offsets count every byte that connection has carried in the
//! given direction, so a fault can land in the middle of the second or third request.
//!
//! A fault "after `after` bytes" fires when more than `after` bytes try to pass in its direction:
//! exactly `after` bytes are forwarded, the rest is dropped, and the fault acts. With `after == 0`
//! the fault fires on the first byte, so a `Truncate { after: 0 }` still lets the relay receive
//! and process the whole request and only withholds its response.
//!
//! [`FaultProxy::set_rate_limit`] turns the proxy into a slow link: every byte, in each
//! direction and over all connections together, waits its turn at the given rate, like a
//! 9.6 kbit/s radio modem. [`FaultProxy::record_exchanges`] records each HTTP/1.1 exchange: its
//! request line (method and path), its bytes each way and its time from the first byte of the
//! request to the last byte of the response (requests on one connection do not overlap: clients
//! send the next request only after the response).
//!
//! The proxy listens on `127.0.0.1` only.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::Rng;

/// How long the proxy waits for the target to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a clean close keeps reading (and discarding) what the peers still send, so that
/// closing does not turn into a reset because of unread data.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Read buffer per direction.
const BUF_SIZE: usize = 16 * 1024;

/// A direction of traffic through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (requests).
    Upstream,
    /// Server to client (responses).
    Downstream,
}

/// What the proxy does to one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward faithfully in both directions.
    Pass,
    /// After `after` bytes in `dir`, close both sides cleanly (FIN).
    Cut {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the cut.
        after: usize,
    },
    /// After `after` bytes in `dir`, abort both sides with a reset (RST, `SO_LINGER` 0).
    Reset {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the reset.
        after: usize,
    },
    /// After `after` bytes in `dir`, stop forwarding in both directions for `for_`, then close
    /// both sides cleanly.
    Stall {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the stall.
        after: usize,
        /// How long the connection hangs before it is closed.
        for_: Duration,
    },
    /// Forward requests fully, but only `after` bytes of the responses (counted over the whole
    /// connection), then close both sides cleanly.
    Truncate {
        /// How many response bytes pass.
        after: usize,
    },
    /// Accept the connection and close it at once, without contacting the target.
    Refuse,
}

impl Fault {
    /// The direction and offset at which this fault fires, if it fires on traffic.
    fn trigger(&self) -> Option<(Direction, usize)> {
        match *self {
            Fault::Pass | Fault::Refuse => None,
            Fault::Cut { dir, after } | Fault::Reset { dir, after } => Some((dir, after)),
            Fault::Stall { dir, after, .. } => Some((dir, after)),
            Fault::Truncate { after } => Some((Direction::Downstream, after)),
        }
    }
}

/// Which fault each new connection gets.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    kind: PlanKind,
}

#[derive(Debug, Clone)]
enum PlanKind {
    Pass,
    Always(Fault),
    Random {
        rng: Rng,
        fault_rate: f64,
        max_offset: usize,
        stall: Duration,
    },
    Schedule(VecDeque<Fault>),
    /// The listed faults, then the plan.
    Then(VecDeque<Fault>, Box<FaultPlan>),
}

impl FaultPlan {
    /// Never fault: every connection gets [`Fault::Pass`].
    pub fn pass() -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Pass,
        }
    }

    /// Every connection gets `f`.
    pub fn always(f: Fault) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Always(f),
        }
    }

    /// Each new connection is faulted with probability `fault_rate`: the fault kind (cut, reset,
    /// stall, truncate, refuse) and direction are chosen uniformly, the byte offset uniformly in
    /// `0..max_offset` (0 if `max_offset` is 0), and stalls last `stall`. The same seed gives the
    /// same sequence of faults (SplitMix64, see [`crate::Rng`]).
    pub fn random(seed: u64, fault_rate: f64, max_offset: usize, stall: Duration) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Random {
                rng: Rng::new(seed),
                fault_rate,
                max_offset,
                stall,
            },
        }
    }

    /// Connection `i` gets `faults[i]`; connections after the end of the list get
    /// [`Fault::Pass`].
    pub fn schedule(faults: Vec<Fault>) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Schedule(faults.into()),
        }
    }

    /// Connection `i` gets `faults[i]`; connections after the end of the list follow `rest`.
    pub fn schedule_then(faults: Vec<Fault>, rest: FaultPlan) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Then(faults.into(), Box::new(rest)),
        }
    }

    /// The faults the next `n` connections would get under this plan, without consuming them.
    pub fn preview(&self, n: usize) -> Vec<Fault> {
        let mut plan = self.clone();
        (0..n).map(|_| plan.next_fault()).collect()
    }

    /// The fault for the next connection.
    fn next_fault(&mut self) -> Fault {
        match &mut self.kind {
            PlanKind::Pass => Fault::Pass,
            PlanKind::Always(f) => *f,
            PlanKind::Schedule(faults) => faults.pop_front().unwrap_or(Fault::Pass),
            PlanKind::Then(faults, rest) => match faults.pop_front() {
                Some(f) => f,
                None => rest.next_fault(),
            },
            PlanKind::Random {
                rng,
                fault_rate,
                max_offset,
                stall,
            } => {
                // 53 random bits as a uniform number in [0, 1).
                let roll = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if roll >= *fault_rate {
                    return Fault::Pass;
                }
                let kind = rng.below(5);
                let dir = if rng.below(2) == 0 {
                    Direction::Upstream
                } else {
                    Direction::Downstream
                };
                let after = rng.below(*max_offset as u64) as usize;
                match kind {
                    0 => Fault::Cut { dir, after },
                    1 => Fault::Reset { dir, after },
                    2 => Fault::Stall {
                        dir,
                        after,
                        for_: *stall,
                    },
                    3 => Fault::Truncate { after },
                    _ => Fault::Refuse,
                }
            }
        }
    }
}

/// Counters of a [`FaultProxy`].
///
/// `faults` and the per-kind counters count faults that actually fired: a fault whose offset is
/// never reached (the connection ended first) is not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Faults that fired (the sum of the per-kind counters).
    pub faults: u64,
    /// Connections cut cleanly ([`Fault::Cut`]).
    pub cut: u64,
    /// Connections reset ([`Fault::Reset`]).
    pub reset: u64,
    /// Connections stalled then closed ([`Fault::Stall`]).
    pub stalled: u64,
    /// Responses truncated ([`Fault::Truncate`]).
    pub truncated: u64,
    /// Connections refused ([`Fault::Refuse`]).
    pub refused: u64,
    /// Bytes forwarded from clients to the target.
    pub bytes_up: u64,
    /// Bytes forwarded from the target to clients.
    pub bytes_down: u64,
}

/// A bandwidth limit: when each direction of the link is next free.
#[derive(Debug)]
struct Link {
    bytes_per_sec: u64,
    up_free: Instant,
    down_free: Instant,
}

/// State shared by the proxy handle, its accept loop and its connections.
#[derive(Debug)]
struct Shared {
    plan: Mutex<FaultPlan>,
    target: Mutex<SocketAddr>,
    stats: Mutex<ProxyStats>,
    /// The rate limit, if any.
    link: Mutex<Option<Link>>,
    /// Finished request/response exchanges, when recording.
    exchanges: Mutex<Option<Vec<Exchange>>>,
}

/// Locks `m`, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, ProxyStats> {
        lock(&self.stats)
    }

    fn count_fault(&self, fault: &Fault) {
        let mut s = self.stats();
        match fault {
            Fault::Pass => return,
            Fault::Cut { .. } => s.cut += 1,
            Fault::Reset { .. } => s.reset += 1,
            Fault::Stall { .. } => s.stalled += 1,
            Fault::Truncate { .. } => s.truncated += 1,
            Fault::Refuse => s.refused += 1,
        }
        s.faults += 1;
    }

    /// Reserves the link for `n` bytes in `dir`; returns when they will have gone through, or
    /// `None` without a rate limit.
    fn reserve(&self, dir: Direction, n: usize) -> Option<Instant> {
        let mut link = lock(&self.link);
        let link = link.as_mut()?;
        let rate = link.bytes_per_sec.max(1) as f64;
        let free = match dir {
            Direction::Upstream => &mut link.up_free,
            Direction::Downstream => &mut link.down_free,
        };
        let done = (*free).max(Instant::now()) + Duration::from_secs_f64(n as f64 / rate);
        *free = done;
        Some(done)
    }

    /// The largest piece forwarded at once: about 50 ms of the link, so that pacing is smooth.
    fn piece(&self) -> usize {
        lock(&self.link).as_ref().map_or(BUF_SIZE, |l| {
            (l.bytes_per_sec as usize / 20).clamp(64, BUF_SIZE)
        })
    }

    fn record_exchange(&self, done: Exchange) {
        if let Some(v) = lock(&self.exchanges).as_mut() {
            v.push(done);
        }
    }
}

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
struct ExchangeClock {
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
    fn saw(&mut self, dir: Direction, bytes: &[u8]) -> Option<Exchange> {
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
    fn finish(&mut self) -> Option<Exchange> {
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

/// A running fault-injecting proxy on `127.0.0.1`. Dropping it aborts its accept loop and every
/// live connection; [`FaultProxy::stop`] does the same and waits until the port is free.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `target` under `plan`.
    pub async fn start(target: SocketAddr, plan: FaultPlan) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            plan: Mutex::new(plan),
            target: Mutex::new(target),
            stats: Mutex::new(ProxyStats::default()),
            link: Mutex::new(None),
            exchanges: Mutex::new(None),
        });
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), rx));
        Ok(FaultProxy {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the plan; it applies to connections accepted afterwards (pooled keep-alive
    /// connections keep the fault they were given).
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
    }

    /// Forwards connections accepted afterwards to `target` (e.g. a relay restarted on another
    /// port).
    pub fn set_target(&self, target: SocketAddr) {
        *lock(&self.shared.target) = target;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        *self.shared.stats()
    }

    /// Limits the link to `bytes_per_sec` in each direction, shared by every connection (live
    /// ones included), or lifts the limit with `None`. Bytes are forwarded in pieces of about
    /// 50 ms of the link, each once the link would have carried it.
    pub fn set_rate_limit(&self, bytes_per_sec: Option<u64>) {
        *lock(&self.shared.link) = bytes_per_sec.map(|rate| {
            let now = Instant::now();
            Link {
                bytes_per_sec: rate.max(1),
                up_free: now,
                down_free: now,
            }
        });
    }

    /// Starts (or restarts, dropping what was recorded) recording HTTP/1.1 exchanges on every
    /// connection: request line, bytes each way, and the time from the first byte of a request
    /// to the last byte of its response. An exchange whose response never came is not
    /// recorded; one is recorded when the next request on its connection starts or the
    /// connection ends.
    pub fn record_exchanges(&self) {
        *lock(&self.shared.exchanges) = Some(Vec::new());
    }

    /// The exchanges recorded so far, leaving the recording on and empty.
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        lock(&self.shared.exchanges)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Stops accepting, aborts every live connection and waits until the listening port is
    /// released.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Dropping the accept loop drops its JoinSet, which aborts every connection task.
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let fault = lock(&shared.plan).next_fault();
                    shared.stats().connections += 1;
                    conns.spawn(serve(client, fault, Arc::clone(&shared)));
                }
                // Out of file descriptors or a similar transient error: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// How one direction's pump ended.
enum Pumped {
    /// The source closed cleanly; the close was passed on.
    Eof,
    /// A read or write failed.
    Failed,
    /// More than the allowed bytes arrived: the fault fires.
    Limit,
}

/// Copies `src` to `dst`, forwarding at most `limit` bytes; counts forwarded bytes in `stats`,
/// paces them under a rate limit and tells `clock` when they passed.
async fn pump(
    src: &mut OwnedReadHalf,
    dst: &mut OwnedWriteHalf,
    limit: Option<usize>,
    dir: Direction,
    shared: &Shared,
    clock: &Mutex<ExchangeClock>,
) -> Pumped {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut sent = 0usize;
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) => {
                let _ = dst.shutdown().await;
                return Pumped::Eof;
            }
            Ok(n) => n,
            Err(_) => return Pumped::Failed,
        };
        let allowed = match limit {
            Some(limit) => n.min(limit.saturating_sub(sent)),
            None => n,
        };
        let mut at = 0;
        while at < allowed {
            let len = (allowed - at).min(shared.piece());
            if let Some(done) = shared.reserve(dir, len) {
                tokio::time::sleep_until(done.into()).await;
            }
            if dst.write_all(&buf[at..at + len]).await.is_err() {
                return Pumped::Failed;
            }
            let done = lock(clock).saw(dir, &buf[at..at + len]);
            if let Some(done) = done {
                shared.record_exchange(done);
            }
            at += len;
            sent += len;
            let mut stats = shared.stats();
            match dir {
                Direction::Upstream => stats.bytes_up += len as u64,
                Direction::Downstream => stats.bytes_down += len as u64,
            }
        }
        if allowed < n {
            return Pumped::Limit;
        }
    }
}

/// Reads and discards from `r` until end of stream, an error or the drain timeout.
async fn drain(r: &mut OwnedReadHalf) {
    let mut buf = vec![0u8; BUF_SIZE];
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Serves one accepted connection under `fault`.
async fn serve(client: TcpStream, fault: Fault, shared: Arc<Shared>) {
    if fault == Fault::Refuse {
        shared.count_fault(&fault);
        drop(client);
        return;
    }
    let target = *lock(&shared.target);
    let server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(server)) => server,
        // The target is down: dropping the client closes it at once.
        _ => return,
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();

    let trigger = fault.trigger();
    let limit = |d: Direction| trigger.and_then(|(dir, after)| (dir == d).then_some(after));
    let clock = Mutex::new(ExchangeClock::default());
    let fired = {
        let up = pump(
            &mut client_r,
            &mut server_w,
            limit(Direction::Upstream),
            Direction::Upstream,
            &shared,
            &clock,
        );
        let down = pump(
            &mut server_r,
            &mut client_w,
            limit(Direction::Downstream),
            Direction::Downstream,
            &shared,
            &clock,
        );
        tokio::pin!(up, down);
        let (mut up_open, mut down_open) = (true, true);
        loop {
            let ended = tokio::select! {
                r = &mut up, if up_open => { up_open = false; r }
                r = &mut down, if down_open => { down_open = false; r }
            };
            match ended {
                Pumped::Limit => break true,
                Pumped::Failed => break false,
                Pumped::Eof if !up_open && !down_open => break false,
                Pumped::Eof => {}
            }
        }
    };
    let done = lock(&clock).finish();
    if let Some(done) = done {
        shared.record_exchange(done);
    }
    if !fired {
        return;
    }
    shared.count_fault(&fault);
    match fault {
        Fault::Reset { .. } => {
            // Closing with a zero linger sends RST instead of FIN. `forget` keeps the write
            // halves from sending a FIN (shutdown on drop) before the RST.
            let _ = client_r.as_ref().set_zero_linger();
            let _ = server_r.as_ref().set_zero_linger();
            client_w.forget();
            server_w.forget();
            drop((client_r, server_r));
        }
        Fault::Stall { for_, .. } => {
            tokio::time::sleep(for_).await;
            close_cleanly(client_r, client_w, server_r, server_w).await;
        }
        _ => close_cleanly(client_r, client_w, server_r, server_w).await,
    }
}

/// Sends FIN to both peers, then discards what they still send until they close too.
async fn close_cleanly(
    mut client_r: OwnedReadHalf,
    mut client_w: OwnedWriteHalf,
    mut server_r: OwnedReadHalf,
    mut server_w: OwnedWriteHalf,
) {
    let _ = client_w.shutdown().await;
    let _ = server_w.shutdown().await;
    tokio::join!(drain(&mut client_r), drain(&mut server_r));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_then_another_plan() {
        let then = Fault::Truncate { after: 3 };
        let plan = FaultPlan::schedule_then(vec![Fault::Refuse], FaultPlan::always(then));
        assert_eq!(plan.preview(3), vec![Fault::Refuse, then, then]);
    }
}
