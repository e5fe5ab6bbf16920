//! The benchmark's child processes: the relay (`__relay DIR`), so that its memory and CPU are
//! its own, and a device's one pull (`__pull DIR`), so that its peak memory is the pull's alone.
//! Both are this executable started again with a hidden first argument.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use tidemark_client::sync::{self, SharedClient};
use tidemark_client::Client;
use tidemark_sync_server::db::Db;

use crate::harness::{bench_opts, relay_settings, RelayMode};
use crate::measure::{cpu_secs, peak_rss};

/// Serves a relay with its database in `dir` on `127.0.0.1:0`; prints `listening ADDR` on
/// stdout once bound, and stops gracefully when stdin ends (the parent closed it or died).
pub fn relay_main(dir: &Path) -> Result<()> {
    // As `tidemark-server` does.
    tidemark_sync_server::tune_process();
    let settings = relay_settings(dir);
    drop(Db::open(&settings.database_path()).map_err(|e| anyhow!("relay database: {e}"))?);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = stop.send(());
        });
        println!("listening {addr}");
        tidemark_sync_server::serve(listener, settings, async {
            let _ = stopped.await;
        })
        .await
        .map_err(|e| anyhow!("relay: {e}"))
    })
}

/// What one pull did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pull {
    /// HTTP round trips.
    pub requests: u64,
    /// Request bytes (bodies, as sent).
    pub bytes_up: u64,
    /// Response bytes (bodies, as received).
    pub bytes_down: u64,
    /// The session's wall time, ms.
    pub session_ms: u64,
    /// Opening the store, ms.
    pub open_ms: f64,
    /// Documents that took part.
    pub documents: usize,
    /// Changes received.
    pub changes_received: usize,
    /// Documents refused.
    pub refused: usize,
    /// Peak resident memory of the process that pulled, bytes.
    pub peak_rss: u64,
    /// CPU time of the process that pulled (user + system), seconds.
    pub cpu_secs: f64,
    /// Whether the figure is of a process that did only the pull (a child) or of the whole
    /// benchmark (in-process).
    pub own_process: bool,
}

async fn pull_here(dir: &Path) -> Result<Pull> {
    let started = Instant::now();
    let client = Client::open(dir)?;
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;
    let shared: SharedClient = Arc::new(Mutex::new(client));
    let r = sync::sync_once(&shared, &bench_opts(), &|_| {})
        .await
        .map_err(|e| anyhow!("pull failed: {} ({})", e.code, e.message))?;
    Ok(Pull {
        requests: r.wire.requests,
        bytes_up: r.wire.bytes_up,
        bytes_down: r.wire.bytes_down,
        session_ms: r.millis,
        open_ms,
        documents: r.documents,
        changes_received: r.changes_received,
        refused: r.refused.len(),
        peak_rss: peak_rss(None).unwrap_or(0),
        cpu_secs: cpu_secs(None).unwrap_or(0.0),
        own_process: false,
    })
}

/// `__pull DIR`: opens the enrolled store in `dir`, runs one session and prints its figures as
/// one JSON line.
pub fn pull_main(dir: &Path) -> Result<()> {
    // As the app and the `tidemark` command do.
    tidemark_client::tune_process();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut pull = runtime.block_on(pull_here(dir))?;
    pull.peak_rss = peak_rss(None).unwrap_or(0);
    pull.cpu_secs = cpu_secs(None).unwrap_or(0.0);
    pull.own_process = true;
    println!("{}", serde_json::to_string(&pull)?);
    Ok(())
}

/// One session of the store in `dir`: in a child process when the relay runs in one (so the
/// peak memory is the pull's own), else here.
pub async fn pull(dir: &Path, mode: &RelayMode) -> Result<Pull> {
    match mode {
        RelayMode::InProcess => pull_here(dir).await,
        RelayMode::Child(exe) => {
            let exe = exe.clone();
            let dir = dir.to_path_buf();
            let out = tokio::task::spawn_blocking(move || {
                Command::new(&exe)
                    .arg("__pull")
                    .arg(&dir)
                    .stdin(Stdio::null())
                    .stderr(Stdio::inherit())
                    .output()
            })
            .await?
            .context("starting the pulling child")?;
            if !out.status.success() {
                bail!("the pulling child failed ({})", out.status);
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .last()
                .ok_or_else(|| anyhow!("the pulling child printed nothing"))?;
            Ok(serde_json::from_str(line)?)
        }
    }
}
