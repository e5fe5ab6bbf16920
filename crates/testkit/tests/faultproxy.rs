//! Tests of the fault-injecting proxy against a tokio echo server, a byte recorder and a tiny
//! HTTP/1.1 responder, all on 127.0.0.1:0.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidemark_testkit::faultproxy::{Direction, Fault, FaultPlan, FaultProxy, ProxyStats};
use tidemark_testkit::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound for anything a test waits for.
const PATIENCE: Duration = Duration::from_secs(5);

/// A server that aborts its task (and so its listener) when dropped.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Echoes every connection until the client half-closes, then closes.
async fn echo_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = listener.local_addr().expect("echo addr");
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let (mut r, mut w) = stream.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    Server { addr, task }
}

/// Reads every connection to its end and reports (bytes read, how the stream ended).
async fn recorder_server() -> (Server, mpsc::UnboundedReceiver<(usize, Option<ErrorKind>)>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind recorder");
    let addr = listener.local_addr().expect("recorder addr");
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            conns.spawn(async move {
                let (data, end) = read_to_end(&mut stream).await;
                let _ = tx.send((data.len(), end));
            });
        }
    });
    (Server { addr, task }, rx)
}

/// The body of every response of the HTTP responder; each response is 66 bytes in all.
const BODY: &[u8] = b"0123456789abcdef";
fn http_response() -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Pad: xx\r\n\r\n",
        BODY.len()
    )
    .into_bytes();
    r.extend_from_slice(BODY);
    r
}

/// A keep-alive HTTP/1.1 responder for body-less requests; counts the requests it has read in
/// full.
async fn http_responder() -> (Server, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let addr = listener.local_addr().expect("http addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            conns.spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        counter.fetch_add(1, Ordering::SeqCst);
                        if stream.write_all(&http_response()).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    (Server { addr, task }, requests)
}

/// Reads until end of stream or an error: the bytes read and the error, if any.
async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let end = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return None,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Some(e.kind()),
            }
        }
    })
    .await
    .expect("the stream ends in time");
    (out, end)
}

/// Deterministic pseudo-random bytes.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    TcpStream::connect(proxy.addr())
        .await
        .expect("connect to proxy")
}

/// Sends `data` through `proxy` to the echo server and reads what comes back.
async fn echo_through(proxy: &FaultProxy, data: &[u8]) -> (Vec<u8>, Option<ErrorKind>) {
    let mut stream = connect(proxy).await;
    let _ = stream.write_all(data).await;
    read_to_end(&mut stream).await
}

#[tokio::test]
async fn pass_forwards_large_payload_both_ways() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, FaultPlan::pass())
        .await
        .expect("start");
    assert!(proxy.url().starts_with("http://127.0.0.1:"));
    assert_eq!(proxy.url(), format!("http://{}", proxy.addr()));
    let data = payload(1, 4 << 20);
    let stream = connect(&proxy).await;
    let (mut r, mut w) = stream.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.expect("write payload");
        w.shutdown().await.expect("half-close");
    });
    let mut back = Vec::new();
    tokio::time::timeout(PATIENCE, r.read_to_end(&mut back))
        .await
        .expect("echo in time")
        .expect("read echo");
    writer.await.expect("writer");
    assert!(back == data, "the echo differs from what was sent");
    let stats = proxy.stats();
    assert_eq!(
        stats,
        ProxyStats {
            connections: 1,
            bytes_up: data.len() as u64,
            bytes_down: data.len() as u64,
            ..ProxyStats::default()
        }
    );
    proxy.stop().await;
}

#[tokio::test]
async fn cut_downstream_at_offset() {
    let echo = echo_server().await;
    let fault = Fault::Cut {
        dir: Direction::Downstream,
        after: 37,
    };
    let proxy = FaultProxy::start(echo.addr, FaultPlan::always(fault))
        .await
        .expect("start");
    let data = payload(2, 1000);
    let (got, end) = echo_through(&proxy, &data).await;
    assert_eq!(got, data[..37]);
    assert_eq!(end, None, "a cut is a clean close");
    let stats = proxy.stats();
    assert_eq!((stats.cut, stats.faults, stats.bytes_down), (1, 1, 37));
    proxy.stop().await;
}

#[tokio::test]
async fn cut_upstream_at_offset() {
    let (target, mut seen) = recorder_server().await;
    let fault = Fault::Cut {
        dir: Direction::Upstream,
        after: 100,
    };
    let proxy = FaultProxy::start(target.addr, FaultPlan::always(fault))
        .await
        .expect("start");
    let (got, end) = echo_through(&proxy, &payload(3, 1000)).await;
    assert!(got.is_empty());
    assert_eq!(end, None, "a cut is a clean close");
    let (n, server_end) = tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("recorder in time")
        .expect("recorder report");
    assert_eq!((n, server_end), (100, None));
    assert_eq!(proxy.stats().bytes_up, 100);
    proxy.stop().await;
}

#[tokio::test]
async fn reset_downstream_at_offset() {
    let echo = echo_server().await;
    let fault = Fault::Reset {
        dir: Direction::Downstream,
        after: 11,
    };
    let proxy = FaultProxy::start(echo.addr, FaultPlan::always(fault))
        .await
        .expect("start");
    let data = payload(4, 500);
    let (got, end) = echo_through(&proxy, &data).await;
    assert_eq!(got, data[..11]);
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    let stats = proxy.stats();
    assert_eq!((stats.reset, stats.faults, stats.bytes_down), (1, 1, 11));
    proxy.stop().await;
}

#[tokio::test]
async fn reset_upstream_at_offset() {
    let (target, mut seen) = recorder_server().await;
    let fault = Fault::Reset {
        dir: Direction::Upstream,
        after: 64,
    };
    let proxy = FaultProxy::start(target.addr, FaultPlan::always(fault))
        .await
        .expect("start");
    let (got, end) = echo_through(&proxy, &payload(5, 1000)).await;
    assert!(got.is_empty());
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    let report = tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("recorder in time")
        .expect("recorder report");
    assert_eq!(report, (64, Some(ErrorKind::ConnectionReset)));
    proxy.stop().await;
}

#[tokio::test]
async fn stall_hangs_then_closes() {
    let echo = echo_server().await;
    let stall = Duration::from_millis(300);
    let fault = Fault::Stall {
        dir: Direction::Downstream,
        after: 10,
        for_: stall,
    };
    let proxy = FaultProxy::start(echo.addr, FaultPlan::always(fault))
        .await
        .expect("start");
    let data = payload(6, 200);
    let started = Instant::now();
    let (got, end) = echo_through(&proxy, &data).await;
    let elapsed = started.elapsed();
    assert_eq!(got, data[..10]);
    assert_eq!(end, None);
    assert!(
        elapsed >= stall,
        "closed after {elapsed:?}, before the stall ended"
    );
    assert!(elapsed < stall + Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(proxy.stats().stalled, 1);
    proxy.stop().await;
}

#[tokio::test]
async fn truncate_lands_mid_stream_on_a_keep_alive_connection() {
    let (http, requests) = http_responder().await;
    let response = http_response();
    assert_eq!(response.len(), 66);
    let proxy = FaultProxy::start(http.addr, FaultPlan::always(Fault::Truncate { after: 152 }))
        .await
        .expect("start");
    let request = b"GET /sync HTTP/1.1\r\nHost: relay\r\n\r\n";
    let mut stream = connect(&proxy).await;
    for _ in 0..2 {
        stream.write_all(request).await.expect("request");
        let mut full = vec![0u8; response.len()];
        tokio::time::timeout(PATIENCE, stream.read_exact(&mut full))
            .await
            .expect("response in time")
            .expect("full response");
        assert_eq!(full, response);
    }
    stream.write_all(request).await.expect("third request");
    let (got, end) = read_to_end(&mut stream).await;
    assert_eq!(got, response[..20]);
    assert_eq!(end, None, "a truncation is a clean close");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    let stats = proxy.stats();
    assert_eq!((stats.truncated, stats.bytes_down), (1, 152));
    assert_eq!(stats.bytes_up, 3 * request.len() as u64);
    proxy.stop().await;
}

#[tokio::test]
async fn truncate_at_zero_still_delivers_the_request() {
    let (http, requests) = http_responder().await;
    let proxy = FaultProxy::start(http.addr, FaultPlan::always(Fault::Truncate { after: 0 }))
        .await
        .expect("start");
    let mut stream = connect(&proxy).await;
    stream
        .write_all(b"POST /sync HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .expect("request");
    let (got, end) = read_to_end(&mut stream).await;
    assert!(got.is_empty());
    assert_eq!(end, None);
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the relay saw the request"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn refuse_closes_at_once_without_reaching_the_target() {
    let (http, requests) = http_responder().await;
    let proxy = FaultProxy::start(http.addr, FaultPlan::always(Fault::Refuse))
        .await
        .expect("start");
    let mut stream = connect(&proxy).await;
    let (got, end) = read_to_end(&mut stream).await;
    assert!(got.is_empty());
    assert_eq!(end, None);
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    let stats = proxy.stats();
    assert_eq!((stats.connections, stats.refused, stats.faults), (1, 1, 1));
    proxy.stop().await;
}

#[tokio::test]
async fn schedule_then_pass_and_stats_count() {
    let echo = echo_server().await;
    let down = Direction::Downstream;
    let faults = vec![
        Fault::Cut {
            dir: down,
            after: 5,
        },
        Fault::Reset {
            dir: down,
            after: 5,
        },
        Fault::Stall {
            dir: down,
            after: 5,
            for_: Duration::from_millis(20),
        },
        Fault::Truncate { after: 5 },
        Fault::Refuse,
    ];
    let plan = FaultPlan::schedule(faults.clone());
    let mut expected = faults.clone();
    expected.extend([Fault::Pass, Fault::Pass]);
    assert_eq!(plan.preview(7), expected);
    let proxy = FaultProxy::start(echo.addr, plan).await.expect("start");
    let data = payload(7, 100);
    for (i, fault) in expected.iter().enumerate() {
        let mut stream = connect(&proxy).await;
        stream.write_all(&data).await.expect("write");
        if *fault == Fault::Pass {
            stream.shutdown().await.expect("half-close");
        }
        let (got, _) = read_to_end(&mut stream).await;
        let want = match fault {
            Fault::Pass => 100,
            Fault::Refuse => 0,
            _ => 5,
        };
        assert_eq!(got, data[..want], "connection {i} ({fault:?})");
    }
    assert_eq!(
        proxy.stats(),
        ProxyStats {
            connections: 7,
            faults: 5,
            cut: 1,
            reset: 1,
            stalled: 1,
            truncated: 1,
            refused: 1,
            bytes_up: 6 * 100,
            bytes_down: 4 * 5 + 2 * 100,
        }
    );
    proxy.stop().await;
}

#[tokio::test]
async fn random_plan_is_deterministic_and_near_its_rate() {
    let stall = Duration::from_millis(5);
    let plan = FaultPlan::random(42, 0.3, 64, stall);
    let faults = plan.preview(200);
    assert_eq!(faults, FaultPlan::random(42, 0.3, 64, stall).preview(200));
    assert_ne!(faults, FaultPlan::random(43, 0.3, 64, stall).preview(200));
    assert!(FaultPlan::random(42, 0.0, 64, stall)
        .preview(200)
        .iter()
        .all(|f| *f == Fault::Pass));
    assert!(FaultPlan::random(42, 1.0, 64, stall)
        .preview(200)
        .iter()
        .all(|f| *f != Fault::Pass));
    for f in &faults {
        let after = match *f {
            Fault::Cut { after, .. } | Fault::Reset { after, .. } => after,
            Fault::Stall { after, for_, .. } => {
                assert_eq!(for_, stall);
                after
            }
            Fault::Truncate { after } => after,
            Fault::Pass | Fault::Refuse => 0,
        };
        assert!(after < 64);
    }
    let count = |pred: fn(&Fault) -> bool| faults.iter().filter(|f| pred(f)).count() as u64;
    let faulted = count(|f| *f != Fault::Pass);
    assert!(
        (40..=80).contains(&faulted),
        "{faulted} faults of 200 at rate 0.3"
    );
    for kind in [
        count(|f| matches!(f, Fault::Cut { .. })),
        count(|f| matches!(f, Fault::Reset { .. })),
        count(|f| matches!(f, Fault::Stall { .. })),
        count(|f| matches!(f, Fault::Truncate { .. })),
        count(|f| matches!(f, Fault::Refuse)),
    ] {
        assert!(kind > 0, "every fault kind is drawn");
    }

    // Every connection carries more than max_offset bytes each way, so every fault fires.
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, plan).await.expect("start");
    let data = payload(8, 200);
    for _ in 0..200 {
        let mut stream = connect(&proxy).await;
        let _ = stream.write_all(&data).await;
        let _ = stream.shutdown().await;
        let _ = read_to_end(&mut stream).await;
    }
    let stats = proxy.stats();
    assert_eq!(stats.connections, 200);
    assert_eq!(stats.faults, faulted);
    assert_eq!(stats.cut, count(|f| matches!(f, Fault::Cut { .. })));
    assert_eq!(stats.reset, count(|f| matches!(f, Fault::Reset { .. })));
    assert_eq!(stats.stalled, count(|f| matches!(f, Fault::Stall { .. })));
    assert_eq!(
        stats.truncated,
        count(|f| matches!(f, Fault::Truncate { .. }))
    );
    assert_eq!(stats.refused, count(|f| matches!(f, Fault::Refuse)));
    proxy.stop().await;
}

#[tokio::test]
async fn set_plan_applies_to_new_connections() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, FaultPlan::pass())
        .await
        .expect("start");
    let mut kept = connect(&proxy).await;
    kept.write_all(b"ping").await.expect("write");
    let mut buf = [0u8; 4];
    kept.read_exact(&mut buf).await.expect("echo");
    proxy.set_plan(FaultPlan::always(Fault::Refuse));
    let (got, _) = echo_through(&proxy, b"hello").await;
    assert!(got.is_empty(), "a new connection is refused");
    // The connection accepted before the change keeps passing.
    kept.write_all(b"pong").await.expect("write");
    kept.read_exact(&mut buf).await.expect("echo");
    assert_eq!(&buf, b"pong");
    proxy.stop().await;
}

#[tokio::test]
async fn target_down_closes_client_promptly_and_set_target_recovers() {
    let gone = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gone_addr = gone.local_addr().expect("addr");
    drop(gone);
    let proxy = FaultProxy::start(gone_addr, FaultPlan::pass())
        .await
        .expect("start");
    let started = Instant::now();
    let mut stream = connect(&proxy).await;
    let (got, _) = read_to_end(&mut stream).await;
    assert!(got.is_empty());
    assert!(started.elapsed() < Duration::from_secs(1));

    let echo = echo_server().await;
    proxy.set_target(echo.addr);
    let mut stream = connect(&proxy).await;
    stream.write_all(b"back").await.expect("write");
    stream.shutdown().await.expect("half-close");
    let (got, end) = read_to_end(&mut stream).await;
    assert_eq!((got.as_slice(), end), (&b"back"[..], None));
    proxy.stop().await;
}

#[tokio::test]
async fn stop_aborts_live_connections_and_frees_the_port() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, FaultPlan::pass())
        .await
        .expect("start");
    let addr = proxy.addr();
    let mut live = connect(&proxy).await;
    live.write_all(b"ping").await.expect("write");
    let mut buf = [0u8; 4];
    live.read_exact(&mut buf).await.expect("echo");
    proxy.stop().await;
    let (got, _) = read_to_end(&mut live).await;
    assert!(got.is_empty(), "the live connection was closed");
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens");
    let again = TcpListener::bind(addr).await.expect("the port is free");
    drop(again);
}

#[tokio::test]
async fn drop_aborts_the_proxy() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, FaultPlan::pass())
        .await
        .expect("start");
    let mut live = connect(&proxy).await;
    drop(proxy);
    let (got, _) = read_to_end(&mut live).await;
    assert!(got.is_empty(), "the live connection was closed");
}

#[tokio::test]
async fn rate_limit_paces_both_directions_and_can_be_lifted() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr, FaultPlan::pass())
        .await
        .expect("start");
    // 6,000 bytes at 10,000 bytes/s: at least 0.6 s up, and the echo comes back paced too.
    proxy.set_rate_limit(Some(10_000));
    let data = payload(9, 6_000);
    let started = Instant::now();
    let (back, end) = echo_through_half_closed(&proxy, &data).await;
    let slow = started.elapsed();
    assert_eq!((back == data, end), (true, None));
    assert!(slow >= Duration::from_millis(550), "took {slow:?}");
    let stats = proxy.stats();
    assert_eq!((stats.bytes_up, stats.bytes_down), (6_000, 6_000));

    proxy.set_rate_limit(None);
    let started = Instant::now();
    let (back, _) = echo_through_half_closed(&proxy, &data).await;
    assert!(back == data);
    assert!(
        started.elapsed() < slow,
        "lifting the limit did not speed it up"
    );
    proxy.stop().await;
}

/// Sends `data` through `proxy` to the echo server, half-closes, and reads the echo.
async fn echo_through_half_closed(proxy: &FaultProxy, data: &[u8]) -> (Vec<u8>, Option<ErrorKind>) {
    let mut stream = connect(proxy).await;
    stream.write_all(data).await.expect("write");
    stream.shutdown().await.expect("half-close");
    read_to_end(&mut stream).await
}

#[tokio::test]
async fn exchanges_are_recorded_one_per_request_on_a_keep_alive_connection() {
    let (http, requests) = http_responder().await;
    let proxy = FaultProxy::start(http.addr, FaultPlan::pass())
        .await
        .expect("start");
    let request = b"GET /v1/feed?since=12 HTTP/1.1\r\nHost: relay\r\n\r\n";
    let response = http_response();
    // Not recording yet: nothing is kept.
    let mut stream = connect(&proxy).await;
    stream.write_all(request).await.expect("request");
    let mut full = vec![0u8; response.len()];
    stream.read_exact(&mut full).await.expect("response");
    drop(stream);
    proxy.record_exchanges();
    let mut stream = connect(&proxy).await;
    for _ in 0..3 {
        stream.write_all(request).await.expect("request");
        tokio::time::timeout(PATIENCE, stream.read_exact(&mut full))
            .await
            .expect("response in time")
            .expect("full response");
    }
    // The third exchange ends when the connection does.
    drop(stream);
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < 3 && Instant::now() < deadline {
        got.extend(proxy.take_exchanges());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got.len(), 3, "{got:?}");
    for x in &got {
        assert_eq!(x.request, "GET /v1/feed");
        assert_eq!(
            (x.up, x.down),
            (request.len() as u64, response.len() as u64)
        );
        assert!(x.took < PATIENCE);
    }
    assert_eq!(requests.load(Ordering::SeqCst), 4);
    proxy.stop().await;
}
