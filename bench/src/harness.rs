//! The province on loopback for the benchmarks: the relay (a child process running the relay
//! library, or in-process for tests), a byte-counting proxy in front of it (the testkit fault
//! proxy with no faults, on its own runtime so that busy devices never delay it), and enrolled
//! device stores.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use tidemark_client::sync::{self, SharedClient, SyncError, SyncOptions, SyncReport};
use tidemark_client::Client;
use tidemark_sync_server::db::Db;
use tidemark_sync_server::{EmbeddedRelay, Settings};
use tidemark_testkit::faultproxy::{Exchange, FaultPlan, FaultProxy, ProxyStats};

use crate::workload::HQ;

/// Where the relay runs.
#[derive(Debug, Clone)]
pub enum RelayMode {
    /// In this process (tests).
    InProcess,
    /// In a child process: this executable with the `__relay` argument, so that its memory is
    /// its own.
    Child(PathBuf),
}

/// The relay's settings for the benchmarks: the defaults and any `TIDEMARK_*` variables, as
/// `tidemark-server` reads them, on `127.0.0.1:0` and without the per-address limits on
/// enrolments and failed logins (every simulated device shares one address).
pub fn relay_settings(data_dir: &Path) -> Settings {
    let base = Settings::load(None, |k| std::env::var(k).ok()).unwrap_or_default();
    Settings {
        data_dir: data_dir.to_path_buf(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_enrolments_per_minute: 0,
        max_failed_auth_per_minute: 0,
        ..base
    }
}

enum Inner {
    Embedded(Box<EmbeddedRelay>),
    Child(Child),
}

/// A running relay.
pub struct Relay {
    /// Its base URL.
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    db_path: PathBuf,
    inner: Option<Inner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("url", &self.url)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Relay {
    /// Starts a relay with its database under `dir` and adds the province's units: HQ as the
    /// root and every other unit under it.
    pub async fn start(dir: &Path, mode: &RelayMode) -> Result<Relay> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let settings = relay_settings(dir);
        let db_path = settings.database_path();
        let relay = match mode {
            RelayMode::InProcess => {
                let r = EmbeddedRelay::start_with(settings)
                    .await
                    .map_err(|e| anyhow!("starting the relay: {e}"))?;
                Relay {
                    url: r.url.clone(),
                    addr: r.addr,
                    db_path,
                    inner: Some(Inner::Embedded(Box::new(r))),
                }
            }
            RelayMode::Child(exe) => {
                let mut child = Command::new(exe)
                    .arg("__relay")
                    .arg(dir)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .with_context(|| format!("starting {} __relay", exe.display()))?;
                let out = child
                    .stdout
                    .take()
                    .ok_or_else(|| anyhow!("relay child has no stdout"))?;
                let mut line = String::new();
                BufReader::new(out).read_line(&mut line)?;
                let addr: SocketAddr = match line.trim().strip_prefix("listening ") {
                    Some(a) => a.parse()?,
                    None => {
                        let _ = child.kill();
                        bail!("the relay child did not start");
                    }
                };
                Relay {
                    url: format!("http://{addr}"),
                    addr,
                    db_path,
                    inner: Some(Inner::Child(child)),
                }
            }
        };
        relay.add_units()?;
        Ok(relay)
    }

    /// Admin access to the relay's database.
    pub fn db(&self) -> Result<Db> {
        Db::open(&self.db_path).map_err(|e| anyhow!("opening the relay database: {e}"))
    }

    fn add_units(&self) -> Result<()> {
        let db = self.db()?;
        db.add_unit(HQ, None)
            .map_err(|e| anyhow!("adding HQ: {e}"))?;
        for (_, name, _, _) in tidemark_testkit::UNITS.iter().filter(|u| u.1 != HQ) {
            db.add_unit(name, Some(HQ))
                .map_err(|e| anyhow!("adding a unit: {e}"))?;
        }
        Ok(())
    }

    /// A one-time enrolment code for a new device of `unit`.
    pub fn enrolment_code(&self, unit: &str, device: &str) -> Result<String> {
        let ttl = 24 * 3600;
        Ok(self
            .db()?
            .create_enrolment(unit, device, ttl)
            .map_err(|e| anyhow!("enrolment code: {e}"))?
            .1)
    }

    /// The relay's unlabelled counters from its `/metrics`, asked directly (not through a
    /// wire, so that the question is not in the figures).
    pub async fn counters(&self) -> Result<std::collections::BTreeMap<String, f64>> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(counters(&text))
    }

    /// The relay's process id when it runs as a child.
    pub fn pid(&self) -> Option<u32> {
        match &self.inner {
            Some(Inner::Child(c)) => Some(c.id()),
            _ => None,
        }
    }

    /// Stops the relay: the child gets end-of-input and shuts down gracefully (killed after
    /// 10 s).
    pub async fn stop(mut self) -> Result<()> {
        match self.inner.take() {
            Some(Inner::Embedded(r)) => r.stop().await.map_err(|e| anyhow!("stopping: {e}")),
            Some(Inner::Child(mut c)) => {
                drop(c.stdin.take());
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if c.try_wait()?.is_some() {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                c.kill()?;
                c.wait()?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(Inner::Child(mut c)) = self.inner.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Bytes on the socket, as the proxy counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Socket {
    /// Client to relay.
    pub up: u64,
    /// Relay to client.
    pub down: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Faults that fired.
    pub faults: u64,
}

impl Socket {
    fn of(s: ProxyStats) -> Socket {
        Socket {
            up: s.bytes_up,
            down: s.bytes_down,
            connections: s.connections,
            faults: s.faults,
        }
    }

    /// What happened after `before`.
    pub fn since(self, before: Socket) -> Socket {
        Socket {
            up: self.up - before.up,
            down: self.down - before.down,
            connections: self.connections - before.connections,
            faults: self.faults - before.faults,
        }
    }

    /// Both directions.
    pub fn total(&self) -> u64 {
        self.up + self.down
    }
}

/// The link between the devices and the relay: the testkit proxy, counting bytes, on a
/// runtime of its own.
pub struct Wire {
    proxy: Option<FaultProxy>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").field("proxy", &self.proxy).finish()
    }
}

impl Wire {
    /// A pass-through proxy to `relay`.
    pub async fn start(relay: SocketAddr) -> Result<Wire> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-wire")
            .enable_all()
            .build()?;
        let proxy = runtime
            .spawn(FaultProxy::start(relay, FaultPlan::pass()))
            .await??;
        Ok(Wire {
            proxy: Some(proxy),
            runtime: Some(runtime),
        })
    }

    /// The proxy.
    pub fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .unwrap_or_else(|| unreachable!("the proxy lives as long as the wire"))
    }

    /// The URL devices use.
    pub fn url(&self) -> String {
        self.proxy().url()
    }

    /// The counters now.
    pub fn socket(&self) -> Socket {
        Socket::of(self.proxy().stats())
    }

    /// Starts recording HTTP exchanges afresh.
    pub fn record(&self) {
        self.proxy().record_exchanges();
    }

    /// The exchanges recorded since [`Wire::record`], once the connections that carried them
    /// have closed (an exchange is complete only when the next request starts or the
    /// connection ends): at least `expected` of them, then until 50 ms pass with nothing new, or
    /// a second in all.
    pub async fn exchanges(&self, expected: usize) -> Vec<Exchange> {
        let mut got = Vec::new();
        let mut quiet = 0;
        for _ in 0..100 {
            let more = self.proxy().take_exchanges();
            quiet = if more.is_empty() { quiet + 1 } else { 0 };
            got.extend(more);
            if got.len() >= expected && quiet >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        got
    }
}

/// The samples of a Prometheus text exposition, by name, labels included as written
/// (`tidemark_db_commit_seconds_bucket{le="0.05"}`).
pub fn counters(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Exchanges grouped by request line: (request, count, bytes up, bytes down), in order of
/// first appearance.
pub fn by_request(exchanges: &[Exchange]) -> Vec<(String, usize, u64, u64)> {
    let mut out: Vec<(String, usize, u64, u64)> = Vec::new();
    for x in exchanges {
        match out.iter_mut().find(|r| r.0 == x.request) {
            Some(r) => {
                r.1 += 1;
                r.2 += x.up;
                r.3 += x.down;
            }
            None => out.push((x.request.clone(), 1, x.up, x.down)),
        }
    }
    out
}

impl Drop for Wire {
    fn drop(&mut self) {
        drop(self.proxy.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One enrolled device.
#[derive(Debug)]
pub struct Device {
    /// Its unit.
    pub unit: String,
    /// Its store's directory.
    pub dir: PathBuf,
    /// The open store.
    pub client: SharedClient,
}

impl Device {
    /// Creates a store in `dir` for `unit` and enrols it with `relay`, syncing through `url`.
    pub async fn enrol(
        relay: &Relay,
        url: &str,
        dir: &Path,
        unit: &str,
        user: &str,
    ) -> Result<Device> {
        Device::enrol_with(relay, url, dir, unit, user, None).await
    }

    /// Like [`Device::enrol`], with the store encrypted under `pass` when given.
    pub async fn enrol_with(
        relay: &Relay,
        url: &str,
        dir: &Path,
        unit: &str,
        user: &str,
        pass: Option<&tidemark_client::Passphrase>,
    ) -> Result<Device> {
        let client = Client::init_with(dir, unit, user, pass)?;
        let client: SharedClient = Arc::new(Mutex::new(client));
        let code = relay.enrolment_code(unit, "máy thử tải")?;
        sync::enroll(&client, url, &code, Duration::from_secs(30))
            .await
            .map_err(|e| anyhow!("enrolling a device: {e}"))?;
        Ok(Device {
            unit: unit.to_string(),
            dir: dir.to_path_buf(),
            client,
        })
    }

    /// Runs `f` with the store locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Client) -> R) -> R {
        let mut c = self.client.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
    }

    /// One sync session.
    pub async fn sync(&self, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
        sync::sync_once(&self.client, opts, &|_| {}).await
    }

    /// Imports interchange lines; fails on any problem.
    pub fn import(&self, lines: &[String]) -> Result<usize> {
        let text = lines.join("\n");
        let report =
            self.with(|c| c.import_jsonl(std::io::Cursor::new(text.into_bytes()), &mut |_| {}))?;
        if let Some(p) = report.problems.first() {
            bail!(
                "{} import problems, the first on line {}: {}",
                report.problems.len(),
                p.line,
                p.reason
            );
        }
        Ok(report.created + report.updated)
    }
}

/// The sync options of every benchmark: the product's defaults, with a one-minute request
/// timeout (a province-year's first pull sends large replies).
pub fn bench_opts() -> SyncOptions {
    SyncOptions {
        request_timeout: Duration::from_secs(60),
        ..SyncOptions::default()
    }
}

/// A sync session measured on the socket.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The session's own report (bodies, requests, its wall time).
    pub report: SyncReport,
    /// Bytes on the socket during the session.
    pub socket: Socket,
    /// Wall time around the call.
    pub wall: Duration,
    /// The session's HTTP exchanges.
    pub exchanges: Vec<Exchange>,
}

/// Runs one session of `dev` and counts its bytes on `wire` (nothing else may use the wire
/// meanwhile).
pub async fn measured_sync(dev: &Device, wire: &Wire, opts: &SyncOptions) -> Result<Measured> {
    wire.record();
    let before = wire.socket();
    let started = Instant::now();
    let report = dev
        .sync(opts)
        .await
        .map_err(|e| anyhow!("sync failed: {} ({})", e.code, e.message))?;
    let wall = started.elapsed();
    let exchanges = wire.exchanges(report.wire.requests as usize).await;
    Ok(Measured {
        report,
        socket: wire.socket().since(before),
        wall,
        exchanges,
    })
}

/// Syncs the devices in order until a whole pass moves nothing (at most 5 passes); returns the
/// sessions run.
pub async fn settle(devices: &[&Device], opts: &SyncOptions) -> Result<Vec<SyncReport>> {
    let mut all = Vec::new();
    for _ in 0..5 {
        let mut moved = 0;
        for d in devices {
            let r = d
                .sync(opts)
                .await
                .map_err(|e| anyhow!("sync failed: {} ({})", e.code, e.message))?;
            moved += r.changes_sent + r.changes_received + r.created;
            all.push(r);
        }
        if moved == 0 {
            break;
        }
    }
    Ok(all)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::counters;

    #[test]
    fn counters_are_the_samples_of_an_exposition_by_name_and_labels() {
        let text = "# TYPE tidemark_requests_total counter\n\
                    tidemark_requests_total{route=\"/v1/session\",status=\"200\"} 12\n\
                    # TYPE tidemark_first_offers_made_total counter\n\
                    tidemark_first_offers_made_total 7\n\
                    tidemark_db_commits_total 1200\n\
                    tidemark_db_commit_seconds_bucket{le=\"0.05\"} 1197\n\
                    tidemark_db_commit_seconds_sum 0.4375\n\
                    not a counter\n";
        let c = counters(text);
        assert_eq!(c.len(), 5, "{c:?}");
        assert_eq!(c["tidemark_first_offers_made_total"], 7.0);
        assert_eq!(c["tidemark_db_commits_total"], 1200.0);
        assert_eq!(
            c["tidemark_requests_total{route=\"/v1/session\",status=\"200\"}"],
            12.0
        );
        assert_eq!(c["tidemark_db_commit_seconds_bucket{le=\"0.05\"}"], 1197.0);
        assert_eq!(c["tidemark_db_commit_seconds_sum"], 0.4375);
    }
}
