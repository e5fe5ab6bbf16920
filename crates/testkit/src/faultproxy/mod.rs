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

mod exchanges;
mod plan;

pub use exchanges::Exchange;
use exchanges::ExchangeClock;
pub use plan::{Direction, Fault, FaultPlan};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// How long the proxy waits for the target to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a clean close keeps reading (and discarding) what the peers still send, so that
/// closing does not turn into a reset because of unread data.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Read buffer per direction.
const BUF_SIZE: usize = 16 * 1024;

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
